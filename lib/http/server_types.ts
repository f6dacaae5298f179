/**
 * The contract of {@linkcode serveHttp}: what a handler sees and returns, the server's options,
 * and the handle of a running server.
 *
 * @module
 */

import type { SocketAddress } from "../net/address.ts";
import type { Reactor } from "../reactor/mod.ts";
import type { RequestParserOptions } from "./request_parser.ts";
import type { FixedResponse, HeaderList } from "./serializer.ts";

/**
 * The request a handler sees. It is a view on the server's parser and read buffer, valid only
 * until the handler returns: an async handler must copy what it needs (`request.body.slice()`,
 * `request.path`) before its first `await`. {@linkcode RequestParser} implements it.
 *
 * @example
 * ```ts
 * import type { HttpRequest, HttpResponse } from "./mod.ts";
 *
 * function handler(request: HttpRequest): HttpResponse {
 *   return { status: 200, body: `${request.method} ${request.path}\n` };
 * }
 * ```
 */
export interface HttpRequest {
  /** The method (`GET`); standard methods are shared strings. */
  readonly method: string;
  /** The target as sent (`/a?b`). */
  readonly target: string;
  /** The target up to the first `?`. */
  readonly path: string;
  /** The target after the first `?`, without it. */
  readonly query: string;
  /** 1 for HTTP/1.0, 1.1 for HTTP/1.1. */
  readonly version: number;
  /** Whether the client wants the connection kept open after this request. */
  readonly keepAlive: boolean;
  /** The body (Content-Length or decoded chunked), empty when none. */
  readonly body: Uint8Array;
  /** Number of header fields. */
  readonly headerCount: number;
  /** The first value of a field; `lowerName` must be lowercase. */
  header(lowerName: string): string | undefined;
  /** Every field as `[name, value]`, in order. */
  headers(): [string, string][];
}

/**
 * A response built per request. `body` as a string is sent as UTF-8. Content-Length, Date and
 * Connection are written by the server.
 *
 * @example
 * ```ts
 * import type { HttpResponseInit } from "./mod.ts";
 *
 * const created: HttpResponseInit = {
 *   status: 201,
 *   headers: Object.freeze({ "Content-Type": "text/plain" }),
 *   body: "made\n",
 * };
 * ```
 */
export interface HttpResponseInit {
  /** Status code, default 200. */
  status?: number;
  /**
   * Header fields. A frozen record lets the head be cached (see `writeResponseHead`).
   */
  headers?: HeaderList;
  /** The body. */
  body?: Uint8Array | string;
}

/**
 * What a handler returns: a {@linkcode FixedResponse} (serialized once per second: the fastest
 * path), or a {@linkcode HttpResponseInit}.
 *
 * @example
 * ```ts
 * import { FixedResponse, type HttpResponse } from "./mod.ts";
 *
 * const ok: HttpResponse = new FixedResponse(200, { body: "ok\n" });
 * const dynamic: HttpResponse = { status: 200, body: new Date().toISOString() };
 * ```
 */
export type HttpResponse = FixedResponse | HttpResponseInit;

/**
 * A request handler. Runs synchronously on the reactor's thread for every request of a batch,
 * in order. It may return a promise: the connection then waits (pipelined requests after it are
 * held back, so responses stay in order), and other connections are served meanwhile. A handler
 * that throws or rejects gets a 500 and the connection is closed.
 *
 * @example
 * ```ts
 * import type { HttpHandler } from "./mod.ts";
 *
 * const handler: HttpHandler = (request) =>
 *   request.path === "/" ? { body: "home\n" } : { status: 404, body: "not found\n" };
 * ```
 */
export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/**
 * Options of {@linkcode serveHttp}. Times are milliseconds; a timeout of 0 disables it.
 *
 * @example
 * ```ts
 * import type { ServeHttpOptions } from "./mod.ts";
 *
 * const options: ServeHttpOptions = {
 *   hostname: "127.0.0.1",
 *   port: 8080,
 *   maxConnections: 1000,
 *   headerTimeoutMs: 5000,
 *   handler: () => ({ body: "hi\n" }),
 * };
 * ```
 */
