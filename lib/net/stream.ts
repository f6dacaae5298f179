/**
 * {@linkcode TcpStream}: a connected TCP socket owned end to end, non-blocking from creation,
 * registered edge-triggered with a reactor the first time a call would block, closed exactly once.
 *
 * @module
 */

import { SHUT_WR, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from "../../ffi/constants.ts";
import { EAGAIN, EINPROGRESS, EINTR, ErrnoError } from "../../ffi/errno.ts";
import { check, fail, sysConnect, sysRecv, sysShutdown, sysSocket } from "../../ffi/libc.ts";
import {
  checkHostname,
  checkNetPermission,
  checkPort,
  hostPort,
  resolveAddress,
  type SocketAddress,
} from "./address.ts";
import { ClosedError, OwnedFd } from "./fd.ts";
import { Reactor } from "../reactor/mod.ts";
import {
  getOption,
  type KeepAlive,
  type Linger,
  setOption,
  socketError,
  type TcpInfo,
  tcpInfo,
  type TuneChange,
  tuneFd,
  type TuneSettings,
} from "./options.ts";
import { checkBytes } from "../_validate.ts";
import { sockAddr } from "./_sockaddr.ts";
import { IoState } from "./readiness.ts";
import { sendSome, writev as writevAll } from "./write.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** Chunk size of {@linkcode TcpStream.readable}. */
const READABLE_CHUNK_BYTES = 64 * 1024;

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
 * Hands a stream's descriptor back to the owner it came from (the HTTP server, after a request
 * that needed the connection for itself): deregisters, and returns the number without closing
 * it. Pending reads and writes reject with ClosedError; the stream behaves as closed from then on.
 * Not part of the public API (mod.ts does not export it).
 */
export let detachStream: (stream: TcpStream) => number;

