/**
 * {@linkcode TcpListener}: a listening TCP socket owned end to end, non-blocking from creation,
 * accepting with accept4 (SOCK_NONBLOCK|SOCK_CLOEXEC), with the EMFILE spare-fd trick.
 *
 * @module
 */

import {
  AF_INET6,
  EFD_CLOEXEC,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../../ffi/constants.ts";
import { EAGAIN, ECONNABORTED, EINTR, EMFILE, ENFILE, ENOBUFS } from "../../ffi/errno.ts";
import {
  check,
  fail,
  sysAccept4,
  sysBind,
  sysClose,
  sysEventfd,
  sysListen,
  sysSocket,
} from "../../ffi/libc.ts";
import {
  checkHostname,
  checkNetPermission,
  checkPort,
  hostPort,
  resolveLiteral,
  type SocketAddress,
} from "./address.ts";
import { ClosedError, OwnedFd } from "./fd.ts";
import { Reactor } from "../reactor/mod.ts";
import { getOption, setIntOption } from "./options.ts";
import { checkInteger } from "../_validate.ts";

/** The address bound when none is given: loopback, the safe default. */
const DEFAULT_HOSTNAME = "127.0.0.1";
/** listen(2) backlog when none is given: nginx's and Node's default. */
const DEFAULT_BACKLOG = 511;
/** The kernel caps the backlog at net.core.somaxconn (65535 at most since 5.4). */
const MAX_BACKLOG = 65535;
import { sockAddr } from "./_sockaddr.ts";
import { IoState } from "./readiness.ts";
import { TcpStream } from "./stream.ts";

/** Options of {@linkcode TcpListener.bind}. */
export interface ListenOptions {
  /**
   * Address to bind: an IP literal or "localhost". Default "127.0.0.1", like `serveHttp`: a
   * server is reachable from other machines only when you ask for it ("0.0.0.0", "::").
   */
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
 * import { TcpListener, TcpStream } from "../../mod.ts";
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

  /** @internal Use {@linkcode TcpListener.bind}. */
  constructor(fd: number, reactor: Reactor, spare: number) {
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
    const hostname = checkHostname(options.hostname ?? DEFAULT_HOSTNAME);
    const port = checkPort(options.port, true);
    const backlog = checkInteger(options.backlog ?? DEFAULT_BACKLOG, "backlog", 1, MAX_BACKLOG);
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
      if (options.reuseAddress ?? true) setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1);
      if (options.reusePort) setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1);
      if (resolved.family === AF_INET6 && options.ipv6Only !== undefined) {
        setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.ipv6Only ? 1 : 0);
      }
      check(sysBind(fd, resolved.sockaddr), "bind", hostPort(resolved.ip, port));
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
   * compact per-connection state instead of a TcpStream per connection (lib/http/server.ts holds
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
        // accept4 takes a descriptor before it looks at the queue: at the limit it fails even
        // when nothing is pending, so the loop ends on "nothing pending" seen by #dropOne.
        const dropped = this.#dropOne(fd);
        if (dropped > 0) continue;
        if (dropped === 0) {
          this.#io.readReady = false;
          return -1;
        }
        throw fail(r, "accept4");
      }
      throw fail(r, "accept4");
    }
  }

  /**
   * Frees the spare fd, accepts and closes one connection, takes the spare back: 1 when one was
   * dropped, 0 when none was pending, -1 when that was impossible (no spare, or accept failed).
   */
  #dropOne(fd: number): number {
    if (this.#spare < 0) return -1;
    sysClose(this.#spare);
    // Stryker disable next-line UnaryOperator: equivalent, a dead store (overwritten below before any read)
    this.#spare = -1;
    const r = sysAccept4(fd, null, null, SOCK_CLOEXEC);
    if (r >= 0) {
      sysClose(r);
      this.#stats.droppedAtFdLimit++;
    }
    const spare = sysEventfd(0, EFD_CLOEXEC);
    this.#spare = spare >= 0 ? spare : -1;
    return r >= 0 ? 1 : r === -EAGAIN ? 0 : -1;
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
    // Stryker disable next-line ConditionalExpression: equivalent, every step below is idempotent too
    if (this.#fd.closed) return;
    this.#io.close("accept");
    // Stryker disable next-line ConditionalExpression: equivalent, close(-1) only fails with EBADF, ignored
    if (this.#spare >= 0) sysClose(this.#spare);
    // Stryker disable next-line UnaryOperator: equivalent, #spare is never read after close()
    this.#spare = -1;
    this.#fd.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** SO_REUSEADDR as set. */
  reuseAddress(): boolean {
    return getOption(this.fd, "reuseAddress");
  }

  /** SO_REUSEPORT as set. */
  reusePort(): boolean {
    return getOption(this.fd, "reusePort");
  }
}

// ---------------------------------------------------------------------------------------------
