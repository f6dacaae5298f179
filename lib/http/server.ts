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
 * import { FixedResponse, serveHttp } from "./mod.ts";
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

import { SHUT_WR } from "../../ffi/constants.ts";
import { sysClose, sysShutdown } from "../../ffi/libc.ts";
import type { SocketAddress } from "../net/address.ts";
import { Interest } from "../reactor/interest.ts";
import { Reactor } from "../reactor/reactor.ts";
import type { Registration } from "../reactor/registration.ts";
import { sendSome } from "../net/write.ts";
import { Acceptor } from "./_acceptor.ts";
import { EMPTY } from "./_bytes.ts";
import { Responder, SERVER_ERROR } from "./_responder.ts";
import {
  Conn,
  F_BODY_TAKEOVER,
  F_CLOSE_AFTER,
  F_CONTINUE_SENT,
  F_EOF,
  F_LINGER,
  MIN_TAIL_BUFFER,
  notifyWritten,
  S_BODY,
  S_HANDLER,
  S_HEAD,
  S_IDLE,
  S_LINGER,
  setInterest,
  tellGone,
  waitToWrite,
} from "./_connection.ts";
import { Reader } from "./_reader.ts";
import {
  type CoreAnswer,
  type CoreHooks,
  isPromise,
  isTakeover,
  type Takeover,
} from "./_takeover.ts";
import { Takeovers } from "./_takeovers.ts";
import { ConnectionTable } from "./_connection_table.ts";
import { OutputBatch } from "./_output_batch.ts";
import { checkTimeout, resolveServeOptions } from "./_server_options.ts";
import { INCOMPLETE } from "./_parser_base.ts";
import { RequestParser, type RequestParserOptions } from "./request_parser.ts";
import { CONTINUE_RESPONSE } from "./serializer.ts";
import type {
  HttpHandler,
  HttpRequest,
  HttpResponse,
  HttpServer,
  HttpServerStats,
  ServeHttpOptions,
  ShutdownOptions,
} from "./server_types.ts";

/** Loopback only unless asked: a development server should not be reachable from the network. */
const DEFAULT_HOSTNAME = "127.0.0.1";
/** Free parsers kept for connections that stop mid-request. */
const PARSER_POOL_SIZE = 64;
const REQUEST_TIMEOUT = 408;

export class Server implements HttpServer {
  readonly addr: SocketAddress;
  readonly finished: Promise<void>;
  #resolveFinished!: () => void;
  #acceptor: Acceptor;
  #reactor: Reactor;
  #handler: HttpHandler;
  #parserOptions: RequestParserOptions;
  #maxConnections: number;
  #idleTimeoutMs: number;
  #headerTimeoutMs: number;
  #lingerMs: number;
  #onError: (error: unknown) => void;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #hooks: CoreHooks | undefined;
  /** Whether connections keep the process alive (`ref()`/`unref()`). */
  #refd = true;

  /** The live connections and their deadlines. */
  #table: ConnectionTable;
  #parser: RequestParser;
  #parsers: RequestParser[] = [];
  #reader: Reader;
  #takeovers: Takeovers;

  /** The responses of the batch being served, written with one send or writev. */
  #output: OutputBatch;
  #responder: Responder;

  #draining = false;
  #finished = false;
  #shutdownPromise: Promise<void> | undefined;
  #shutdownTimer: ReturnType<typeof setTimeout> | undefined;