/**
 * A connected TCP stream. Reads return `null` at EOF; writes never raise SIGPIPE (MSG_NOSIGNAL);
 * a reset peer gives ErrnoError ECONNRESET/EPIPE.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream } from "../../mod.ts";
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
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
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
      // Stryker disable next-line ConditionalExpression: equivalent, Number.isFinite refuses every non-number too
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
      // Stryker disable next-line ConditionalExpression,UnaryOperator: equivalent, a non-blocking connect(2) returns EINPROGRESS without sleeping, so never EINTR
      while (r === -EINTR) r = sysConnect(fd, resolved.sockaddr);
      const where = hostPort(resolved.ip, port);
      if (r < 0 && r !== -EINPROGRESS && r !== -EAGAIN) throw fail(r, "connect", where);
      if (r < 0) {
        stream.#io.writeReady = false;
        await stream.#io.wait(fd, false, signal);
        const err = socketError(fd);
        if (err !== 0) throw new ErrnoError(err, "connect", { detail: where });
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
    const b = checkBytes(buf, "tryRead buffer");
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
      // Stryker disable next-line ConditionalExpression,UnaryOperator: equivalent, a non-blocking recv(2) never sleeps, so never EINTR
      if (r !== -EINTR) throw fail(r, "recv");
    }
  }

  /** Writes what fits now: the byte count, 0 when it would block. Never raises SIGPIPE. */
  tryWrite(buf: Uint8Array): number {
    const b = checkBytes(buf, "tryWrite buffer");
    const fd = this.#fd.raw;
    if (fd < 0) throw new ClosedError("write");
    if (b.byteLength === 0) return 0;
    const r = sendSome(fd, b);
    if (r < 0) throw fail(r, "send");
    // A short write filled the send buffer, and EAGAIN (0) is authoritative: either way the next
    // write waits for an edge first.
    if (r === 0) this.#io.writeReady = false;
    else if (r < b.byteLength && !this.#io.writeClosed) this.#io.writeReady = false;
    return r;
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
    const b = checkBytes(buf, "read buffer");
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
    const b = checkBytes(buf, "write buffer");
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
    let b = checkBytes(buf, "writeAll buffer");
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
  closeWrite(): Promise<void> {
    // Done at once (shutdown(2) never blocks); the promise is Deno.Conn's shape. A closed stream
    // throws ClosedError synchronously, as every other call does.
    const r = sysShutdown(this.fd, SHUT_WR);
    if (r < 0) throw fail(r, "shutdown");
    return RESOLVED;
  }

  /** Lets pending reads and writes keep the process alive (the default), as `Deno.Conn.ref`. */
  ref(): void {
    this.#io.setRef(true);
  }

  /** Pending reads and writes no longer keep the process alive, as `Deno.Conn.unref`. */
  unref(): void {
    this.#io.setRef(false);
  }

  /**
   * A Web byte stream of what is read, as `Deno.Conn.readable`: a default reader gets chunks of up
   * to 64 KiB, `getReader({ mode: "byob" })` reads into buffers of its own (no allocation per
   * chunk). Cancel closes the stream. Created once.
   */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream({
      type: "bytes",
      // A default reader gets chunks of up to this size; a BYOB reader reads into its own buffer.
      autoAllocateChunkSize: READABLE_CHUNK_BYTES,
      pull: async (controller) => {
        // Always present: autoAllocateChunkSize makes one for default readers too.
        const request = controller.byobRequest!;
        const view = request.view!;
        const n = await this.read(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
        if (n === null) {
          controller.close();
          request.respond(0); // the spec's way to hand back a pending BYOB request at the end
          return;
        }
        request.respond(n);
      },
      cancel: () => this.close(),
    }) as ReadableStream<Uint8Array<ArrayBuffer>>;
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
    // Stryker disable next-line ConditionalExpression: equivalent, every step below is idempotent too
    if (this.#fd.closed) return;
    // Deregister before close(2), so no event for this number can reach a later owner.
    this.#io.close("read/write");
    this.#fd.close();
  }

  static {
    detachStream = (stream) => {
      const fd = stream.#fd.fd; // throws ClosedError once closed
      stream.#io.close("read/write");
      stream.#fd.release();
      return fd;
    };
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // Socket options: typed pairs, socket2-style.

  /** TCP_NODELAY on (the default, as `Deno.TcpConn.setNoDelay()`) or off. */
  setNoDelay(on = true): void {
    setOption(this.fd, "noDelay", on, "setNoDelay");
  }
  /** TCP_NODELAY as set. */
  noDelay(): boolean {
    return getOption(this.fd, "noDelay");
  }
  /** TCP_CORK on or off. */
  setCork(on: boolean): void {
    setOption(this.fd, "cork", on, "setCork");
  }
  /** TCP_CORK as set. */
  cork(): boolean {
    return getOption(this.fd, "cork");
  }
  /** TCP_QUICKACK (the kernel may clear it again on its own). */
  setQuickAck(on: boolean): void {
    setOption(this.fd, "quickAck", on, "setQuickAck");
  }
  /** TCP_QUICKACK now. */
  quickAck(): boolean {
    return getOption(this.fd, "quickAck");
  }
  /** SO_KEEPALIVE and its timings. */
  setKeepAlive(keepAlive: boolean | KeepAlive = true): void {
    setOption(this.fd, "keepAlive", keepAlive, "setKeepAlive");
  }
  /** Keepalive: false, or its timings. */
  keepAlive(): false | Required<KeepAlive> {
    return getOption(this.fd, "keepAlive");
  }
  /** SO_SNDBUF request in bytes. */
  setSendBufferSize(bytes: number): void {
    setOption(this.fd, "sendBufferSize", bytes, "setSendBufferSize");
  }
  /** SO_SNDBUF as the kernel set it (doubled). */
  sendBufferSize(): number {
    return getOption(this.fd, "sendBufferSize");
  }
  /** SO_RCVBUF request in bytes. */
  setRecvBufferSize(bytes: number): void {
    setOption(this.fd, "recvBufferSize", bytes, "setRecvBufferSize");
  }
  /** SO_RCVBUF as the kernel set it (doubled). */
  recvBufferSize(): number {
    return getOption(this.fd, "recvBufferSize");
  }
  /** SO_REUSEADDR. */
  setReuseAddress(on: boolean): void {
    setOption(this.fd, "reuseAddress", on, "setReuseAddress");
  }
  /** SO_REUSEADDR as set. */
  reuseAddress(): boolean {
    return getOption(this.fd, "reuseAddress");
  }
  /** SO_REUSEPORT. */
  setReusePort(on: boolean): void {
    setOption(this.fd, "reusePort", on, "setReusePort");
  }
  /** SO_REUSEPORT as set. */
  reusePort(): boolean {
    return getOption(this.fd, "reusePort");
  }
  /** SO_LINGER: null off, seconds otherwise (0: reset on close). */
  setLinger(linger: Linger): void {
    setOption(this.fd, "linger", linger, "setLinger");
  }
  /** SO_LINGER as set. */
  linger(): Linger {
    return getOption(this.fd, "linger");
  }
  /** TCP_USER_TIMEOUT in ms. */
  setUserTimeoutMs(ms: number): void {
    setOption(this.fd, "userTimeoutMs", ms, "setUserTimeoutMs");
  }
  /** TCP_USER_TIMEOUT in ms. */
  userTimeoutMs(): number {
    return getOption(this.fd, "userTimeoutMs");
  }
  /** TCP_NOTSENT_LOWAT in bytes. */
  setNotSentLowat(bytes: number): void {
    setOption(this.fd, "notSentLowat", bytes, "setNotSentLowat");
  }
  /** TCP_NOTSENT_LOWAT in bytes. */
  notSentLowat(): number {
    return getOption(this.fd, "notSentLowat");
  }
  /** struct tcp_info, decoded with units in the field names. */
  tcpInfo(): TcpInfo {
    return tcpInfo(this.fd);
  }
  /** Applies a set of options; returns before -> after for each. */
  tune(settings: TuneSettings): TuneChange[] {
    return tuneFd(this.fd, settings);
  }
}

/**
 * Applies a set of socket options to a stream and reports before -> after per option; where the
 * kernel adjusted a value (SO_SNDBUF doubles) `adjusted` is true.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream, tune } from "../../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using _server = await listener.accept();
 * for (const c of tune(client, { noDelay: true, sendBufferSize: 65536 })) {
 *   console.log(c.option, c.before, "->", c.after, c.adjusted ? "(adjusted by the kernel)" : "");
 * }
 * ```
 */
export function tune(socket: TcpStream, settings: TuneSettings): TuneChange[] {
  return tuneFd(socket.fd, settings);
}

/**
 * @internal A TcpStream argument, or TypeError naming it (`what`). Transfers check with it before
 * any syscall.
 *
 * @example
 * ```ts ignore
 * checkStream(out, "sendFile: out");
 * ```
 */
export function checkStream(value: unknown, what: string): TcpStream {
  if (!(value instanceof TcpStream)) throw new TypeError(`${what} must be a TcpStream`);
  return value;
}
