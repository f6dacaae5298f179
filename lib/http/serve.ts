/**
 * {@linkcode serve}: `Deno.serve`'s shape on netio's HTTP/1.1 core. Handlers are
 * fetch-standard, `(request: Request, info) => Response | Promise<Response>`, so code written
 * for `Deno.serve`, Hono or Oak runs unchanged.
 *
 * How it stays as cheap as the core: the `Request` is built lazily (see _serve_request.ts); a
 * response with a string or bytes body joins the core's batch (one `send` for a pipelined
 * batch, Content-Length, the cached head); only what needs the connection for longer (a body
 * that streams either way, a file, an upgrade) takes it as a `TcpStream` for that exchange and
 * gives it back for the next request.
 *
 * @module
 */

import { MSG_PEEK } from "../../ffi/constants.ts";
import { EAGAIN } from "../../ffi/errno.ts";
import { sysRecv } from "../../ffi/libc.ts";
import type { SocketAddress } from "../net/address.ts";
import { sockAddr } from "../net/_sockaddr.ts";
import type { TcpStream } from "../net/stream.ts";
import { sendFile } from "../transfer/sendfile.ts";
import { checkObject, checkOptionalFunction } from "../_validate.ts";
import { EMPTY, ENCODER } from "./_bytes.ts";
import type { Conn } from "./_connection.ts";
import {
  type BodyFraming,
  BodyReader,
  FRAME_CHUNKED,
  FRAME_CLOSE,
  FRAME_LENGTH,
  writeBody,
} from "./_serve_body.ts";
import { keepBytes, type PendingBody, ServeRequest, stash, stashed } from "./_serve_request.ts";
import {
  type FileBody,
  headerPairs,
  staticParts,
  takeFileBody,
  type UpgradeBody,
  upgrades,
} from "./_serve_response.ts";
import { TAKEOVER, type Takeover } from "./_takeover.ts";
import type { RequestParser } from "./request_parser.ts";
import { errorResponse, writeResponseHead } from "./serializer.ts";
import { type CoreAnswer, type CoreHooks, Server } from "./server.ts";
import type { HttpResponseInit, HttpServer, ServeHttpOptions } from "./server_types.ts";

/** Deno.serve's defaults. */
const DEFAULT_PORT = 8000;
const DEFAULT_HOSTNAME = "0.0.0.0";
/** After the response, a request body the handler did not read is drained up to this much. */
const DRAIN_LIMIT = 256 * 1024;
const NO_CONTENT = 204;
const NOT_MODIFIED = 304;
const FIRST_FINAL = 200;
const PEEK = new Uint8Array(1);
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_IDLE_TIMEOUT_MS = 75_000;
const PENDING = Symbol("pending");
const pending = Promise.resolve(PENDING);

/**
 * What a {@linkcode ServeHandler} gets beside the request, as `Deno.ServeHandlerInfo`.
 *
 * @example
 * ```ts
 * import type { ServeHandlerInfo } from "./mod.ts";
 *
 * function handler(_request: Request, info: ServeHandlerInfo): Response {
 *   return new Response(`you are ${info.remoteAddr.hostname}\n`);
 * }
 * ```
 */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Resolves once the response has been written in full; rejects if the connection closed first. */
  readonly completed: Promise<void>;
}

/**
 * A fetch-standard request handler, as `Deno.ServeHandler`.
 *
 * @example
 * ```ts
 * import type { ServeHandler } from "./mod.ts";
 *
 * const handler: ServeHandler = (request) =>
 *   new URL(request.url).pathname === "/" ? new Response("home\n") : new Response(null, { status: 404 });
 * ```
 */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/**
 * Options of {@linkcode serve}: `Deno.serve`'s (`port`, `hostname`, `signal`, `onListen`,
 * `onError`, `handler`) and the core's limits and timeouts ({@linkcode ServeHttpOptions}).
 * `maxBodyBytes` (default 1 MiB, as nginx) bounds a request body, streamed or not: over it the
 * answer is 413 when nothing was sent yet, and the body stream errors.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "./mod.ts";
 *
 * const options: ServeOptions = {
 *   hostname: "127.0.0.1",
 *   port: 8080,
 *   maxBodyBytes: 64 * 1024 * 1024,
 *   onListen: ({ hostname, port }) => console.log(`on ${hostname}:${port}`),
 * };
 * ```
 */
