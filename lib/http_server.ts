/**
 * An HTTP/1.1 keep-alive server on the reactor's callback API: {@linkcode serveHttp}.
 *
 * Why it is shaped this way (measured on a 2-core VM, Deno 2.9.6): a synchronous FFI call costs
 * ~0.2 us and a promise turn about as much as the syscall it waits for, so the hot path has no
 * promise at all. Each connection is one level-triggered registration sharing ONE callback; on
 * readiness the server reads once into ONE shared 64 KiB buffer, parses every complete request in
 * it with one shared {@linkcode RequestParser}, calls the handler synchronously, and writes every
 * response of the batch with one `send` (one `writev` when a large body is passed by reference).
 * Only a connection left holding part of a request gets a buffer (the unparsed tail, copied) and
 * a parser of its own (the shared one, handed over with its progress). An idle connection costs a
 * small object and its epoll registration: no buffer, no closure, no timer. Timeouts are deadlines
 * on the connection, checked by one periodic sweep.
 *
 * Level-triggered rather than edge-triggered: one `recv` per wake-up is enough (a read that did
 * not fill the buffer drained the socket, and anything left is reported again), where
 * edge-triggered would need a second `recv` to see EAGAIN on every request.
 *
 * Hardening, like nginx, Node and Go: header block, URL, body and field-count limits (431, 414,
 * 413), malformed requests and smuggling attempts (400, 501, 505), each answered with
 * `Connection: close`; after a framing error the write side is shut and input is drained for
 * `lingerMs` so the client reads the reply instead of a reset. A header deadline counted from the
 * connection's start (first request) or from the first byte of a later request answers 408 and
 * closes (slowloris); an idle keep-alive deadline closes silently. At `maxConnections` the
 * listener stops being polled, so further clients wait in the kernel's backlog, and polling
 * resumes as soon as a connection closes. {@linkcode HttpServer.shutdown} stops accepting, closes
 * idle connections, lets requests in flight finish (answered with `Connection: close`), then
 * resolves.
 *
 * @example
 * ```ts
 * import { FixedResponse, serveHttp } from "../mod.ts";
 *
 * const hello = new FixedResponse(200, { body: "Hello, World!" });
 * const server = serveHttp({ hostname: "127.0.0.1", port: 0, handler: () => hello });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(await response.text()); // "Hello, World!"
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { MSG_NOSIGNAL, RLIMIT_NOFILE, SHUT_WR } from "../ffi/constants.ts";
import { EAGAIN, EINTR } from "../ffi/errno.ts";
import {
  sysClose,
  sysGetpeername,
  sysGetrlimit,
  sysRecv,
  sysSend,
  sysShutdown,
  sysWritev,
} from "../ffi/libc.ts";
import {
  decodeRlimit,
  decodeSockaddr,
  encodeIovecs,
  IOVEC_SIZE,
  RLIMIT_SIZE,
  SOCKADDR_STORAGE_SIZE,
  type SocketAddress,
} from "../ffi/structs.ts";
import {
  CONTINUE_RESPONSE,
  errorResponse,
  FixedResponse,
  type HeaderList,
  INCOMPLETE,
  RequestParser,
  type RequestParserOptions,
  writeResponseHead,
} from "./http1.ts";
import { Interest, Reactor, Ready, type Registration } from "./reactor.ts";
import { TcpListener } from "./socket.ts";
import { setNoDelay } from "./sockopt.ts";

/**
 * The request a handler sees. It is a view on the server's parser and read buffer, valid only
 * until the handler returns: an async handler must copy what it needs (`request.body.slice()`,
 * `request.path`) before its first `await`. {@linkcode RequestParser} implements it.
 *
 * @example
 * ```ts
 * import type { HttpRequest, HttpResponse } from "../mod.ts";
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
 * import type { HttpResponseInit } from "../mod.ts";
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
 * import { FixedResponse, type HttpResponse } from "../mod.ts";
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
 * import type { HttpHandler } from "../mod.ts";
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
 * import type { ServeHttpOptions } from "../mod.ts";
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
 * import { serveHttp } from "../mod.ts";
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
}

// Connection states (what the deadline means).
const S_HEAD = 0; // waiting for (the rest of) a request head: header deadline
const S_IDLE = 1; // between requests: idle deadline
const S_BODY = 2; // head parsed, body arriving: idle deadline, renewed by each read
const S_HANDLER = 3; // an async handler is running: no deadline, no reading
const S_LINGER = 4; // reply sent, write side shut, draining input until EOF or the deadline

// Connection flags.
const F_CLOSE_AFTER = 1; // close once the output is flushed (no keep-alive)
const F_LINGER = 2; // ... after shutting the write side and draining input (framing errors)
const F_EOF = 4; // the peer finished sending
const F_CONTINUE_SENT = 8; // 100 Continue sent for the current request

const READ_BUFFER_SIZE = 64 * 1024;
/** Responses up to this size are copied into the batch buffer; larger ones go by reference. */
const COPY_LIMIT = 16 * 1024;
/** Flush a batch early beyond this many bytes or segments (bounds memory and iovecs). */
const BATCH_BYTES_LIMIT = 1024 * 1024;
const BATCH_SEGMENTS_LIMIT = 256;
/** Reads per wake-up for one connection (fairness: libuv reads at most 32 times). */
const READS_PER_WAKE = 16;
/** Accepts per wake-up of the listener. */
const ACCEPTS_PER_WAKE = 128;
/** Free parsers kept for connections that stop mid-request. */
const PARSER_POOL_SIZE = 64;

