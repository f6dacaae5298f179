/**
 * TCP sockets owned end to end: {@linkcode TcpListener} and {@linkcode TcpStream}. Non-blocking
 * from creation (SOCK_NONBLOCK|SOCK_CLOEXEC, accept4), registered edge-triggered with a
 * {@linkcode Reactor} once (the first time a call would block), closed exactly once.
 *
 * @module
 */

import {
  EFD_CLOEXEC,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  MSG_NOSIGNAL,
  SHUT_WR,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../ffi/constants.ts";
import {
  EAGAIN,
  ECONNABORTED,
  EINPROGRESS,
  EINTR,
  EMFILE,
  ENFILE,
  ENOBUFS,
  ErrnoError,
} from "../ffi/errno.ts";
import {
  check,
  fail,
  sysAccept4,
  sysBind,
  sysClose,
  sysConnect,
  sysEventfd,
  sysGetpeername,
  sysGetsockname,
  sysListen,
  sysRecv,
  sysSend,
  sysShutdown,
  sysSocket,
} from "../ffi/libc.ts";
import { decodeSockaddr, SOCKADDR_STORAGE_SIZE, type SocketAddress } from "../ffi/structs.ts";
import {
  checkHostname,
  checkNetPermission,
  checkPort,
  resolveAddress,
  resolveLiteral,
} from "./address.ts";
import { ClosedError, OwnedFd } from "./fd.ts";
import { Interest, Reactor, Ready, type Registration } from "./reactor.ts";
import * as opt from "./sockopt.ts";
import { writev as writevAll } from "./transfer.ts";

export type { SocketAddress };

const addrBuf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const addrLenBuf = new Uint8Array(4);
const addrLenView = new DataView(addrLenBuf.buffer);

function sockAddr(fd: number, peer: boolean): SocketAddress {
  addrLenView.setUint32(0, SOCKADDR_STORAGE_SIZE, true);
  const r = peer
    ? sysGetpeername(fd, addrBuf, addrLenBuf)
    : sysGetsockname(fd, addrBuf, addrLenBuf);
  if (r < 0) throw fail(r, peer ? "getpeername" : "getsockname");
  const a = decodeSockaddr(addrBuf);
  if (!a) throw new TypeError("unexpected address family");
  return a;
}

function checkBuffer(buf: unknown, what: string): Uint8Array<ArrayBuffer> {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`${what} expects a Uint8Array`);
  return buf as Uint8Array<ArrayBuffer>;
}

/** Thrown when a second read (or write) is started while one is already waiting. */
export class BusyError extends Error {
  /**
   * Builds the error for a second pending `what`.
   *
   * @param what "read" or "write"
   */
  constructor(what: string) {
    super(`a ${what} is already pending on this stream`);
    this.name = "BusyError";
  }
}

/**
 * Readiness bookkeeping shared by listener and stream: one edge-triggered registration (made the
 * first time a call would block) and at most one waiter per direction.
 */
const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);

class IoState {
  readonly reactor: Reactor;
  registration: Registration | undefined;
  /**
   * Readiness as last known (tokio's model): true until a call finds the socket drained (EAGAIN,
   * or a read/write shorter than asked), set again by the next edge. While false, a read or write
   * waits for the edge first instead of making a syscall that would only say EAGAIN.
   */
  readReady = true;
  writeReady = true;
  /**
   * Sticky conditions (tokio keeps READ_CLOSED the same way): once the peer's FIN, a hang-up or an
   * error has been reported, that edge will not come again, so readiness is never cleared after
   * it: a short read before EOF must not make the next read wait for an edge that already passed.
   */
  readClosed = false;
  writeClosed = false;
  /**
   * Directions currently in the epoll interest set. A direction whose edge arrives while nobody
   * waits on it is dropped from the set (one EPOLL_CTL_MOD), and added back when a wait on it
   * begins (the MOD re-checks readiness, so nothing is missed). Without this, the idle direction of
   * a proxy (ACKs, data arriving while its pump waits on the other side) wakes a parked reactor
   * thousands of times per GiB for nothing.
   */
  interest = Interest.READABLE | Interest.WRITABLE;
  readWaiter: ((ok: boolean) => void) | undefined;
  writeWaiter: ((ok: boolean) => void) | undefined;
  readFail: ((e: unknown) => void) | undefined;
  writeFail: ((e: unknown) => void) | undefined;
  readonly onReady = (ready: number): void => {
    // Writable/error first, then readable (data before a read-close is read by the waiter).
    let unwanted = 0;
    if (ready & (Ready.WRITABLE | Ready.WRITE_CLOSED | Ready.ERROR)) {
      this.writeReady = true;
      if (ready & (Ready.WRITE_CLOSED | Ready.ERROR)) this.writeClosed = true;
      const w = this.writeWaiter;
      if (w) {
        this.writeWaiter = this.writeFail = undefined;
        this.reactor.addRef(-1);
        w(true);
      } else if (ready & Ready.WRITABLE) unwanted |= Interest.WRITABLE;
    }
    if (ready & (Ready.READABLE | Ready.READ_CLOSED | Ready.ERROR)) {
      this.readReady = true;
      if (ready & (Ready.READ_CLOSED | Ready.ERROR)) this.readClosed = true;
      const r = this.readWaiter;
      if (r) {
        this.readWaiter = this.readFail = undefined;
        this.reactor.addRef(-1);
        r(true);
      } else if (ready & Ready.READABLE) unwanted |= Interest.READABLE;
    }
    if (unwanted & this.interest) this.#setInterest(this.interest & ~unwanted);
  };