export interface ServeOptions extends Omit<ServeHttpOptions, "handler" | "onError"> {
  /** Port; default 8000 (as Deno.serve). 0 lets the kernel choose: read it from `addr`. */
  port?: number;
  /** Address to bind; default "0.0.0.0" (as Deno.serve). */
  hostname?: string;
  /** Called once listening; default: logs `Listening on http://HOST:PORT/` to stderr. */
  onListen?: (localAddr: Deno.NetAddr) => void;
  /**
   * Called when the handler throws or rejects; its response is sent. Default: logs the error
   * and answers 500.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** The handler, when not given as the second argument. */
  handler?: ServeHandler;
  /** Called for I/O failures of the server itself (not the handler's). Default console.error. */
  onServerError?: (error: unknown) => void;
}

/**
 * A response that needs the connection for itself: a file range, an upgrade, or a body stream
 * (with the chunks already read of it).
 */
interface Exchanged {
  status: number;
  headers: [string, string][];
  file?: FileBody;
  upgrade?: UpgradeBody;
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  prefix?: Uint8Array[];
  /**
   * The handler's own Content-Length for a stream or a HEAD answer, as Deno.serve honours it:
   * the stream is sent with that length instead of chunked, a HEAD answer announces it.
   */
  length?: number;
}

/** What a response becomes: static (the core's batch) or an exchange on the taken connection. */
type Parts = HttpResponseInit | Exchanged;

function isExchanged(parts: Parts): parts is Exchanged {
  return (parts as Exchanged).reader !== undefined || (parts as Exchanged).file !== undefined ||
    (parts as Exchanged).upgrade !== undefined || (parts as Exchanged).length !== undefined;
}

let lastText = "";
let lastBytes: Uint8Array = EMPTY;

/**
 * A string body as UTF-8, the last one remembered: a handler answering the same text again (the
 * common case for a fixed reply) costs a string comparison, not an encoding.
 */
function encodeBody(body: string | Uint8Array | null): Uint8Array {
  if (body === null) return EMPTY;
  if (typeof body !== "string") return body;
  if (body !== lastText) {
    lastBytes = ENCODER.encode(body);
    lastText = body;
  }
  return lastBytes;
}

/** Header names the server writes itself (from the framing it chooses). */
function isFramingHeader(name: string): boolean {
  const first = name.charCodeAt(0) | 0x20;
  if (first !== 0x63 && first !== 0x64 && first !== 0x74 && first !== 0x6b) return false;
  const lower = name.toLowerCase();
  return lower === "content-length" || lower === "connection" || lower === "date" ||
    lower === "transfer-encoding" || lower === "keep-alive";
}

/** The pairs without the framing headers (the same array when there are none). */
function userHeaders(pairs: [string, string][]): [string, string][] {
  let i = 0;
  while (i < pairs.length && !isFramingHeader(pairs[i]![0])) i++;
  if (i === pairs.length) return pairs;
  return pairs.filter(([name]) => !isFramingHeader(name));
}

/** The handler's Content-Length among `pairs`, or -1 (none, or not a plain decimal). */
function userContentLength(pairs: [string, string][]): number {
  for (const [name, value] of pairs) {
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      return /^\d{1,15}$/.test(value) ? Number(value) : -1;
    }
  }
  return -1;
}

/**
 * Deno.serve's answer when the handler fails: no Content-Type (a bytes body), as its
 * `internalServerError()`.
 */
function internalServerError(): Response {
  return new Response(ENCODER.encode("Internal Server Error"), { status: 500 });
}

/** Response.error() is the only Response with status 0; Deno.serve treats it as a failure. */
const ERROR_RESPONSE = 0;

function bodyless(status: number): boolean {
  return status < FIRST_FINAL || status === NO_CONTENT || status === NOT_MODIFIED;
}