const EMPTY = new Uint8Array(0);
const ENCODER = new TextEncoder();
const SERVER_ERROR: HttpResponseInit = Object.freeze({
  status: 500,
  headers: Object.freeze({ "Content-Type": "text/plain; charset=utf-8" }),
  body: "500 Internal Server Error\n",
});

/** One accepted connection: deliberately small (no buffers or closures while idle). */
class Conn {
  fd: number;
  registration: Registration | null = null;
  /** Index in the server's list of live connections and in its deadlines. */
  slot = 0;
  state = S_HEAD;
  flags = 0;
  /** Unparsed bytes `[0, length)`: part of a request, or requests held back. */
  buffer: Uint8Array<ArrayBuffer> | null = null;
  length = 0;
  /** The parser holding the progress of a partly received request. */
  parser: RequestParser | null = null;
  /** Output not yet written, from `outputOffset`. */
  output: Uint8Array<ArrayBuffer> | null = null;
  outputOffset = 0;

  constructor(fd: number) {
    this.fd = fd;
  }
}

/** Descriptors never used for connections: stdio, epoll, the listener, files, spares. */
const FD_RESERVE = 64;

function defaultMaxConnections(): number {
  const rlimit = new Uint8Array(RLIMIT_SIZE);
  if (sysGetrlimit(RLIMIT_NOFILE, rlimit) < 0) return 10_000;
  const soft = decodeRlimit(rlimit).soft;
  return Number.isFinite(soft) ? Math.max(1, soft - FD_RESERVE) : 1_000_000;
}