export interface ServeHttpOptions extends RequestParserOptions {
  /** The request handler. */
  handler: HttpHandler;
  /** Address to bind (an IP literal or "localhost"); default "127.0.0.1". */
  hostname?: string;
  /** Port; 0 (the default) lets the kernel choose: read it from `addr`. */
  port?: number;
  /** listen() backlog, default 511. */
  backlog?: number;
  /** SO_REUSEPORT, for several servers (threads, processes) on one port. Default false. */
  reusePort?: boolean;
  /**
   * Connections served at once; at the cap the listener is no longer polled (clients wait in the
   * backlog) until one closes. Default: the process's descriptor limit (RLIMIT_NOFILE, soft) less
   * 64 kept for everything else, so accepting never runs the process out of fds. Servers sharing
   * one process (threads) share that limit: give each its part.
   */
  maxConnections?: number;
  /** Close a keep-alive connection idle this long. Default 75,000 (nginx's). */
  idleTimeoutMs?: number;
  /**
   * A request head must arrive within this long from its first byte (from the connection's start
   * for the first request), else 408 and close. Default 10,000.
   */
  headerTimeoutMs?: number;
  /**
   * After an error reply, how long input is drained before closing, so the client reads the reply
   * instead of a reset (Go waits 500 ms). Default 500.
   */
  lingerMs?: number;
  /** TCP_NODELAY on accepted connections. Default true. */
  noDelay?: boolean;
  /** The reactor to run on; default `Reactor.default()`. */
  reactor?: Reactor;
  /** Called with one line per response (off by default: it costs a getpeername and a string). */
  accessLog?: (line: string) => void;
  /** Called for handler errors and unexpected I/O failures. Default console.error. */
  onError?: (error: unknown) => void;
  /** Aborting it starts a graceful shutdown. */
  signal?: AbortSignal;
}

/**
 * Counters of a running server, from {@linkcode HttpServer.stats}.
 *
 * @example
 * ```ts ignore
 * const { connections, requests } = server.stats();
 * ```
 */
export interface HttpServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Complete requests handed to the handler. */
  requests: number;
  /** Requests refused with an error status (4xx/5xx written by the server itself). */
  rejected: number;
  /** Refusals by status, e.g. `{ 431: 2 }`. */
  rejectedByStatus: Record<number, number>;
  /** Connections closed by the header deadline (slowloris). */
  headerTimeouts: number;
  /** Keep-alive connections closed for idling. */
  idleTimeouts: number;
  /** Connections that ended in a reset or another I/O error. */
  resets: number;
  /** Whether accepting is paused at `maxConnections`. */
  acceptPaused: boolean;
  /** Times accepting was paused at `maxConnections`. */
  acceptPauses: number;
  /** Handlers whose promise has not settled yet. */
  pendingHandlers: number;
  /** Whether a shutdown has begun. */
  shuttingDown: boolean;
}

/** Options of {@linkcode HttpServer.shutdown}. */
export interface ShutdownOptions {
  /** Close whatever is still open after this many milliseconds. Default: wait. */
  timeoutMs?: number;
}

/**
 * A running server, from {@linkcode serveHttp}.
 *
 * @example
 * ```ts
 * import { serveHttp } from "./mod.ts";
 *
 * await using server = serveHttp({ port: 0, handler: () => ({ body: "hi\n" }) });
 * console.log(server.addr.port > 0, server.stats().connections); // true 0
 * ```
 */
export interface HttpServer {
  /** The bound address (the real port when bound to port 0). */
  readonly addr: SocketAddress;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  /** Counters. */
  stats(): HttpServerStats;
  /**
   * Graceful shutdown: stop accepting (the listener is closed), close idle connections, let
   * requests in flight finish (answered with `Connection: close`), resolve when all are closed.
   * Idempotent.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** Same as `shutdown()`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The server keeps the process alive (the default), as `Deno.HttpServer.ref()`. */
  ref(): void;
  /** The server no longer keeps the process alive, as `Deno.HttpServer.unref()`. */
  unref(): void;
}