function isWebSocketUpgrade(parser: RequestParser): boolean {
  const upgrade = parser.header("upgrade");
  return upgrade !== undefined && upgrade.toLowerCase().includes("websocket");
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource;
}

const NOT_IMPLEMENTED: HttpResponseInit = Object.freeze({
  status: 501,
  headers: Object.freeze({ "Content-Type": "text/plain; charset=utf-8" }),
  body: "501 Not Implemented: this server does not upgrade connections to websocket\n",
});

/** `info` of one request: the address and `completed`, both made only when asked for. */
class Info implements ServeHandlerInfo {
  #c: Conn;
  #seq: number;
  #addr: SocketAddress | undefined;
  #completed: Promise<void> | undefined;

  constructor(c: Conn, seq: number) {
    this.#c = c;
    this.#seq = seq;
  }

  get remoteAddr(): Deno.NetAddr {
    if (this.#addr !== undefined) return this.#addr;
    const c = this.#c;
    if (c.fd < 0) throw new Deno.errors.NotConnected("the connection is closed");
    return this.#addr = sockAddr(c.stream !== null ? c.stream.fd : c.fd, true);
  }

  get completed(): Promise<void> {
    if (this.#completed !== undefined) return this.#completed;
    const c = this.#c;
    const seq = this.#seq;
    const closed = () => new Deno.errors.ConnectionReset("the connection closed first");
    let promise: Promise<void>;
    if (c.written > seq) {
      promise = Promise.resolve();
    } else if (c.fd < 0) {
      promise = Promise.reject(closed());
    } else {
      promise = new Promise<void>((resolve, reject) => {
        (c.onWritten ??= []).push((ok) => {
          if (!ok) reject(closed());
          else if (c.written > seq) resolve();
          else return false;
          return true;
        });
      });
    }
    // Never an unhandled rejection for a handler that does not await it.
    promise.catch(() => {});
    return this.#completed = promise;
  }
}

/** The request body of one exchange, until its connection is taken. */
class Exchange implements PendingBody {
  reader: Promise<BodyReader>;
  resolve!: (reader: BodyReader) => void;
  cancelled = false;

  constructor() {
    this.reader = new Promise((resolve) => this.resolve = resolve);
  }

  cancel(): void {
    this.cancelled = true;
  }
}

/** What an exchange needs to know about its request. */
interface RequestFacts {
  c: Conn;
  request: ServeRequest;
  isHead: boolean;
  /** HTTP/1.1 (1.1) or HTTP/1.0 (1). */
  version: number;
  keepAlive: boolean;
  wsUpgrade: boolean;
}

/** serve()'s side of the core: requests in, fetch-standard responses out. */
class FetchHooks implements CoreHooks {
  #handler: ServeHandler;
  #onError: (error: unknown) => Response | Promise<Response>;
  #framing: Omit<BodyFraming, "length" | "expectContinue">;
  defaultHost = "localhost";
  server: Server | undefined;

  constructor(
    handler: ServeHandler,
    onError: (error: unknown) => Response | Promise<Response>,
    framing: Omit<BodyFraming, "length" | "expectContinue">,
  ) {
    this.#handler = handler;
    this.#onError = onError;
    this.#framing = framing;
  }

  handle(
    parser: RequestParser,
    c: Conn,
    bodyPending: boolean,
    buf: Uint8Array,
    start: number,
  ): CoreAnswer {
    const method = parser.method;
    let exchange: Exchange | null = null;
    let bytes: Uint8Array<ArrayBuffer> | null = null;
    if (bodyPending) {
      exchange = new Exchange();
    } else {
      const body = parser.body;
      if (body.length > 0) bytes = keepBytes(body, 0, body.length);
    }
    const at = stash(buf, start, start + parser.headLength);
    const request = new ServeRequest(
      method,
      stashed,
      at,
      parser.headLength,
      this.defaultHost,
      bytes,
      exchange,
    );
    const facts: RequestFacts = {
      c,
      request,
      isHead: method === "HEAD",
      version: parser.version,
      keepAlive: parser.keepAlive,
      wsUpgrade: parser.headerCount > 1 && isWebSocketUpgrade(parser),
    };
    const info = new Info(c, c.responses);
    c.onGone = request;
    let result: Response | Promise<Response>;
    try {
      result = this.#handler(request as unknown as Request, info);
    } catch (error) {
      result = this.#failed(error);
    }
    if (exchange !== null) {
      const framing: BodyFraming = {
        ...this.#framing,
        length: parser.chunked ? -1 : parser.contentLength,
        expectContinue: parser.expectContinue,
      };
      return this.#takeover(facts, () => this.#settle(result, facts), exchange, framing);
    }
    if (result instanceof Response) return this.#answer(facts, this.#parts(result, facts));
    return this.#settle(result, facts).then((parts) => this.#answer(facts, parts));
  }

  /** The handler's answer, whatever it was, as parts (onError's response when it failed). */
  async #settle(result: unknown, facts: RequestFacts): Promise<Parts> {
    let response: unknown;
    try {
      response = await result;
    } catch (error) {
      response = await this.#failed(error);
    }
    if (!(response instanceof Response)) {
      response = await this.#failed(
        new TypeError("the handler must return a Response or a Promise of one"),
      );
    }
    return await this.#parts(response as Response, facts);
  }

