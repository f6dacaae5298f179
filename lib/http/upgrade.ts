/**
 * {@linkcode upgrade}: a connection taken out of netio's `serve()` for another protocol, after
 * `101 Switching Protocols`.
 *
 * @module
 */

import type { TcpStream } from "../net/stream.ts";
import { checkObject } from "../_validate.ts";
import { ENCODER } from "./_bytes.ts";
import { ServeRequest } from "./_serve_request.ts";
import { upgrades } from "./_serve_response.ts";

export function upgradeHead(headers: [string, string][]): Uint8Array {
  let head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n";
  for (const [name, value] of headers) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(`invalid upgrade header ${JSON.stringify(name)}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return ENCODER.encode(head + "\r\n");
}

/** Options of {@linkcode upgrade}. */
export interface UpgradeOptions {
  /** The `Upgrade` value of the 101; default the request's own `Upgrade` header. */
  protocol?: string;
  /** More headers for the 101 (e.g. `Sec-WebSocket-Accept`). */
  headers?: HeadersInit;
}

/** What {@linkcode upgrade} gives: the response to return, and the connection after it. */
export interface Upgrade {
  /** Return this from the handler: netio answers `101 Switching Protocols` for it. */
  response: Response;
  /** The raw connection, once the 101 is written; yours to read, write and close. */
  connection: Promise<TcpStream>;
}

/**
 * Takes a connection out of the HTTP server for another protocol: return `response` from the
 * handler, and `connection` resolves with the raw {@linkcode TcpStream} right after the
 * `101 Switching Protocols` (with `Connection: Upgrade` and the `Upgrade` protocol) is written.
 * Only for requests of netio's {@linkcode serve}. A websocket request whose handler does not
 * call it is answered 501.
 *
 * @example
 * ```ts ignore
 * import { serve, upgrade } from "./mod.ts";
 *
 * serve((request) => {
 *   const { response, connection } = upgrade(request, { protocol: "echo" });
 *   connection.then(async (stream) => {
 *     const buf = new Uint8Array(1024);
 *     for (let n; (n = await stream.read(buf)) !== null;) await stream.writeAll(buf.subarray(0, n));
 *     stream.close();
 *   });
 *   return response;
 * });
 * ```
 */
export function upgrade(request: Request, options: UpgradeOptions = {}): Upgrade {
  if (!((request as unknown) instanceof ServeRequest)) {
    throw new TypeError("upgrade() takes a request of netio's serve()");
  }
  checkObject(options, "upgrade options");
  const protocol = options.protocol ?? request.headers.get("upgrade");
  if (protocol === null || protocol === "") {
    throw new TypeError("upgrade(): the request has no Upgrade header and no protocol was given");
  }
  const headers: [string, string][] = [["Upgrade", protocol]];
  for (const pair of new Headers(options.headers)) headers.push(pair);
  let resolve!: (stream: TcpStream) => void;
  let reject!: (error: unknown) => void;
  const connection = new Promise<TcpStream>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  connection.catch(() => {});
  const response = new Response(null, { status: 200 });
  upgrades.set(response, { headers, resolve, reject });
  return { response, connection };
}