function isPromise(value: unknown): value is Promise<HttpResponse> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a non-negative finite number, got ${String(value)}`);
  }
  return value;
}

/** The head of a serialized response (for HEAD requests): everything up to CRLF CRLF. */
function headOnly(bytes: Uint8Array): Uint8Array {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return bytes.subarray(0, i + 1);
    }
  }
  return bytes;
}

/** The status code of a serialized response (`HTTP/1.1 200 ...`). */
function statusOf(bytes: Uint8Array): number {
  return (bytes[9]! - 48) * 100 + (bytes[10]! - 48) * 10 + (bytes[11]! - 48);
}

class Server implements HttpServer {
  readonly addr: SocketAddress;
  readonly finished: Promise<void>;
  #resolveFinished!: () => void;
  #listener: TcpListener;
  #listenerRegistration: Registration | null;
  #reactor: Reactor;
  #handler: HttpHandler;
  #parserOptions: RequestParserOptions;
  #maxConnections: number;
  #idleTimeoutMs: number;
  #headerTimeoutMs: number;
  #lingerMs: number;
  #noDelay: boolean;
  #accessLog: ((line: string) => void) | undefined;
  #onError: (error: unknown) => void;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  /** Connections by fd, and densely for the sweep. */
  #conns: (Conn | undefined)[] = [];
  #live: Conn[] = [];
  /**
   * When each live connection's state times out (ms since the epoch; 0 for never), by slot: a
   * typed array, so the sweep reads plain doubles and allocates nothing.
   */
  #deadlines = new Float64Array(1024);
  #parser: RequestParser;
  #parsers: RequestParser[] = [];
  #readBuffer = new Uint8Array(READ_BUFFER_SIZE);

  // The output batch of the connection being served: small responses copied into `#batch`,
  // large ones kept by reference in `#segments` (then the batch leaves in one writev).
  #batch = new Uint8Array(64 * 1024);
  #batchLength = 0;
  #batchRegionStart = 0;
  #batchTotal = 0;
  #single: Uint8Array | null = null;
  #segments: Uint8Array[] = [];
  #iovecs = new BigUint64Array(2 * BATCH_SEGMENTS_LIMIT + 4);

  #now = Date.now();
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #sweepIntervalMs: number;
  #draining = false;
  #finished = false;
  #shutdownPromise: Promise<void> | undefined;
  #shutdownTimer: ReturnType<typeof setTimeout> | undefined;
  #acceptPaused = false;

  #stats = {
    accepted: 0,
    requests: 0,
    rejected: 0,
    headerTimeouts: 0,
    idleTimeouts: 0,
    resets: 0,
    acceptPauses: 0,
    pendingHandlers: 0,
  };
  #rejectedByStatus: Record<number, number> = {};

  constructor(options: ServeHttpOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("serveHttp expects an options object");
    }
    if (typeof options.handler !== "function") {
      throw new TypeError("serveHttp: handler must be a function");
    }
    this.#handler = options.handler;
    const maxConnections = options.maxConnections ?? defaultMaxConnections();
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${maxConnections}`);
    }
    this.#maxConnections = maxConnections;
    this.#idleTimeoutMs = nonNegative("idleTimeoutMs", options.idleTimeoutMs, 75_000);
    this.#headerTimeoutMs = nonNegative("headerTimeoutMs", options.headerTimeoutMs, 10_000);
    this.#lingerMs = nonNegative("lingerMs", options.lingerMs, 500);
    this.#noDelay = options.noDelay ?? true;
    this.#accessLog = options.accessLog;
    this.#onError = options.onError ??
      ((error) => console.error("netio http server:", error));
    this.#parserOptions = {
      ...(options.maxHeaderBytes !== undefined ? { maxHeaderBytes: options.maxHeaderBytes } : {}),
      ...(options.maxUrlBytes !== undefined ? { maxUrlBytes: options.maxUrlBytes } : {}),
      ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(options.maxHeaders !== undefined ? { maxHeaders: options.maxHeaders } : {}),
    };
    // Validates the limits before anything is bound.
    this.#parser = new RequestParser(this.#parserOptions);
    // The sweep runs often enough that a deadline fires at most a quarter late.
    const shortest = Math.min(
      ...[this.#idleTimeoutMs, this.#headerTimeoutMs, this.#lingerMs].filter((t) => t > 0),
      4000,
    );
    this.#sweepIntervalMs = Math.max(5, Math.min(1000, Math.floor(shortest / 4)));
    this.#reactor = options.reactor ?? Reactor.default();
    this.#listener = TcpListener.bind({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      reactor: this.#reactor,
      ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
      ...(options.reusePort !== undefined ? { reusePort: options.reusePort } : {}),
    });
    this.addr = this.#listener.addr;
    try {
      this.#listenerRegistration = this.#reactor.register(
        this.#listener.fd,
        Interest.READABLE,
        this.#onAcceptReady,
      );
    } catch (error) {
      this.#listener.close();
      throw error;
    }
    this.finished = new Promise<void>((resolve) => this.#resolveFinished = resolve);
    if (options.signal) {
      const signal = options.signal;
      this.#signal = signal;
      this.#onAbort = () => void this.shutdown();
      if (signal.aborted) this.shutdown();
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  stats(): HttpServerStats {
    const s = this.#stats;
    return {
      connections: this.#live.length,
      accepted: s.accepted,
      requests: s.requests,
      rejected: s.rejected,
      rejectedByStatus: { ...this.#rejectedByStatus },
      headerTimeouts: s.headerTimeouts,
      idleTimeouts: s.idleTimeouts,
      resets: s.resets,
      acceptPaused: this.#acceptPaused,
      acceptPauses: s.acceptPauses,
      pendingHandlers: s.pendingHandlers,
      shuttingDown: this.#draining,
    };
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#shutdownPromise) return this.#shutdownPromise;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) nonNegative("timeoutMs", timeoutMs, 0);
    this.#draining = true;
    if (this.#signal && this.#onAbort) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
    this.#listenerRegistration?.deregister();
    this.#listenerRegistration = null;
    this.#listener.close();
    // Idle connections close now; busy ones close when they next become idle.
    const live = this.#live;
    for (let i = live.length - 1; i >= 0; i--) {
      const c = live[i]!;
      if (c.output === null && c.length === 0 && (c.state === S_IDLE || c.state === S_HEAD)) {
        this.#close(c);
      }
    }
    this.#shutdownPromise = this.finished;
    if (live.length === 0) {
      this.#finish();
    } else if (timeoutMs !== undefined) {
      this.#shutdownTimer = setTimeout(() => {
        this.#shutdownTimer = undefined;
        for (let i = this.#live.length - 1; i >= 0; i--) this.#close(this.#live[i]!);
      }, timeoutMs);
    }
    return this.#shutdownPromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#shutdownTimer !== undefined) clearTimeout(this.#shutdownTimer);
    this.#shutdownTimer = undefined;
    this.#stopSweep();
    this.#resolveFinished();
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A reporter that throws must not take the server down.
    }
  }

  // -------------------------------------------------------------------------------------------
  // Accepting

  #onAcceptReady = (): void => {
    const listener = this.#listener;
    for (let i = 0; i < ACCEPTS_PER_WAKE; i++) {
      if (this.#live.length >= this.#maxConnections) {
        this.#pauseAccept();
        return;
      }
      let fd: number;
      try {
        fd = listener.tryAcceptFd();
      } catch (error) {
        this.#report(error);
        return;
      }
      if (fd < 0) return;
      this.#adopt(fd);
    }
  };

  #adopt(fd: number): void {
    if (this.#noDelay) {
      try {
        setNoDelay(fd, true);
      } catch {
        // The peer may already be gone; the first read will tell.
      }
    }
    const c = new Conn(fd);
    try {
      c.registration = this.#reactor.register(fd, Interest.READABLE, this.#onConnReady);
    } catch (error) {
      sysClose(fd);
      this.#report(error);
      return;
    }
    this.#stats.accepted++;
    this.#conns[fd] = c;
    c.slot = this.#live.length;
    this.#live.push(c);
    if (c.slot === this.#deadlines.length) {
      const grown = new Float64Array(this.#deadlines.length * 2);
      grown.set(this.#deadlines);
      this.#deadlines = grown;
    }
    if (this.#sweepTimer === undefined) this.#startSweep();
    // The first request's head must arrive within the header timeout of the connection's start.
    c.state = S_HEAD;
    this.#deadlines[c.slot] = this.#headerTimeoutMs > 0 ? this.#now + this.#headerTimeoutMs : 0;
  }

  #pauseAccept(): void {
    if (this.#acceptPaused || this.#listenerRegistration === null) return;
    this.#acceptPaused = true;
    this.#stats.acceptPauses++;
    this.#listenerRegistration.modify(0);
  }

  #resumeAccept(): void {
    this.#acceptPaused = false;
    if (this.#listenerRegistration === null) return;
    this.#listenerRegistration.modify(Interest.READABLE);
  }

  // -------------------------------------------------------------------------------------------
  // Readiness

  #onConnReady = (ready: number, registration: Registration): void => {
    const c = this.#conns[registration.fd];
    if (c === undefined || c.registration !== registration) return;
    try {
      if (c.output !== null) {
        // Reading is paused while output waits: only writability (or an error) matters.
        if (ready & (Ready.WRITABLE | Ready.WRITE_CLOSED | Ready.ERROR)) this.#writePending(c);
      } else if (c.state === S_HANDLER) {
        // Nothing is polled while a handler runs but errors and hang-ups, which epoll always
        // reports: the connection is gone.
        if (ready & (Ready.ERROR | Ready.WRITE_CLOSED)) this.#close(c, true);
      } else if (c.state === S_LINGER) {
        this.#drainLinger(c);
      } else {
        this.#read(c);
      }
    } catch (error) {
      this.#report(error);
      this.#close(c, true);
    }
  };

  #read(c: Conn): void {
    const buf = this.#readBuffer;
    for (let i = 0; i < READS_PER_WAKE; i++) {
      const n = sysRecv(c.fd, buf, 0);
      if (n > 0) {
        if (c.buffer === null) {
          this.#serve(c, buf, n);
        } else {
          this.#appendTail(c, buf, n);
          this.#serve(c, c.buffer!, c.length);
        }
        // Stop when the socket is drained (level-triggered: more is reported again), or the
        // connection stopped reading.
        if (n < buf.length || c.fd < 0 || c.output !== null || c.state >= S_HANDLER) return;
        continue;
      }
      if (n === 0) {
        this.#onEof(c);
        return;
      }
      if (n === -EAGAIN) return;
      if (n === -EINTR) continue;
      this.#close(c, true);
      return;
    }
  }

  #appendTail(c: Conn, data: Uint8Array, n: number): void {
    let buffer = c.buffer!;
    const needed = c.length + n;
    if (needed > buffer.length) {
      let capacity = buffer.length * 2;
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(buffer.subarray(0, c.length));
      c.buffer = buffer = grown;
    }
    buffer.set(n === data.length ? data : data.subarray(0, n), c.length);
    c.length = needed;
  }

  #onEof(c: Conn): void {
    c.flags |= F_EOF;
    // Complete requests were all answered; a partial one can never complete.
    this.#close(c);
  }

  #drainLinger(c: Conn): void {
    const buf = this.#readBuffer;
    for (let i = 0; i < READS_PER_WAKE; i++) {
      const n = sysRecv(c.fd, buf, 0);
      if (n === -EAGAIN) return;
      if (n === -EINTR || n > 0) continue;
      this.#close(c); // EOF or an error: the client has what we sent
      return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Serving a batch

  /**
   * Parses and answers every complete request in `buf[0, end)` (the shared read buffer or the
   * connection's own), writes the batch, and keeps what is left.
   */
  #serve(c: Conn, buf: Uint8Array<ArrayBuffer>, end: number): void {
    const parser = c.parser ?? this.#parser;
    let pos = 0;
    let completed = 0;
    let incomplete = false;
    while (pos < end) {
      const r = parser.parse(buf, pos, end);
      if (r > 0) {
        completed++;
        this.#stats.requests++;
        c.flags &= ~F_CONTINUE_SENT;
        const keepAlive = parser.keepAlive && !this.#draining;
        const isHead = parser.method === "HEAD";
        let response: HttpResponse | Promise<HttpResponse>;
        try {
          response = this.#handler(parser);
        } catch (error) {
          this.#report(error);
          response = SERVER_ERROR;
        }
        pos += r;
        if (isPromise(response)) {
          if (!keepAlive) c.flags |= F_CLOSE_AFTER;
          this.#awaitResponse(c, response, isHead, parser);
          break;
        }
        const keep = keepAlive && response !== SERVER_ERROR;
        if (!this.#respond(c, response, isHead, keep, parser)) {
          c.flags |= F_CLOSE_AFTER;
          break;
        }
        if (!keep) {
          c.flags |= F_CLOSE_AFTER;
          // Bytes after the last request: the client may still be sending; linger for them.
          if (pos < end) c.flags |= F_LINGER;
          break;
        }
        if (
          this.#batchTotal >= BATCH_BYTES_LIMIT || this.#segments.length >= BATCH_SEGMENTS_LIMIT
        ) {
          this.#flush(c);
          if (c.fd < 0) return;
          if (c.output !== null) break; // held back until the client reads
        }
        continue;
      }
      if (r === INCOMPLETE) {
        incomplete = true;
        if (
          parser.expectContinue && parser.headComplete && (c.flags & F_CONTINUE_SENT) === 0
        ) {
          c.flags |= F_CONTINUE_SENT;
          this.#append(CONTINUE_RESPONSE);
        }
        break;
      }
      // A framing error: reply, then close (the next message cannot be located).
      this.#reject(c, parser.errorStatus);
      parser.reset();
      c.flags |= F_CLOSE_AFTER | F_LINGER;
      pos = end;
      break;
    }

    this.#flush(c);
    if (c.fd < 0) return;

    if ((c.flags & F_CLOSE_AFTER) !== 0) {
      // Never leave the shared parser in the middle of a message.
      if (incomplete && c.parser === null) parser.reset();
      this.#dropTail(c);
      if (c.output !== null) this.#setInterest(c, Interest.WRITABLE);
      else if (c.state === S_HANDLER) this.#setInterest(c, 0);
      else this.#closeAfterReply(c);
      return;
    }

    const left = end - pos;
    if (left === 0) {
      this.#dropTail(c);
    } else if (buf !== c.buffer) {
      const tail = new Uint8Array(left < 1024 ? 1024 : left);
      tail.set(buf.subarray(pos, end));
      c.buffer = tail;
      c.length = left;
    } else {
      if (pos > 0) buf.copyWithin(0, pos, end);
      c.length = left;
    }
    if (incomplete && c.parser === null) {
      // The shared parser holds this request's progress: the connection takes it along.
      c.parser = parser;
      this.#parser = this.#parsers.pop() ?? new RequestParser(this.#parserOptions);
    }

    if (c.state === S_HANDLER) {
      this.#setInterest(c, c.output === null ? 0 : Interest.WRITABLE);
      return;
    }
    if (c.output !== null) {
      this.#setInterest(c, Interest.WRITABLE);
      this.#deadlines[c.slot] = this.#idleDeadline();
      return;
    }
    if (!incomplete) {
      if (left > 0) return; // requests held back (a flush stalled): resumed after the drain
      if (this.#draining) {
        this.#close(c);
        return;
      }
      c.state = S_IDLE;
      this.#deadlines[c.slot] = this.#idleDeadline();
    } else if (parser.headComplete) {
      c.state = S_BODY;
      this.#deadlines[c.slot] = this.#idleDeadline();
    } else if (c.state !== S_HEAD || completed > 0) {
      // The first byte of a new request: the header deadline starts now.
      c.state = S_HEAD;
      this.#deadlines[c.slot] = this.#headerTimeoutMs > 0 ? this.#now + this.#headerTimeoutMs : 0;
    }
  }

  #idleDeadline(): number {
    return this.#idleTimeoutMs > 0 ? this.#now + this.#idleTimeoutMs : 0;
  }

  #dropTail(c: Conn): void {
    c.buffer = null;
    c.length = 0;
    const parser = c.parser;
    if (parser !== null) {
      c.parser = null;
      parser.reset();
      if (this.#parsers.length < PARSER_POOL_SIZE) this.#parsers.push(parser);
    }
  }

  /** Appends a response to the batch; false when it could not be built (a 500 replaced it). */
  #respond(
    c: Conn,
    response: HttpResponse,
    isHead: boolean,
    keepAlive: boolean,
    request: HttpRequest | null,
  ): boolean {
    let status: number;
    let length: number;
    if (response instanceof FixedResponse) {
      const bytes = response.bytes(keepAlive);
      this.#append(isHead ? headOnly(bytes) : bytes);
      if (this.#accessLog === undefined) return true;
      status = statusOf(bytes);
      length = bytes.length;
    } else {
      let head: Uint8Array;
      let body: Uint8Array;
      try {
        status = response.status ?? 200;
        const raw = response.body ?? EMPTY;
        body = typeof raw === "string" ? ENCODER.encode(raw) : raw;
        if (status < 200 || status === 204 || status === 304) body = EMPTY;
        head = writeResponseHead(status, response.headers, body.length, keepAlive);
      } catch (error) {
        this.#report(error);
        this.#respond(c, SERVER_ERROR, isHead, false, request);
        return false;
      }
      this.#append(head);
      if (!isHead && body.length > 0) this.#append(body);
      if (this.#accessLog === undefined) return true;
      length = head.length + body.length;
    }
    this.#log(c, request, status, length);
    return true;
  }

  #reject(c: Conn, status: number): void {
    this.#stats.rejected++;
    this.#rejectedByStatus[status] = (this.#rejectedByStatus[status] ?? 0) + 1;
    const bytes = errorResponse(status);
    this.#append(bytes);
    this.#log(c, null, status, bytes.length);
  }

  #log(c: Conn, request: HttpRequest | null, status: number, length: number): void {
    const log = this.#accessLog;
    if (log === undefined) return;
    let peer = "-";
    const lengthBuf = new Uint8Array(4);
    new DataView(lengthBuf.buffer).setUint32(0, SOCKADDR_STORAGE_SIZE, true);
    const addr = new Uint8Array(SOCKADDR_STORAGE_SIZE);
    if (sysGetpeername(c.fd, addr, lengthBuf) === 0) {
      const a = decodeSockaddr(addr);
      if (a) peer = `${a.hostname}:${a.port}`;
    }
    const line = request === null
      ? `${peer} - ${status} ${length}`
      : `${peer} "${request.method} ${request.target} HTTP/${
        request.version === 1 ? "1.0" : "1.1"
      }" ${status} ${length}`;
    try {
      log(line);
    } catch (error) {
      this.#report(error);
    }
  }

  #awaitResponse(
    c: Conn,
    promise: Promise<HttpResponse>,
    isHead: boolean,
    request: HttpRequest,
  ): void {
    c.state = S_HANDLER;
    this.#deadlines[c.slot] = 0;
    this.#stats.pendingHandlers++;
    // The request view dies with this batch: keep what the access log prints.
    const logged = this.#accessLog === undefined ? null : {
      method: request.method,
      target: request.target,
      version: request.version,
    } as HttpRequest;
    promise.then(
      (response) => this.#handlerDone(c, response, isHead, logged),
      (error) => {
        this.#report(error);
        this.#handlerDone(c, SERVER_ERROR, isHead, logged);
      },
    );
  }

  #handlerDone(
    c: Conn,
    response: HttpResponse,
    isHead: boolean,
    request: HttpRequest | null,
  ): void {
    this.#stats.pendingHandlers--;
    if (c.fd < 0 || c.state !== S_HANDLER) return; // closed meanwhile
    try {
      const keep = (c.flags & F_CLOSE_AFTER) === 0 && !this.#draining &&
        response !== SERVER_ERROR;
      if (!this.#respond(c, response, isHead, keep, request) || !keep) c.flags |= F_CLOSE_AFTER;
      c.state = S_IDLE;
      this.#flush(c);
      if (c.fd < 0) return;
      if ((c.flags & F_CLOSE_AFTER) !== 0) {
        this.#dropTail(c);
        if (c.output === null) this.#closeAfterReply(c);
        else this.#setInterest(c, Interest.WRITABLE);
        return;
      }
      if (c.output !== null) {
        this.#setInterest(c, Interest.WRITABLE);
        this.#deadlines[c.slot] = this.#idleDeadline();
        return;
      }
      this.#resume(c);
    } catch (error) {
      this.#report(error);
      this.#close(c, true);
    }
  }

  /** Reading again after output drained or a handler finished: serve what was held back. */
  #resume(c: Conn): void {
    this.#setInterest(c, Interest.READABLE);
    if (c.length > 0) {
      this.#serve(c, c.buffer!, c.length);
    } else if (this.#draining) {
      this.#close(c);
    } else {
      c.state = S_IDLE;
      this.#deadlines[c.slot] = this.#idleDeadline();
    }
  }

  #setInterest(c: Conn, interest: number): void {
    const registration = c.registration!;
    if (registration.interest !== interest) registration.modify(interest);
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  #append(bytes: Uint8Array): void {
    const length = bytes.length;
    if (this.#batchTotal === 0) {
      // Most batches are one response: send it as it is, without a copy.
      this.#single = bytes;
      this.#batchTotal = length;
      return;
    }
    const single = this.#single;
    if (single !== null) {
      this.#single = null;
      this.#place(single);
    }
    this.#place(bytes);
    this.#batchTotal += length;
  }

  #place(bytes: Uint8Array): void {
    const length = bytes.length;
    if (length <= COPY_LIMIT && this.#batchLength + length <= this.#batch.length) {
      this.#batch.set(bytes, this.#batchLength);
      this.#batchLength += length;
      return;
    }
    if (this.#batchLength > this.#batchRegionStart) {
      this.#segments.push(this.#batch.subarray(this.#batchRegionStart, this.#batchLength));
    }
    this.#segments.push(bytes);
    this.#batchRegionStart = this.#batchLength;
  }

  /** Writes the batch; keeps what did not fit as the connection's pending output. */
  #flush(c: Conn): void {
    const total = this.#batchTotal;
    if (total === 0) return;
    let written: number;
    const single = this.#single;
    if (c.output !== null) {
      // Earlier output still waits for the client: queue behind it, never around it.
      written = 0;
    } else if (single !== null) {
      written = this.#send(c.fd, single as Uint8Array<ArrayBuffer>);
    } else if (this.#segments.length === 0) {
      written = this.#send(c.fd, this.#batch.subarray(0, this.#batchLength));
    } else {
      if (this.#batchLength > this.#batchRegionStart) {
        this.#segments.push(this.#batch.subarray(this.#batchRegionStart, this.#batchLength));
      }
      const segments = this.#segments as Uint8Array<ArrayBuffer>[];
      encodeIovecs(this.#iovecs, segments, 0, segments.length, 0);
      written = sysWritev(
        c.fd,
        new Uint8Array(this.#iovecs.buffer, 0, segments.length * IOVEC_SIZE),
        segments.length,
      );
      while (written === -EINTR) {
        written = sysWritev(
          c.fd,
          new Uint8Array(this.#iovecs.buffer, 0, segments.length * IOVEC_SIZE),
          segments.length,
        );
      }
      if (written === -EAGAIN) written = 0;
    }
    if (written >= 0 && written < total) this.#keepOutput(c, written, total);
    this.#single = null;
    this.#segments.length = 0;
    this.#batchLength = 0;
    this.#batchRegionStart = 0;
    this.#batchTotal = 0;
    if (written < 0) this.#close(c, true);
  }

  #send(fd: number, bytes: Uint8Array<ArrayBuffer>): number {
    for (;;) {
      const r = sysSend(fd, bytes, MSG_NOSIGNAL);
      if (r >= 0) return r;
      if (r === -EAGAIN) return 0;
      if (r !== -EINTR) return r;
    }
  }

  /** Copies the unwritten part of the batch (from byte `written`) into the connection. */
  #keepOutput(c: Conn, written: number, total: number): void {
    const pending = c.output === null ? 0 : c.output.length - c.outputOffset;
    const rest = new Uint8Array(pending + total - written);
    if (pending > 0) rest.set(c.output!.subarray(c.outputOffset));
    let skip = written;
    let at = pending;
    const take = (piece: Uint8Array): void => {
      if (skip >= piece.length) {
        skip -= piece.length;
        return;
      }
      const part = skip > 0 ? piece.subarray(skip) : piece;
      skip = 0;
      rest.set(part, at);
      at += part.length;
    };
    if (this.#single !== null) take(this.#single);
    else if (this.#segments.length === 0) take(this.#batch.subarray(0, this.#batchLength));
    else for (const piece of this.#segments) take(piece);
    c.output = rest;
    c.outputOffset = 0;
  }

  #writePending(c: Conn): void {
    const output = c.output!;
    const r = this.#send(
      c.fd,
      c.outputOffset === 0 ? output : output.subarray(c.outputOffset),
    );
    if (r < 0) {
      this.#close(c, true);
      return;
    }
    c.outputOffset += r;
    if (c.outputOffset < output.length) {
      if (r > 0) this.#deadlines[c.slot] = this.#idleDeadline();
      return;
    }
    c.output = null;
    c.outputOffset = 0;
    if (c.state === S_HANDLER) {
      this.#setInterest(c, 0); // its answer comes later
      return;
    }
    if ((c.flags & F_CLOSE_AFTER) !== 0) {
      this.#closeAfterReply(c);
      return;
    }
    this.#resume(c);
  }

  // -------------------------------------------------------------------------------------------
  // Closing

  /**
   * The reply is out and the connection must end. After a framing error the client may still be
   * sending: closing with unread input would send a reset that can destroy the reply in the
   * client's buffer, so shut the write side (FIN after the reply) and drain input until the
   * client closes or `lingerMs` passes (Go's closeWriteAndWait, nginx's lingering close).
   */
  #closeAfterReply(c: Conn): void {
    if ((c.flags & F_LINGER) === 0 || (c.flags & F_EOF) !== 0 || this.#lingerMs === 0) {
      this.#close(c);
      return;
    }
    sysShutdown(c.fd, SHUT_WR);
    this.#dropTail(c);
    c.state = S_LINGER;
    this.#deadlines[c.slot] = this.#now + this.#lingerMs;
    this.#setInterest(c, Interest.READABLE);
  }

  #close(c: Conn, reset = false): void {
    const fd = c.fd;
    if (fd < 0) return;
    if (reset) this.#stats.resets++;
    // Deregister before close(2), so no event for this number reaches its next owner.
    c.registration?.deregister();
    c.registration = null;
    sysClose(fd);
    c.fd = -1;
    this.#conns[fd] = undefined;
    const live = this.#live;
    const last = live.pop()!;
    if (last !== c) {
      live[c.slot] = last;
      this.#deadlines[c.slot] = this.#deadlines[last.slot]!;
      last.slot = c.slot;
    }
    this.#dropTail(c);
    c.output = null;
    if (live.length === 0) this.#stopSweep();
    if (this.#acceptPaused && live.length < this.#maxConnections) this.#resumeAccept();
    if (this.#draining && live.length === 0) this.#finish();
  }

  // -------------------------------------------------------------------------------------------
  // Deadlines: one periodic sweep over the live connections.

  #startSweep(): void {
    this.#now = Date.now();
    const timer = setInterval(this.#sweep, this.#sweepIntervalMs);
    // The connections' registrations keep the process alive; the sweep only serves them.
    Deno.unrefTimer(timer);
    this.#sweepTimer = timer;
  }

  #stopSweep(): void {
    if (this.#sweepTimer === undefined) return;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  #sweep = (): void => {
    const now = this.#now = Date.now();
    const live = this.#live;
    const deadlines = this.#deadlines;
    // Backwards: closing swaps the last connection into the closed one's slot.
    for (let i = live.length - 1; i >= 0; i--) {
      const deadline = deadlines[i]!;
      if (deadline === 0 || deadline > now) continue;
      const c = live[i]!;
      try {
        this.#expire(c);
      } catch (error) {
        this.#report(error);
        this.#close(c, true);
      }
    }
  };

  #expire(c: Conn): void {
    if (c.output !== null || c.state === S_LINGER) {
      this.#close(c); // a client that does not read, or a linger that is over
      return;
    }
    if (c.state === S_IDLE) {
      this.#stats.idleTimeouts++;
      this.#close(c);
      return;
    }
    if (c.state === S_HEAD || c.state === S_BODY) {
      if (c.state === S_HEAD) this.#stats.headerTimeouts++;
      else this.#stats.idleTimeouts++;
      if (c.length === 0 && c.state === S_HEAD) {
        this.#close(c); // not a byte sent: nothing to answer
        return;
      }
      this.#dropTail(c);
      this.#reject(c, 408);
      c.flags |= F_CLOSE_AFTER | F_LINGER;
      this.#flush(c);
      if (c.fd < 0) return;
      if (c.output === null) this.#closeAfterReply(c);
      else this.#setInterest(c, Interest.WRITABLE);
    }
  }
}

/**
 * Starts an HTTP/1.1 server: binds (synchronously: port conflicts throw here), then serves on the
 * reactor until {@linkcode HttpServer.shutdown}. See the module documentation for the design.
 * Bad options throw TypeError/RangeError before anything is bound.
 *
 * @example
 * ```ts
 * import { FixedResponse, serveHttp } from "../mod.ts";
 *
 * const hello = new FixedResponse(200, {
 *   headers: Object.freeze({ "Content-Type": "text/plain" }),
 *   body: "Hello, World!",
 * });
 * const server = serveHttp({
 *   port: 0,
 *   handler: (request) => request.path === "/" ? hello : { status: 404, body: "not found\n" },
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/nope`);
 * console.log(response.status); // 404
 * await response.body?.cancel();
 * await server.shutdown();
 * ```
 */
export function serveHttp(options: ServeHttpOptions): HttpServer {
  return new Server(options);
}