  /** The handler failed: onError's response, or 500 when onError fails too. */
  async #failed(error: unknown): Promise<Response> {
    try {
      const response = await this.#onError(error);
      if (response instanceof Response) return response;
      throw new TypeError("onError must return a Response");
    } catch (secondError) {
      console.error(secondError);
      return internalServerError();
    }
  }

  /** Parts of a request without a pending body: into the core's batch, or a takeover. */
  #answer(facts: RequestFacts, parts: Parts | Promise<Parts>): CoreAnswer {
    if (isPromiseLike(parts)) return parts.then((p) => this.#answer(facts, p) as HttpResponseInit);
    if (isExchanged(parts)) return this.#takeover(facts, () => parts, null, null);
    if (facts.c.onGone === facts.request) facts.c.onGone = null;
    return parts;
  }

  /**
   * A response as parts. Static bodies come from Deno's slots when they can; any other body is
   * peeked: when it ends after its first chunk it is static too, else it streams.
   */
  #parts(response: Response, facts: RequestFacts): Parts | Promise<Parts> {
    const upgrade = upgrades.get(response);
    if (upgrade !== undefined) {
      upgrades.delete(response);
      return { status: 101, headers: upgrade.headers, upgrade };
    }
    if (facts.wsUpgrade) return NOT_IMPLEMENTED;
    const file = takeFileBody(response);
    if (file !== undefined) {
      return { status: response.status, headers: userHeaders(headerPairs(response.headers)), file };
    }
    const fixed = staticParts(response);
    if (fixed !== undefined) {
      if (fixed.status === ERROR_RESPONSE) return this.#errorResponse(facts);
      if (!Array.isArray(fixed.headers)) {
        // Only the content type Deno kept aside: nothing to filter, and the head is cached.
        return { status: fixed.status, headers: fixed.headers, body: encodeBody(fixed.body) };
      }
      const pairs = fixed.headers as [string, string][];
      const headers = userHeaders(pairs);
      const body = fixed.body ?? EMPTY;
      if (facts.isHead && body.length === 0 && headers !== pairs) {
        return this.#headAnswer(fixed.status, headers, userContentLength(pairs));
      }
      return { status: fixed.status, headers, body: encodeBody(body) };
    }
    return this.#peek(response, facts);
  }

  /** Response.error() from the handler: onError's answer, as Deno.serve gives it. */
  async #errorResponse(facts: RequestFacts): Promise<Parts> {
    const response = await this.#failed(
      new TypeError(
        "Return value from serve handler must not be an error response (like Response.error())",
      ),
    );
    return await this.#parts(response, facts);
  }

  /** An empty answer to HEAD: with the handler's Content-Length when it gave one. */
  #headAnswer(status: number, headers: [string, string][], length: number): Parts {
    if (length < 0 || bodyless(status)) return { status, headers, body: EMPTY };
    return { status, headers, length };
  }

  async #peek(response: Response, facts: RequestFacts): Promise<Parts> {
    const status = response.status;
    if (status === ERROR_RESPONSE) return await this.#errorResponse(facts);
    const all = headerPairs(response.headers);
    const headers = userHeaders(all);
    const length = headers === all ? -1 : userContentLength(all);
    const body = response.body;
    if (body === null) {
      return facts.isHead
        ? this.#headAnswer(status, headers, length)
        : { status, headers, body: EMPTY };
    }
    const reader = body.getReader();
    const first = await reader.read();
    if (first.done) {
      return facts.isHead
        ? this.#headAnswer(status, headers, length)
        : { status, headers, body: EMPTY };
    }
    const next = reader.read();
    const second = await Promise.race([next, pending]);
    const streamed = (prefix: Uint8Array[], from: ReadableStreamDefaultReader<Uint8Array>): Parts =>
      length < 0
        ? { status, headers, reader: from, prefix }
        : { status, headers, reader: from, prefix, length };
    if (second === PENDING) {
      // The second chunk is not there yet: the body streams, starting with the read asked for.
      return streamed([first.value], prependRead(next, reader));
    }
    const result = second as ReadableStreamReadResult<Uint8Array>;
    if (result.done) return { status, headers, body: first.value };
    return streamed([first.value, result.value], reader);
  }

  /**
   * Takes the connection for one exchange: reads a pending request body as the handler pulls
   * it, writes the response, drains what the handler left of the body, and gives the
   * connection back (or closes it).
   */
  #takeover(
    facts: RequestFacts,
    respond: () => Parts | Promise<Parts>,
    exchange: Exchange | null,
    framing: BodyFraming | null,
  ): Takeover {
    return {
      [TAKEOVER]: async (stream, input) => {
        let body: BodyReader | null = null;
        if (exchange !== null) {
          body = new BodyReader(stream, input, framing!);
          exchange.resolve(body);
        }
        let parts: Parts;
        try {
          parts = await respond();
        } catch (error) {
          console.error(error);
          parts = { status: 500, body: "Internal Server Error" };
        }
        const c = facts.c;
        if (c.onGone === facts.request) c.onGone = null;
        if (body !== null) {
          body.responseStarted = true;
          const bodyError = body.error;
          if (bodyError !== undefined) {
            // The body broke its framing or limit: that is the answer, and the connection ends.
            cancelParts(parts, bodyError);
            await stream.writeAll(errorResponse(bodyError.status)).catch(() => {});
            stream.close();
            return undefined;
          }
        }
        const keepAlive = facts.keepAlive && !(this.server?.draining ?? false);
        const sent = await this.#send(stream, facts, parts, keepAlive, body);
        if (sent === HANDED_ON) return undefined;
        if (sent === FAILED) {
          stream.close();
          return null;
        }
        if (sent === CLOSE || !keepAlive) {
          stream.close();
          return undefined;
        }
        if (body !== null && !body.done) {
          let drained = false;
          try {
            drained = !exchange!.cancelled && await body.drain(DRAIN_LIMIT);
          } catch {
            drained = false;
          }
          if (!drained) {
            stream.close();
            return undefined;
          }
        }
        return body?.rest ?? EMPTY;
      },
    };
  }

  /** Writes one response on a taken connection. */
  async #send(
    stream: TcpStream,
    facts: RequestFacts,
    parts: Parts,
    keepAlive: boolean,
    body: BodyReader | null,
  ): Promise<number> {
    const status = parts.status ?? 200;
    const isHead = facts.isHead;
    try {
      if (!isExchanged(parts)) {
        // Static: one writev of head and body.
        const raw = parts.body ?? EMPTY;
        let bytes = typeof raw === "string" ? ENCODER.encode(raw) : raw;
        if (bodyless(status)) bytes = EMPTY;
        const head = writeResponseHead(status, parts.headers, bytes.length, keepAlive);
        await stream.writev(isHead || bytes.length === 0 ? [head] : [head, bytes]);
        return KEEP;
      }
      if (parts.upgrade !== undefined) {
        await stream.writeAll(upgradeHead(parts.upgrade.headers));
        parts.upgrade.resolve(stream);
        return HANDED_ON;
      }
      if (parts.file !== undefined) {
        await this.#sendFile(stream, parts, parts.file, isHead, keepAlive);
        return KEEP;
      }
      const length = parts.length ?? -1;
      if (isHead || bodyless(status)) {
        parts.reader?.cancel().catch(() => {});
        const announced = isHead && !bodyless(status) ? length : -1;
        await stream.writeAll(writeResponseHead(status, parts.headers, announced, keepAlive));
        return KEEP;
      }
      const reader = parts.reader!;
      if (length >= 0) {
        // The handler's Content-Length: sent as is; a body that disagrees ends the connection.
        const head = writeResponseHead(status, parts.headers, length, keepAlive);
        const watch = body === null || body.done ? watchGone(stream, facts.request, reader) : null;
        try {
          await writeBody(stream, head, parts.prefix ?? [], reader, FRAME_LENGTH, length);
        } finally {
          watch?.abort();
        }
        return facts.request.isGone ? FAILED : KEEP;
      }
      // A stream of unknown length: chunked (HTTP/1.1), or until close (HTTP/1.0).
      const chunked = facts.version > 1;
      const head = writeResponseHead(
        status,
        chunked ? [...parts.headers, ["Transfer-Encoding", "chunked"]] : parts.headers,
        -1,
        keepAlive && chunked,
      );
      const watch = body === null || body.done ? watchGone(stream, facts.request, reader) : null;
      try {
        await writeBody(
          stream,
          head,
          parts.prefix ?? [],
          reader,
          chunked ? FRAME_CHUNKED : FRAME_CLOSE,
          -1,
        );
      } finally {
        watch?.abort();
      }
      if (facts.request.isGone) return FAILED;
      return chunked ? KEEP : CLOSE;
    } catch (error) {
      facts.request.gone();
      cancelParts(parts, error);
      if (!isPeerGone(error)) console.error(error);
      return FAILED;
    }
  }

  async #sendFile(
    stream: TcpStream,
    parts: Exchanged,
    file: FileBody,
    isHead: boolean,
    keepAlive: boolean,
  ): Promise<void> {
    try {
      const length = bodyless(parts.status) ? 0 : file.length;
      await stream.writeAll(writeResponseHead(parts.status, parts.headers, length, keepAlive));
      if (!isHead && length > 0) {
        await sendFile(stream, file.handle, { offset: file.offset, length });
      }
    } finally {
      if (file.owned) file.handle.close();
    }
  }
}

