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
import {
  Exchange,
  Info,
  keepBytes,
  type ServeHandlerInfo,
  ServeRequest,
  stash,
  stashed,
} from "./_serve_request.ts";
import {
  bodyless,
  cancelParts,
  encodeBody,
  ERROR_RESPONSE,
  type Exchanged,
  internalServerError,
  isExchanged,
  isPeerGone,
  isPromiseLike,
  isWebSocketUpgrade,
  NOT_IMPLEMENTED,
  type Parts,
  prependRead,
  userContentLength,
  userHeaders,
} from "./_serve_parts.ts";
import { upgradeHead } from "./upgrade.ts";
import {
  type FileBody,
  headerPairs,
  staticParts,
  takeFileBody,
  upgrades,
} from "./_serve_response.ts";
import { type CoreAnswer, type CoreHooks, TAKEOVER, type Takeover } from "./_takeover.ts";
import type { RequestParser } from "./request_parser.ts";
import { errorResponse, writeResponseHead } from "./serializer.ts";
import { Server } from "./server.ts";

export type { ServeHandlerInfo } from "./_serve_request.ts";
import type { HttpResponseInit, HttpServer, ServeHttpOptions } from "./server_types.ts";

/** Deno.serve's defaults. */
const DEFAULT_PORT = 8000;
const DEFAULT_HOSTNAME = "0.0.0.0";
/** After the response, a request body the handler did not read is drained up to this much. */
const DRAIN_LIMIT = 256 * 1024;
const PEEK = new Uint8Array(1);
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_IDLE_TIMEOUT_MS = 75_000;
const PENDING = Symbol("pending");
const pending = Promise.resolve(PENDING);

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