  #setInterest(interest: number): void {
    const reg = this.registration;
    if (!reg || !reg.active) return;
    this.interest = interest;
    reg.modify(interest | Interest.EDGE);
  }

  constructor(reactor: Reactor) {
    this.reactor = reactor;
  }

  #ensureRegistered(fd: number): void {
    if (this.registration === undefined) {
      this.registration = this.reactor.register(
        fd,
        Interest.READABLE | Interest.WRITABLE | Interest.EDGE,
        this.onReady,
        { ref: false },
      );
    }
  }

  /**
   * Resolves when an operation in direction `read` may go ahead: at once while the direction is
   * known ready and the reactor's turn budget lasts, at the next turn when the budget is spent,
   * otherwise at the next readiness edge. Operations that skip the wait because the direction is
   * ready call {@linkcode IoState.spend} instead.
   */
  wait(fd: number, read: boolean, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (read ? this.readWaiter : this.writeWaiter) {
      return Promise.reject(new BusyError(read ? "read" : "write"));
    }
    this.#ensureRegistered(fd);
    if (read ? this.readReady : this.writeReady) {
      return this.reactor.spend() ? RESOLVED_TRUE : this.#afterTurn(signal);
    }
    const want = read ? Interest.READABLE : Interest.WRITABLE;
    if (!(this.interest & want)) this.#setInterest(this.interest | want);
    if (signal === undefined) {
      // The common case: no wrappers, the promise's own functions are the waiter.
      return new Promise<boolean>((resolve, reject) => {
        if (read) {
          this.readWaiter = resolve;
          this.readFail = reject;
        } else {
          this.writeWaiter = resolve;
          this.writeFail = reject;
        }
        this.reactor.addRef(1);
      });
    }
    return new Promise<boolean>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      const done = (ok: boolean): void => {
        if (onAbort) signal!.removeEventListener("abort", onAbort);
        resolve(ok);
      };
      const failWith = (e: unknown): void => {
        if (onAbort) signal!.removeEventListener("abort", onAbort);
        reject(e);
      };
      if (read) {
        this.readWaiter = done;
        this.readFail = failWith;
      } else {
        this.writeWaiter = done;
        this.writeFail = failWith;
      }
      this.reactor.addRef(1);
      if (signal) {
        onAbort = () => {
          onAbort = undefined;
          this.cancel(read, signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  /**
   * For an operation about to run on a direction known ready: resolves at once (undefined) while
   * the reactor's turn budget lasts, or returns the wait for the next turn.
   */
  spend(signal: AbortSignal | undefined): Promise<boolean> | undefined {
    return this.reactor.spend() ? undefined : this.#afterTurn(signal);
  }

  async #afterTurn(signal: AbortSignal | undefined): Promise<boolean> {
    await this.reactor.nextTurn();
    signal?.throwIfAborted();
    return true;
  }

  cancel(read: boolean, reason: unknown): void {
    const f = read ? this.readFail : this.writeFail;
    if (!f) return;
    if (read) this.readWaiter = this.readFail = undefined;
    else this.writeWaiter = this.writeFail = undefined;
    this.reactor.addRef(-1);
    f(reason);
  }

  close(operation: string): void {
    this.cancel(true, new ClosedError(operation));
    this.cancel(false, new ClosedError(operation));
    if (this.registration) {
      this.registration.deregister();
      this.registration = undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode TcpListener.bind}. */
export interface ListenOptions {
  /** Address to bind: an IP literal or "localhost" (default "0.0.0.0"). */
  hostname?: string;
  /** Port; 0 lets the kernel choose (read it back from `addr`). */
  port: number;
  /** listen() backlog (default 511). */
  backlog?: number;
  /** SO_REUSEADDR (default true, as Deno and Node do). */
  reuseAddress?: boolean;
  /** SO_REUSEPORT (default false): several listeners share the port, the kernel balances. */
  reusePort?: boolean;
  /** For "::": accept IPv6 only (default false: dual-stack). */
  ipv6Only?: boolean;
  /** The reactor that serves accepted streams (default: the process-wide one). */
  reactor?: Reactor;
}

/** Counters of a listener. */
export interface ListenerStats {
  /** Connections accepted. */
  accepted: number;
  /** Connections accepted and closed at once because the process was out of fds (EMFILE). */
  droppedAtFdLimit: number;
}

/**
 * A listening TCP socket.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream } from "../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * const client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * client.close();
 * ```
 */
export class TcpListener {
  #fd: OwnedFd;
  #io: IoState;
  #addr: SocketAddress;
  #spare: number;
  #stats: ListenerStats = { accepted: 0, droppedAtFdLimit: 0 };

  private constructor(fd: number, reactor: Reactor, spare: number) {
    this.#fd = new OwnedFd(fd);
    this.#io = new IoState(reactor);
    this.#spare = spare;
    this.#addr = sockAddr(fd, false);
  }

  /**
   * Creates, binds and listens. Checks `--allow-net` for the address first; bad arguments throw
   * TypeError/RangeError before any syscall; EADDRINUSE and friends throw ErrnoError.
   */
  static bind(options: ListenOptions): TcpListener {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("TcpListener.bind expects an options object");
    }
    const hostname = checkHostname(options.hostname ?? "0.0.0.0");
    const port = checkPort(options.port, true);
    const backlog = options.backlog ?? 511;
    if (!Number.isInteger(backlog) || backlog < 1 || backlog > 65535) {
      throw new RangeError(`backlog must be an integer in 1..65535, got ${backlog}`);
    }
    const resolved = resolveLiteral(hostname, port);
    if (!resolved) {
      throw new TypeError(`TcpListener.bind needs an IP address or "localhost", got ${hostname}`);
    }
    checkNetPermission(hostname, port);
    const reactor = options.reactor ?? Reactor.default();
    const fd = check(
      sysSocket(resolved.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
      "socket",
    );
    let spare = -1;
    try {
      if (options.reuseAddress ?? true) opt.setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) opt.setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1);
      if (resolved.family === 10 && options.ipv6Only !== undefined) {
        opt.setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6Only ? 1 : 0);
      }
      check(sysBind(fd, resolved.sockaddr), "bind");
      check(sysListen(fd, backlog), "listen");
      // One spare descriptor for the EMFILE trick (libuv's uv__emfile_trick).
      spare = check(sysEventfd(0, EFD_CLOEXEC), "eventfd");
      return new TcpListener(fd, reactor, spare);
    } catch (e) {
      if (spare >= 0) sysClose(spare);
      sysClose(fd);
      throw e;
    }
  }

  /** The bound address (the real port when bound to port 0). */
  get addr(): SocketAddress {
    return this.#addr;
  }

  /** The descriptor (read-only, for advanced use). Throws once closed. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** The reactor serving this listener and its streams. */
  get reactor(): Reactor {
    return this.#io.reactor;
  }

  /** Counters: accepted, dropped at the fd limit. */
  stats(): ListenerStats {
    return { ...this.#stats };
  }

  /**
   * Accepts one pending connection without waiting: a stream, or null when none is pending.
   * At the process fd limit (EMFILE) pending connections are accepted and closed (counted in
   * `stats().droppedAtFdLimit`) rather than left to spin the loop.
   */
  tryAccept(): TcpStream | null {
    const fd = this.tryAcceptFd();
    return fd < 0 ? null : new TcpStream(fd, this.#io.reactor);
  }

  /**
   * Like {@linkcode TcpListener.tryAccept}, but returns the accepted descriptor itself
   * (non-blocking, close-on-exec), or -1 when none is pending. For servers that keep their own
   * compact per-connection state instead of a TcpStream per connection (lib/http_server.ts holds
   * tens of thousands of idle connections at well under 1 KiB each); the caller owns the fd and
   * must close it exactly once.
   */
  tryAcceptFd(): number {
    const fd = this.#fd.raw;
    if (fd < 0) throw new ClosedError("accept");
    for (;;) {
      const r = sysAccept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (r >= 0) {
        this.#stats.accepted++;
        return r;
      }
      if (r === -EAGAIN) {
        this.#io.readReady = false;
        return -1;
      }
      if (r === -EINTR || r === -ECONNABORTED) continue;
      if (r === -EMFILE || r === -ENFILE || r === -ENOBUFS) {
        if (!this.#dropOne(fd)) throw fail(r, "accept4");
        continue;
      }
      throw fail(r, "accept4");
    }
  }

  /** Frees the spare fd, accepts and closes one connection, takes the spare back. */
  #dropOne(fd: number): boolean {
    if (this.#spare < 0) return false;
    sysClose(this.#spare);
    this.#spare = -1;
    const r = sysAccept4(fd, null, null, SOCK_CLOEXEC);
    if (r >= 0) {
      sysClose(r);
      this.#stats.droppedAtFdLimit++;
    }
    const spare = sysEventfd(0, EFD_CLOEXEC);
    this.#spare = spare >= 0 ? spare : -1;
    return r >= 0;
  }

  /** Waits for and accepts one connection. Rejects with the signal's reason on abort. */
  async accept(options: { signal?: AbortSignal } = {}): Promise<TcpStream> {
    for (;;) {
      const io = this.#io;
      const turn = io.readReady
        ? io.spend(options.signal)
        : io.wait(this.#fd.fd, true, options.signal);
      if (turn) await turn;
      const s = this.tryAccept();
      if (s) return s;
    }
  }

  /** Accepts connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<TcpStream> {
    for (;;) {
      let s: TcpStream;
      try {
        s = await this.accept();
      } catch (e) {
        if (e instanceof ClosedError) return;
        throw e;
      }
      yield s;
    }
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Stops listening: a pending accept rejects with ClosedError (async iteration ends). */
  close(): void {
    if (this.#fd.closed) return;
    this.#io.close("accept");
    if (this.#spare >= 0) sysClose(this.#spare);
    this.#spare = -1;
    this.#fd.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** SO_REUSEADDR as set. */
  reuseAddress(): boolean {
    return opt.reuseAddress(this.fd);
  }

  /** SO_REUSEPORT as set. */
  reusePort(): boolean {
    return opt.reusePort(this.fd);
  }
}

// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode TcpStream.connect}. */
export interface ConnectOptions {
  /** Host: an IP literal, "localhost", or a name resolved through Deno's resolver. */
  hostname: string;
  /** Port, 1..65535. */
  port: number;
  /** Aborts the connect (the fd is closed; the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Gives up after this many milliseconds with a "TimeoutError" DOMException. */
  timeoutMs?: number;
  /** The reactor that serves this stream (default: the process-wide one). */
  reactor?: Reactor;
}

/** Options for reads and writes that may wait. */
export interface WaitOptions {
  /** Aborts the wait (the stream stays usable; nothing is lost). */
  signal?: AbortSignal;
}

/** Options of {@linkcode TcpStream.waitReadable} and {@linkcode TcpStream.waitWritable}. */
export interface ReadinessOptions extends WaitOptions {
  /**
   * Your own syscall on the stream's fd just returned would-block (EAGAIN): forget the cached
   * readiness and wait for the next edge.
   */
  afterWouldBlock?: boolean;
}

/**
 * A connected TCP stream. Reads return `null` at EOF; writes never raise SIGPIPE (MSG_NOSIGNAL);
 * a reset peer gives ErrnoError ECONNRESET/EPIPE.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream } from "../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * await client.writeAll(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(4);
 * const n = await server.read(buf);
 * console.log(n, new TextDecoder().decode(buf)); // 4 "ping"
 * ```
 */
export class TcpStream {
  #fd: OwnedFd;
  #io: IoState;
  #local: SocketAddress | undefined;
  #remote: SocketAddress | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** @internal Use {@linkcode TcpStream.connect} or {@linkcode TcpListener.accept}. */
  constructor(fd: number, reactor: Reactor) {
    this.#fd = new OwnedFd(fd);
    this.#io = new IoState(reactor);
  }

  /**
   * Connects without blocking the thread: EINPROGRESS, wait writable, then SO_ERROR. Checks
   * `--allow-net` first. ECONNREFUSED and friends reject with ErrnoError; the fd is closed on
   * every failure.
   */
  static async connect(options: ConnectOptions): Promise<TcpStream> {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("TcpStream.connect expects an options object");
    }
    const hostname = checkHostname(options.hostname);
    const port = checkPort(options.port, false);
    const timeoutMs = options.timeoutMs;
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== "number" || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs))
    ) {
      throw new RangeError(`timeoutMs must be a non-negative finite number, got ${timeoutMs}`);
    }
    checkNetPermission(hostname, port);
    let signal = options.signal;
    if (timeoutMs !== undefined) {
      const t = AbortSignal.timeout(timeoutMs);
      signal = signal ? AbortSignal.any([signal, t]) : t;
    }
    signal?.throwIfAborted();
    const resolved = await resolveAddress(hostname, port);
    signal?.throwIfAborted();
    const reactor = options.reactor ?? Reactor.default();
    const fd = check(
      sysSocket(resolved.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
      "socket",
    );
    const stream = new TcpStream(fd, reactor);
    try {
      let r = sysConnect(fd, resolved.sockaddr);
      while (r === -EINTR) r = sysConnect(fd, resolved.sockaddr);
      if (r < 0 && r !== -EINPROGRESS && r !== -EAGAIN) throw fail(r, "connect");
      if (r < 0) {
        stream.#io.writeReady = false;
        await stream.#io.wait(fd, false, signal);
        const err = opt.socketError(fd);
        if (err !== 0) throw new ErrnoError(err, "connect");
      }
      return stream;
    } catch (e) {
      stream.close();
      throw e;
    }
  }

  /** The descriptor (read-only, for advanced use). Throws ClosedError once closed. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** The reactor serving this stream. */
  get reactor(): Reactor {
    return this.#io.reactor;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Local address (getsockname), cached. */
  get localAddr(): SocketAddress {
    return this.#local ??= sockAddr(this.fd, false);
  }

  /** Peer address (getpeername), cached. */
  get remoteAddr(): SocketAddress {
    return this.#remote ??= sockAddr(this.fd, true);
  }

  /**
   * Reads what is available now: the byte count, `null` at EOF, or 0 when it would block
   * (EAGAIN is a value, not an exception). An empty `buf` returns 0.
   */
  tryRead(buf: Uint8Array): number | null {
    const b = checkBuffer(buf, "tryRead");
    const fd = this.#fd.raw;
    if (fd < 0) throw new ClosedError("read");
    if (b.byteLength === 0) return 0;
    for (;;) {
      const r = sysRecv(fd, b, 0);
      if (r > 0) {
        // A short read drained the socket: the next read waits for an edge first.
        if (r < b.byteLength && !this.#io.readClosed) this.#io.readReady = false;
        return r;
      }
      if (r === 0) return null;
      if (r === -EAGAIN) {
        // EAGAIN is authoritative (after FIN recv gives 0, not EAGAIN): wait for the next edge.
        this.#io.readReady = false;
        return 0;
      }
      if (r !== -EINTR) throw fail(r, "recv");
    }
  }

  /** Writes what fits now: the byte count, 0 when it would block. Never raises SIGPIPE. */
  tryWrite(buf: Uint8Array): number {
    const b = checkBuffer(buf, "tryWrite");
    const fd = this.#fd.raw;
    if (fd < 0) throw new ClosedError("write");
    if (b.byteLength === 0) return 0;
    for (;;) {
      const r = sysSend(fd, b, MSG_NOSIGNAL);
      if (r >= 0) {
        // A short write filled the send buffer: the next write waits for an edge first.
        if (r < b.byteLength && !this.#io.writeClosed) this.#io.writeReady = false;
        return r;
      }
      if (r === -EAGAIN) {
        // EAGAIN is authoritative (after FIN recv gives 0, not EAGAIN): wait for the next edge.
        this.#io.writeReady = false;
        return 0;
      }
      if (r !== -EINTR) throw fail(r, "send");
    }
  }

  /**
   * Resolves when the stream is readable: at once unless a read found it drained since the last
   * readiness edge (tokio's `readable()`). After an operation of your own on `fd` (splice, recv
   * through another path) returned would-block, pass `afterWouldBlock: true`: readiness is
   * edge-triggered, and netio cannot know about that call otherwise.
   */
  async waitReadable(options: ReadinessOptions = {}): Promise<void> {
    const fd = this.fd;
    if (options.afterWouldBlock && !this.#io.readClosed) this.#io.readReady = false;
    await this.#io.wait(fd, true, options.signal);
  }

  /**
   * Resolves when the stream is writable: at once unless a write found the send buffer full
   * since the last edge. Pass `afterWouldBlock: true` after your own sendfile/writev/splice on
   * `fd` returned would-block.
   */
  async waitWritable(options: ReadinessOptions = {}): Promise<void> {
    const fd = this.fd;
    if (options.afterWouldBlock && !this.#io.writeClosed) this.#io.writeReady = false;
    await this.#io.wait(fd, false, options.signal);
  }

  /** Reads into `buf`: resolves with the byte count (> 0), or `null` at EOF. */
  async read(buf: Uint8Array, options: WaitOptions = {}): Promise<number | null> {
    const b = checkBuffer(buf, "read");
    if (b.byteLength === 0) {
      if (this.#fd.closed) throw new ClosedError("read");
      return 0;
    }
    const io = this.#io;
    for (;;) {
      const turn = io.readReady
        ? io.spend(options.signal)
        : io.wait(this.#fd.fd, true, options.signal);
      if (turn) await turn;
      const n = this.tryRead(b);
      if (n !== 0) return n;
    }
  }

  /** Writes some of `buf`, waiting for room if none: resolves with the byte count (> 0). */
  async write(buf: Uint8Array, options: WaitOptions = {}): Promise<number> {
    const b = checkBuffer(buf, "write");
    if (b.byteLength === 0) {
      if (this.#fd.closed) throw new ClosedError("write");
      return 0;
    }
    const io = this.#io;
    for (;;) {
      const turn = io.writeReady
        ? io.spend(options.signal)
        : io.wait(this.#fd.fd, false, options.signal);
      if (turn) await turn;
      const n = this.tryWrite(b);
      if (n > 0) return n;
    }
  }

  /** Writes all of `buf`, resuming after partial writes. */
  async writeAll(buf: Uint8Array, options: WaitOptions = {}): Promise<void> {
    let b = checkBuffer(buf, "writeAll");
    const io = this.#io;
    while (b.byteLength > 0) {
      const turn = io.writeReady
        ? io.spend(options.signal)
        : io.wait(this.#fd.fd, false, options.signal);
      if (turn) await turn;
      const n = this.tryWrite(b);
      b = b.subarray(n);
    }
    if (this.#fd.closed) throw new ClosedError("write");
  }

  /**
   * Writes every byte of `bufs`, in order, with writev(2) (see {@linkcode writev}): resumes
   * partial writes at the exact byte, batches more than IOV_MAX buffers. Resolves with the total.
   */
  writev(bufs: readonly Uint8Array[], options: WaitOptions = {}): Promise<number> {
    return writevAll(this, bufs, options);
  }

  /** Shuts down the write side (FIN); reads keep working. */
  closeWrite(): void {
    const r = sysShutdown(this.fd, SHUT_WR);
    if (r < 0) throw fail(r, "shutdown");
  }

  /**
   * A Web ReadableStream of the bytes read (64 KiB chunks); cancel closes the stream. Created once.
   */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const buf = new Uint8Array(65536);
        const n = await this.read(buf);
        if (n === null) {
          controller.close();
          return;
        }
        controller.enqueue(buf.subarray(0, n));
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  /**
   * A Web WritableStream: each chunk is written whole; close sends FIN (closeWrite), abort closes
   * the stream. Created once.
   */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.writeAll(chunk),
      close: () => {
        if (!this.closed) this.closeWrite();
      },
      abort: () => this.close(),
    });
  }

  /** Closes the stream: pending reads/writes reject with ClosedError; the fd is closed once. */
  close(): void {
    if (this.#fd.closed) return;
    // Deregister before close(2), so no event for this number can reach a later owner.
    this.#io.close("read/write");
    this.#fd.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // Socket options: typed pairs, socket2-style.

  /** TCP_NODELAY on or off. */
  setNoDelay(on: boolean): void {
    opt.setNoDelay(this.fd, on);
  }
  /** TCP_NODELAY as set. */
  noDelay(): boolean {
    return opt.noDelay(this.fd);
  }
  /** TCP_CORK on or off. */
  setCork(on: boolean): void {
    opt.setCork(this.fd, on);
  }
  /** TCP_CORK as set. */
  cork(): boolean {
    return opt.cork(this.fd);
  }
  /** TCP_QUICKACK (the kernel may clear it again on its own). */
  setQuickAck(on: boolean): void {
    opt.setQuickAck(this.fd, on);
  }
  /** TCP_QUICKACK now. */
  quickAck(): boolean {
    return opt.quickAck(this.fd);
  }
  /** SO_KEEPALIVE and its timings. */
  setKeepAlive(keepAlive: boolean | opt.KeepAlive): void {
    opt.setKeepAlive(this.fd, keepAlive);
  }
  /** Keepalive: false, or its timings. */
  keepAlive(): false | Required<opt.KeepAlive> {
    return opt.keepAlive(this.fd);
  }
  /** SO_SNDBUF request in bytes. */
  setSendBufferSize(bytes: number): void {
    opt.setSendBufferSize(this.fd, bytes);
  }
  /** SO_SNDBUF as the kernel set it (doubled). */
  sendBufferSize(): number {
    return opt.sendBufferSize(this.fd);
  }
  /** SO_RCVBUF request in bytes. */
  setRecvBufferSize(bytes: number): void {
    opt.setRecvBufferSize(this.fd, bytes);
  }
  /** SO_RCVBUF as the kernel set it (doubled). */
  recvBufferSize(): number {
    return opt.recvBufferSize(this.fd);
  }
  /** SO_REUSEADDR. */
  setReuseAddress(on: boolean): void {
    opt.setReuseAddress(this.fd, on);
  }
  /** SO_REUSEADDR as set. */
  reuseAddress(): boolean {
    return opt.reuseAddress(this.fd);
  }
  /** SO_REUSEPORT. */
  setReusePort(on: boolean): void {
    opt.setReusePort(this.fd, on);
  }
  /** SO_REUSEPORT as set. */
  reusePort(): boolean {
    return opt.reusePort(this.fd);
  }
  /** SO_LINGER: null off, seconds otherwise (0: reset on close). */
  setLinger(linger: opt.Linger): void {
    opt.setLinger(this.fd, linger);
  }
  /** SO_LINGER as set. */
  linger(): opt.Linger {
    return opt.linger(this.fd);
  }
  /** TCP_USER_TIMEOUT in ms. */
  setUserTimeoutMs(ms: number): void {
    opt.setUserTimeoutMs(this.fd, ms);
  }
  /** TCP_USER_TIMEOUT in ms. */
  userTimeoutMs(): number {
    return opt.userTimeoutMs(this.fd);
  }
  /** TCP_NOTSENT_LOWAT in bytes. */
  setNotSentLowat(bytes: number): void {
    opt.setNotSentLowat(this.fd, bytes);
  }
  /** TCP_NOTSENT_LOWAT in bytes. */
  notSentLowat(): number {
    return opt.notSentLowat(this.fd);
  }
  /** struct tcp_info, decoded with units in the field names. */
  tcpInfo(): opt.TcpInfo {
    return opt.tcpInfo(this.fd);
  }
  /** Applies a set of options; returns before -> after for each. */
  tune(settings: opt.TuneSettings): opt.TuneChange[] {
    return opt.tuneFd(this.fd, settings);
  }
}

/**
 * Applies a set of socket options to a stream and reports before -> after per option; where the
 * kernel adjusted a value (SO_SNDBUF doubles) `adjusted` is true.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream, tune } from "../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using _server = await listener.accept();
 * for (const c of tune(client, { noDelay: true, sendBufferSize: 65536 })) {
 *   console.log(c.option, c.before, "->", c.after, c.adjusted ? "(adjusted by the kernel)" : "");
 * }
 * ```
 */
export function tune(socket: TcpStream, settings: opt.TuneSettings): opt.TuneChange[] {
  return opt.tuneFd(socket.fd, settings);
}