  #stats = {
    accepted: 0,
    requests: 0,
    headerTimeouts: 0,
    idleTimeouts: 0,
    resets: 0,
    pendingHandlers: 0,
  };

  constructor(options: ServeHttpOptions, hooks?: CoreHooks) {
    this.#hooks = hooks;
    const settings = resolveServeOptions(options);
    this.#handler = settings.handler;
    this.#maxConnections = settings.maxConnections;
    this.#idleTimeoutMs = settings.idleTimeoutMs;
    this.#headerTimeoutMs = settings.headerTimeoutMs;
    this.#lingerMs = settings.lingerMs;
    this.#onError = settings.onError;
    this.#parserOptions = settings.parserOptions;
    // Validates the limits before anything is bound.
    this.#parser = new RequestParser(this.#parserOptions);
    this.#table = new ConnectionTable(settings.sweepIntervalMs, this.#expireSafely);
    this.#output = new OutputBatch((c, reset) => this.#close(c, reset));
    this.#responder = new Responder(this.#output, settings.accessLog, (e) => this.#report(e));
    this.#reactor = options.reactor ?? Reactor.default();
    const table = this.#table;
    this.#reader = new Reader({
      conn: (registration) => {
        const c = table.get(registration.fd);
        return c !== undefined && c.registration === registration ? c : undefined;
      },
      serve: (c, buf, end) => this.#serve(c, buf, end),
      writePending: (c) => this.#writePending(c),
      close: (c, reset) => this.#close(c, reset),
      report: this.#report,
    });
    // deno-lint-ignore no-this-alias
    const server = this;
    this.#takeovers = new Takeovers({
      reactor: this.#reactor,
      table,
      get refd() {
        return server.#refd;
      },
      get draining() {
        return server.#draining;
      },
      register: (fd) => this.#register(fd),
      resume: (c) => this.#resume(c),
      dropTail: (c) => this.#dropTail(c),
      close: (c, reset) => this.#close(c, reset),
      forget: (c, fd) => this.#forget(c, fd),
      report: this.#report,
    });
    this.#acceptor = new Acceptor({
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? 0,
      reactor: this.#reactor,
      noDelay: settings.noDelay,
      ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
      ...(options.reusePort !== undefined ? { reusePort: options.reusePort } : {}),
    }, {
      canAccept: () => this.#table.size < this.#maxConnections,
      adopt: (fd) => this.#adopt(fd),
      report: (error) => this.#report(error),
    });
    this.addr = this.#acceptor.addr;
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
      connections: this.#table.size,
      accepted: s.accepted,
      requests: s.requests,
      rejected: this.#responder.rejected,
      rejectedByStatus: { ...this.#responder.rejectedByStatus },
      headerTimeouts: s.headerTimeouts,
      idleTimeouts: s.idleTimeouts,
      resets: s.resets,
      acceptPaused: this.#acceptor.paused,
      acceptPauses: this.#acceptor.pauses,
      pendingHandlers: s.pendingHandlers,
      shuttingDown: this.#draining,
    };
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#shutdownPromise) return this.#shutdownPromise;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) checkTimeout(timeoutMs, "timeoutMs", 0);
    this.#draining = true;
    if (this.#signal && this.#onAbort) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
    this.#acceptor.close();
    // Idle connections close now; busy ones close when they next become idle.
    const table = this.#table;
    for (let i = table.size - 1; i >= 0; i--) {
      const c = table.at(i);
      if (c.output === null && c.length === 0 && (c.state === S_IDLE || c.state === S_HEAD)) {
        this.#close(c);
      }
    }
    this.#shutdownPromise = this.finished;
    if (table.size === 0) {
      this.#finish();
    } else if (timeoutMs !== undefined) {
      this.#shutdownTimer = setTimeout(() => {
        this.#shutdownTimer = undefined;
        for (let i = table.size - 1; i >= 0; i--) this.#close(table.at(i));
      }, timeoutMs);
    }
    return this.#shutdownPromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** Whether a shutdown has begun (responses then say `Connection: close`). */
  get draining(): boolean {
    return this.#draining;
  }

  ref(): void {
    this.#setRef(true);
  }

  unref(): void {
    this.#setRef(false);
  }

  /** Whether the listener and the connections keep the process alive (Deno.HttpServer.ref). */
  #setRef(on: boolean): void {
    if (this.#refd === on) return;
    this.#refd = on;
    this.#acceptor.setRef(on);
    const table = this.#table;
    for (let i = 0; i < table.size; i++) {
      const registration = table.at(i).registration;
      if (on) registration?.ref();
      else registration?.unref();
    }
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#shutdownTimer !== undefined) clearTimeout(this.#shutdownTimer);
    this.#shutdownTimer = undefined;
    this.#table.stop();
    this.#resolveFinished();
  }

  #report = (error: unknown): void => {
    try {
      this.#onError(error);
    } catch {
      // A reporter that throws must not take the server down.
    }
  };

  // -------------------------------------------------------------------------------------------
  // Accepting (the acceptor calls this for each new descriptor)

  #adopt(fd: number): void {
    const c = new Conn(fd);
    try {
      c.registration = this.#register(fd);
    } catch (error) {
      sysClose(fd);
      this.#report(error);
      return;
    }
    this.#stats.accepted++;
    this.#table.add(c);
    // The first request's head must arrive within the header timeout of the connection's start.
    c.state = S_HEAD;
    this.#table.setDeadline(c, this.#table.after(this.#headerTimeoutMs));
  }

  /** Registers a connection's descriptor for reading: readiness or received data (io_uring). */
  #register(fd: number): Registration {
    const reader = this.#reader;
    return this.#reactor.registerSocket(fd, Interest.READABLE, reader.onReady, {
      ref: this.#refd,
      onData: reader.onData,
      onSent: this.#onSent,
    });
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
        const hooks = this.#hooks;
        let response: CoreAnswer;
        try {
          response = hooks === undefined
            ? this.#handler(parser)
            : hooks.handle(parser, c, false, buf, pos);
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
        if (hooks !== undefined && isTakeover(response)) {
          if (!keepAlive) c.flags |= F_CLOSE_AFTER;
          c.takeover = response;
          break;
        }
        const keep = keepAlive && response !== SERVER_ERROR;
        if (!this.#responder.respond(c, response as HttpResponse, isHead, keep, parser)) {
          c.flags |= F_CLOSE_AFTER;
          break;
        }
        if (!keep) {
          c.flags |= F_CLOSE_AFTER;
          // Bytes after the last request: the client may still be sending; linger for them.
          if (pos < end) c.flags |= F_LINGER;
          break;
        }
        if (this.#output.full) {
          this.#output.flush(c);
          if (c.fd < 0) return;
          if (c.output !== null) break; // held back until the client reads
        }
        continue;
      }
      if (r === INCOMPLETE) {
        if (this.#hooks !== undefined && parser.headComplete) {
          // serve(): the body streams. The handler runs now and takes the connection; what
          // followed the head in this read is the start of the body.
          this.#handleBodyPending(c, parser, buf, pos, end);
          pos = end;
          break;
        }
        incomplete = true;
        if (
          parser.expectContinue && parser.headComplete && (c.flags & F_CONTINUE_SENT) === 0
        ) {
          c.flags |= F_CONTINUE_SENT;
          this.#output.append(CONTINUE_RESPONSE);
        }
        break;
      }
      // A framing error: reply, then close (the next message cannot be located).
      this.#responder.reject(c, parser.errorStatus);
      parser.reset();
      c.flags |= F_CLOSE_AFTER | F_LINGER;
      pos = end;
      break;
    }

    this.#output.flush(c);
    if (c.fd < 0) return;
    if (c.output === null && !c.sending) notifyWritten(c);

    if ((c.flags & F_CLOSE_AFTER) !== 0) {
      // Never leave the shared parser in the middle of a message.
      if (incomplete && c.parser === null) parser.reset();
      this.#dropTail(c);
      if (c.takeover !== null) this.#takeovers.begin(c);
      else if (c.output !== null) waitToWrite(c);
      else if (c.state === S_HANDLER) setInterest(c, 0);
      else this.#closeAfterReply(c);
      return;
    }

    const left = end - pos;
    if (left === 0) {
      this.#dropTail(c);
    } else if (buf !== c.buffer) {
      const tail = new Uint8Array(left < MIN_TAIL_BUFFER ? MIN_TAIL_BUFFER : left);
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

    if (c.takeover !== null) {
      this.#takeovers.begin(c);
      return;
    }
    if (c.state === S_HANDLER) {
      // Still polled for reading (see #whileHandling): no epoll_ctl while a handler runs.
      if (c.output !== null) waitToWrite(c);
      return;
    }
    if (c.output !== null) {
      waitToWrite(c);
      this.#table.setDeadline(c, this.#table.after(this.#idleTimeoutMs));
      return;
    }
    if ((c.flags & F_EOF) !== 0 && (left === 0 || incomplete)) {
      // The client's EOF was received before these requests were served: all are answered (a
      // partial one can never complete).
      this.#close(c);
      return;
    }
    if (!incomplete) {
      if (left > 0) return; // requests held back (a flush stalled): resumed after the drain
      if (this.#draining) {
        this.#close(c);
        return;
      }
      c.state = S_IDLE;
      this.#table.setDeadline(c, this.#table.after(this.#idleTimeoutMs));
    } else if (parser.headComplete) {
      c.state = S_BODY;
      this.#table.setDeadline(c, this.#table.after(this.#idleTimeoutMs));
    } else if (c.state !== S_HEAD || completed > 0) {
      // The first byte of a new request: the header deadline starts now.
      c.state = S_HEAD;
      this.#table.setDeadline(c, this.#table.after(this.#headerTimeoutMs));
    }
  }

  /**
   * serve()'s streamed request body: the handler is called with the head; it must answer with a
   * takeover (directly or by a promise), which gets the body's first bytes.
   */
  #handleBodyPending(
    c: Conn,
    parser: RequestParser,
    buf: Uint8Array<ArrayBuffer>,
    pos: number,
    end: number,
  ): void {
    this.#stats.requests++;
    c.flags &= ~F_CONTINUE_SENT;
    if (!parser.keepAlive || this.#draining) c.flags |= F_CLOSE_AFTER;
    const isHead = parser.method === "HEAD";
    c.takeoverInput = buf.slice(pos + parser.headLength, end);
    c.flags |= F_BODY_TAKEOVER;
    let answer: CoreAnswer;
    try {
      answer = this.#hooks!.handle(parser, c, true, buf, pos);
    } catch (error) {
      this.#report(error);
      answer = SERVER_ERROR;
    }
    if (isPromise(answer)) {
      this.#awaitResponse(c, answer, isHead, parser);
    } else if (isTakeover(answer)) {
      c.takeover = answer;
    } else {
      // Only a takeover can read the rest of the body: anything else answers and closes.
      c.takeoverInput = EMPTY;
      this.#responder.respond(c, answer, isHead, false, parser);
      c.flags |= F_CLOSE_AFTER | F_LINGER;
    }
    // The takeover decodes the body from here; the parser is done with this message.
    parser.reset();
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

  #awaitResponse(
    c: Conn,
    promise: Promise<HttpResponse | Takeover>,
    isHead: boolean,
    request: HttpRequest,
  ): void {
    c.state = S_HANDLER;
    this.#table.setDeadline(c, 0);
    this.#stats.pendingHandlers++;
    // The request view dies with this batch: keep what the access log prints.
    const logged = !this.#responder.logging ? null : {
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
    response: HttpResponse | Takeover,
    isHead: boolean,
    request: HttpRequest | null,
  ): void {
    this.#stats.pendingHandlers--;
    if (c.fd < 0 || c.state !== S_HANDLER) return; // closed meanwhile
    try {
      if (this.#hooks !== undefined && isTakeover(response)) {
        c.takeover = response;
        this.#takeovers.begin(c);
        return;
      }
      const keep = (c.flags & F_CLOSE_AFTER) === 0 && !this.#draining &&
        response !== SERVER_ERROR;
      if (!this.#responder.respond(c, response as HttpResponse, isHead, keep, request) || !keep) {
        c.flags |= F_CLOSE_AFTER;
      }
      c.state = S_IDLE;
      this.#output.flush(c);
      if (c.fd < 0) return;
      if (c.output === null && !c.sending) notifyWritten(c);
      if ((c.flags & F_CLOSE_AFTER) !== 0) {
        this.#dropTail(c);
        if (c.output === null) this.#closeAfterReply(c);
        else waitToWrite(c);
        return;
      }
      if (c.output !== null) {
        waitToWrite(c);
        this.#table.setDeadline(c, this.#table.after(this.#idleTimeoutMs));
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
    setInterest(c, Interest.READABLE);
    if (c.length > 0) {
      this.#serve(c, c.buffer!, c.length);
    } else if (this.#draining || (c.flags & F_EOF) !== 0) {
      this.#close(c);
    } else {
      c.state = S_IDLE;
      this.#table.setDeadline(c, this.#table.after(this.#idleTimeoutMs));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  #writePending(c: Conn): void {
    if (c.sending) return; // behind a send on the ring: its end writes the rest
    const output = c.output!;
    const r = sendSome(c.fd, c.outputOffset === 0 ? output : output.subarray(c.outputOffset));
    if (r < 0) {
      this.#close(c, true);
      return;
    }
    c.outputOffset += r;
    if (c.outputOffset < output.length) {
      if (r > 0) this.#table.setDeadline(c, this.#table.after(this.#idleTimeoutMs));
      return;
    }
    c.output = null;
    c.outputOffset = 0;
    notifyWritten(c);
    if (c.takeover !== null) {
      this.#takeovers.begin(c);
      return;
    }
    if (c.state === S_HANDLER) {
      setInterest(c, 0); // its answer comes later
      return;
    }
    if ((c.flags & F_CLOSE_AFTER) !== 0) {
      this.#closeAfterReply(c);
      return;
    }
    this.#resume(c);
  }

  /**
   * A send on the ring ended (io_uring: the batch's output went with {@linkcode Registration.send}
   * instead of send(2)). Output queued behind it goes now; what waited for it proceeds.
   */
  #onSent = (result: number, registration: Registration): void => {
    const c = this.#table.get(registration.fd);
    if (c === undefined || c.registration !== registration) return;
    c.sending = false;
    try {
      if (result < 0) {
        this.#close(c, true);
        return;
      }
      if (c.output !== null) {
        setInterest(c, Interest.WRITABLE);
        this.#writePending(c);
        return;
      }
      notifyWritten(c);
      if (c.takeover !== null) this.#takeovers.begin(c);
      else if (c.state !== S_HANDLER && (c.flags & F_CLOSE_AFTER) !== 0) this.#closeAfterReply(c);
    } catch (error) {
      this.#report(error);
      this.#close(c, true);
    }
  };

  // -------------------------------------------------------------------------------------------
  // Closing

  /**
   * The reply is out and the connection must end. After a framing error the client may still be
   * sending: closing with unread input would send a reset that can destroy the reply in the
   * client's buffer, so shut the write side (FIN after the reply) and drain input until the
   * client closes or `lingerMs` passes (Go's closeWriteAndWait, nginx's lingering close).
   */
  #closeAfterReply(c: Conn): void {
    if (c.sending) {
      setInterest(c, 0); // after the send on the ring: its end comes back here
      return;
    }
    if ((c.flags & F_LINGER) === 0 || (c.flags & F_EOF) !== 0 || this.#lingerMs === 0) {
      this.#close(c);
      return;
    }
    sysShutdown(c.fd, SHUT_WR);
    this.#dropTail(c);
    c.state = S_LINGER;
    this.#table.setDeadline(c, this.#table.now + this.#lingerMs);
    setInterest(c, Interest.READABLE);
  }

  #close(c: Conn, reset = false): void {
    const fd = c.fd;
    if (fd < 0) return;
    if (reset) this.#stats.resets++;
    // Deregister before close(2), so no event for this number reaches its next owner.
    c.registration?.deregister();
    c.registration = null;
    const stream = c.stream;
    if (stream !== null) {
      c.stream = null;
      stream.close(); // a takeover owns the descriptor: its stream closes it, once
    } else {
      sysClose(fd);
    }
    this.#forget(c, fd);
  }

  /** Drops a connection whose descriptor is closed or no longer ours. */
  #forget(c: Conn, fd: number): void {
    c.fd = -1;
    this.#table.remove(c, fd);
    this.#dropTail(c);
    c.output = null;
    c.sending = false;
    c.takeover = null;
    tellGone(c, this.#report);
    const waiting = c.onWritten;
    if (waiting !== null) {
      c.onWritten = null;
      for (const done of waiting) done(false);
    }
    const open = this.#table.size;
    if (this.#acceptor.paused && open < this.#maxConnections) this.#acceptor.resume();
    if (this.#draining && open === 0) this.#finish();
  }

  // -------------------------------------------------------------------------------------------
  // Deadlines: the table's sweep calls this for each connection whose deadline has passed.

  #expireSafely = (c: Conn): void => {
    try {
      this.#expire(c);
    } catch (error) {
      this.#report(error);
      this.#close(c, true);
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
      this.#responder.reject(c, REQUEST_TIMEOUT);
      c.flags |= F_CLOSE_AFTER | F_LINGER;
      this.#output.flush(c);
      if (c.fd < 0) return;
      if (c.output === null) this.#closeAfterReply(c);
      else waitToWrite(c);
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
 * import { FixedResponse, serveHttp } from "./mod.ts";
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