/** Results of #send. */
const KEEP = 0;
const CLOSE = 1;
const FAILED = 2;
const HANDED_ON = 3;

/** A response that will not be sent: its stream cancelled, its file closed, its upgrade refused. */
function cancelParts(parts: Parts, reason: unknown): void {
  if (!isExchanged(parts)) return;
  parts.reader?.cancel(reason).catch(() => {});
  if (parts.file?.owned) parts.file.handle.close();
  parts.upgrade?.reject(reason);
}

/** A reader whose first read is one already asked for. */
function prependRead(
  first: Promise<ReadableStreamReadResult<Uint8Array>>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStreamDefaultReader<Uint8Array> {
  let used = false;
  return {
    read: () => {
      if (used) return reader.read();
      used = true;
      return first;
    },
    cancel: (reason?: unknown) => reader.cancel(reason),
    releaseLock: () => reader.releaseLock(),
    closed: reader.closed,
  } as ReadableStreamDefaultReader<Uint8Array>;
}

/**
 * While a response streams, watches the connection for the client going away (EOF or reset):
 * then `request.signal` aborts and the body stream is cancelled, instead of waiting for a write
 * to fail. Stops at the first sign of data (a pipelined request: it waits its turn).
 */
function watchGone(
  stream: TcpStream,
  request: ServeRequest,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): AbortController {
  const stop = new AbortController();
  (async () => {
    try {
      await stream.waitReadable({ signal: stop.signal });
      const n = sysRecv(stream.fd, PEEK, MSG_PEEK);
      if (n === 0 || (n < 0 && n !== -EAGAIN)) {
        request.gone();
        await reader.cancel(new Deno.errors.ConnectionReset("the client went away"));
      }
    } catch {
      // Stopped, or the stream closed: nothing to watch.
    }
  })();
  return stop;
}

function upgradeHead(headers: [string, string][]): Uint8Array {
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

function defaultOnError(error: unknown): Response {
  console.error(error);
  return internalServerError();
}

/**
 * Serves HTTP/1.1 with a fetch-standard handler, as `Deno.serve` does: `serve(handler)`,
 * `serve(options, handler)` or `serve({ ...options, handler })`. Binds synchronously (a port
 * conflict throws here; needs `--allow-net`), then serves on the reactor until
 * {@linkcode HttpServer.shutdown} or `options.signal`.
 *
 * - The handler gets a standard `Request` (URL with the Host, headers, a streaming `body` with
 *   `maxBodyBytes` as its limit, `signal` aborted when the client goes away) and `info`
 *   (`remoteAddr`, `completed`), and returns a standard `Response` or a promise of one.
 * - A string or bytes body gets Content-Length and joins the batch of pipelined responses; a
 *   `ReadableStream` body streams with chunked encoding (until close for HTTP/1.0) and
 *   backpressure (a slow client stops the pulls); a {@linkcode serveFile} response goes out by
 *   sendfile; HEAD, 204 and 304 send no body; several Set-Cookie headers stay apart.
 * - `Expect: 100-continue` is answered when the handler starts reading the body.
 * - A websocket upgrade the handler does not take gets 501; {@linkcode upgrade} takes it.
 *
 * The fastest path is still {@linkcode serveHttp} with a `FixedResponse`; `serve()` costs a
 * lazily built `Request` and `Response` per request on top of it.
 *
 * @example
 * ```ts
 * import { serve } from "./mod.ts";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
 *   return new Response(`hello from ${new URL(request.url).pathname}\n`);
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/there`);
 * console.log(await response.text()); // "hello from /there"
 * await server.shutdown();
 * ```
 */
export function serve(handler: ServeHandler): HttpServer;
/**
 * `serve(options, handler)`: the same, with options (see {@linkcode ServeOptions}).
 *
 * @example
 * ```ts
 * import { serve } from "./mod.ts";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hi"));
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): HttpServer;
/**
 * `serve({ ...options, handler })`: the same, the handler among the options.
 *
 * @example
 * ```ts
 * import { serve } from "./mod.ts";
 *
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {}, handler: () => new Response("hi") });
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions & { handler: ServeHandler }): HttpServer;
export function serve(
  first: ServeHandler | ServeOptions,
  second?: ServeHandler,
): HttpServer {
  let options: ServeOptions;
  let handler: ServeHandler | undefined;
  if (typeof first === "function") {
    options = {};
    handler = first;
  } else {
    checkObject(first, "serve options");
    options = first;
    handler = second ?? first.handler;
  }
  if (typeof handler !== "function") {
    throw new TypeError(`serve: the handler must be a function, got ${typeof handler}`);
  }
  const onListen = checkOptionalFunction(options.onListen, "onListen");
  const onError = checkOptionalFunction(options.onError, "onError") ?? defaultOnError;
  const hooks = new FetchHooks(handler, onError, {
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxFramingBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
  });
  const { onListen: _onListen, onError: _onError, handler: _handler, onServerError, ...rest } =
    options;
  const server = new Server({
    ...rest,
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_PORT,
    handler: unreachable,
    ...(onServerError !== undefined ? { onError: onServerError } : {}),
  }, hooks);
  hooks.server = server;
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  hooks.defaultHost = host;
  if (onListen !== undefined) onListen(server.addr);
  else console.error(`Listening on http://${host}/`);
  return server;
}

function unreachable(): never {
  throw new Error("unreachable: serve() answers through its hooks");
}
