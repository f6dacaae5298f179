/**
 * A bounded, keyed pool of TCP connections: {@linkcode ConnectionPool} hands out
 * {@linkcode Lease}s on {@linkcode TcpStream}s, one set of connections per `hostname:port`.
 *
 * What it promises (the behaviours of HikariCP, Netty's FixedChannelPool and undici's Pool that
 * make sense for raw TCP):
 *
 * - At most `maxConnections` in total and `maxPerHost` per target, counting connects in flight.
 * - Idle connections are reused last-in first-out (the warmest socket first, and the coldest
 *   ones are left to age out); acquires that cannot be served wait in FIFO order, bounded by
 *   `maxPendingAcquires` (beyond it {@linkcode PoolFullError} at once), `acquireTimeoutMs`
 *   ({@linkcode PoolTimeoutError}) and an `AbortSignal`.
 * - A connection that was idle is checked right before a caller gets it: `recv(MSG_PEEK |
 *   MSG_DONTWAIT)` returns 0 when the peer closed (replace it), an error when it was reset
 *   (replace it), bytes when the peer sent something unasked (discard it: the protocol is out of
 *   step), and EAGAIN when it is usable (undici's idle-socket validation). Then the optional
 *   user `validate(stream)`. The check is a syscall, and it is most of what an uncontended
 *   acquire costs (bench/pool_bench.ts); `checkAfterIdleMs` skips it for connections idle for
 *   less than that, as HikariCP's aliveBypassWindowMs does, at the price of that guarantee.
 * - Idle connections close after `idleTimeoutMs`, every connection after `maxLifetimeMs` minus
 *   up to `lifetimeJitter` of it (2.5% by default: a batch opened together does not expire
 *   together); the one timer that does this is unref'd: it never keeps the process alive.
 * - Leak detection: a lease held longer than `leakDetectionMs` is reported once, with the stack
 *   of the `acquire()` call that took it.
 * - `close()` rejects pending acquires, closes idle connections and connects in flight, and
 *   closes in-use connections when they are released.
 *
 * Not checked by the pool: a connection fresh from `connect()` is handed out as it is (the
 * handshake just succeeded, and a server that speaks first, like SMTP, legitimately sends bytes).
 *
 * @module
 */

import { MSG_DONTWAIT, MSG_PEEK } from "../ffi/constants.ts";
import { EAGAIN, EINTR } from "../ffi/errno.ts";
import { sysRecv } from "../ffi/libc.ts";
import { checkHostname, checkPort } from "./address.ts";
import { ClosedError } from "./fd.ts";
import { TcpStream } from "./socket.ts";
import type { TuneSettings } from "./sockopt.ts";

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The `code` of a {@linkcode PoolError}. */
export type PoolErrorCode = "POOL_TIMEOUT" | "POOL_FULL" | "POOL_CLOSED";

/**
 * Base class of the pool's own failures; `code` says which. Failures of the connection itself
 * (ECONNREFUSED, ...) reach the caller as the connect's {@linkcode ErrnoError}.
 *
 * @example
 * ```ts
 * import { PoolError, PoolTimeoutError } from "./pool.ts";
 * const err: PoolError = new PoolTimeoutError("127.0.0.1:8080", 250);
 * console.log(err instanceof PoolError, err.code); // true "POOL_TIMEOUT"
 * ```
 */
export class PoolError extends Error {
  /** Which failure: "POOL_TIMEOUT", "POOL_FULL" or "POOL_CLOSED". */
  readonly code: PoolErrorCode;

  /**
   * Creates the error.
   *
   * @param code which failure
   * @param message what happened
   * @param options standard error options (`cause`)
   */
  constructor(code: PoolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolError";
    this.code = code;
  }
}

/**
 * An acquire waited `acquireTimeoutMs` without getting a connection (or a connect took longer
 * than `connectTimeoutMs`). When the target's last connect attempt failed, that error is the
 * `cause`.
 *
 * @example
 * ```ts
 * import { PoolTimeoutError } from "./pool.ts";
 * const err = new PoolTimeoutError("127.0.0.1:8080", 250);
 * console.log(err.code, err.message); // POOL_TIMEOUT acquire of 127.0.0.1:8080 timed out after 250 ms
 * ```
 */
export class PoolTimeoutError extends PoolError {
  /**
   * Creates the error.
   *
   * @param key the target, "hostname:port"
   * @param ms how long it waited
   * @param options standard error options (`cause`)
   * @param what what timed out (default "acquire")
   */
  constructor(key: string, ms: number, options?: ErrorOptions, what = "acquire") {
    super("POOL_TIMEOUT", `${what} of ${key} timed out after ${ms} ms`, options);
    this.name = "PoolTimeoutError";
  }
}

/**
 * An acquire found the pool saturated with `maxPendingAcquires` acquires already waiting, and
 * was rejected at once rather than queued.
 *
 * @example
 * ```ts
 * import { PoolFullError } from "./pool.ts";
 * console.log(new PoolFullError("127.0.0.1:8080", 100).code); // POOL_FULL
 * ```
 */
export class PoolFullError extends PoolError {
  /**
   * Creates the error.
   *
   * @param key the target, "hostname:port"
   * @param limit the `maxPendingAcquires` in force
   */
  constructor(key: string, limit: number) {
    super("POOL_FULL", `pool saturated: ${limit} acquires already waiting (acquire of ${key})`);
    this.name = "PoolFullError";
  }
}

/**
 * The pool was closed: pending acquires reject with it, and so does every later acquire.
 *
 * @example
 * ```ts
 * import { PoolClosedError } from "./pool.ts";
 * console.log(new PoolClosedError().code); // POOL_CLOSED
 * ```
 */
export class PoolClosedError extends PoolError {
  /** Creates the error. */
  constructor() {
    super("POOL_CLOSED", "the connection pool is closed");
    this.name = "PoolClosedError";
  }
}

// ---------------------------------------------------------------------------------------------
// Options, stats
// ---------------------------------------------------------------------------------------------

/** Where to connect: the pool keeps one set of connections per `hostname:port`. */
export interface PoolTarget {
  /** An IP literal, "localhost", or a name (resolved per connect by the `connect` function). */
  hostname: string;
  /** Port, 1..65535. */
  port: number;
}

/** What {@linkcode PoolOptions.onLeak} receives. */
export interface LeakReport {
  /** The target of the leaked connection. */
  hostname: string;
  /** The target's port. */
  port: number;
  /** How long the lease had been held when it was noticed, in ms. */
  heldMs: number;
  /** The stack of the `acquire()` / `tryAcquire()` call that took it. */
  stack: string;
}

/** Options of {@linkcode ConnectionPool}. Every limit has a default; times are milliseconds. */
export interface PoolOptions {
  /** Most connections open at once, all targets together, connects in flight included (64). */
  maxConnections?: number;
  /** Most connections open at once to one `hostname:port` (default: `maxConnections`). */
  maxPerHost?: number;
  /** An idle connection is closed after this long unused; 0 never (default 30 000). */
  idleTimeoutMs?: number;
  /**
   * Every connection is closed after this long (when idle, or when released), minus up to
   * `lifetimeJitter` of it at random; 0 never (default 1 800 000: 30 minutes, as HikariCP).
   */
  maxLifetimeMs?: number;
  /** Fraction of `maxLifetimeMs` taken off at random per connection, 0..0.5 (default 0.025). */
  lifetimeJitter?: number;
  /** An acquire gives up after this long with {@linkcode PoolTimeoutError}; Infinity never (30 000). */
  acquireTimeoutMs?: number;
  /** A connect attempt is abandoned after this long (default: `acquireTimeoutMs`). */
  connectTimeoutMs?: number;
  /**
   * Most acquires waiting for a connection to be released (acquires that a new connect serves
   * do not count); one more is rejected at once with {@linkcode PoolFullError} (default 10 000;
   * 0: never wait).
   */
  maxPendingAcquires?: number;
  /**
   * Idle connections kept per target once it has been used, refilled in the background after a
   * connection is replaced or expires, and spared by idle eviction (default 0).
   */
  minIdle?: number;
  /**
   * Skip the health check of a connection idle for less than this long (HikariCP's
   * `aliveBypassWindowMs`, 500 ms there). Default 0: always check. Each check is one
   * `recv(MSG_PEEK)` syscall; a bypassed check can hand out a connection the peer has closed.
   */
  checkAfterIdleMs?: number;
  /** Report a lease held longer than this (0: off, the default). Costs a stack capture per acquire. */
  leakDetectionMs?: number;
  /** Receives leak reports (default: `console.warn`). */
  onLeak?: (report: LeakReport) => void;
  /**
   * Your own check of an idle connection, run after the peek; return false (or throw) to have it
   * closed and replaced. Synchronous: it runs inside `tryAcquire()` and on every hand-over.
   */
  validate?: (stream: TcpStream) => boolean;
  /**
   * Opens a connection (default `TcpStream.connect({ hostname, port, signal })`). `signal` aborts
   * when the pool closes or the connect times out.
   */
  connect?: (target: PoolTarget, signal: AbortSignal) => Promise<TcpStream>;
  /** Socket options applied to every new connection (e.g. `{ noDelay: true }`). */
  tune?: TuneSettings;
}

/** Options of {@linkcode ConnectionPool.acquire}. */
export interface AcquireOptions {
  /** Aborts the wait: the acquire rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Gauges of one target, in {@linkcode PoolStats.hosts}. */
export interface HostStats {
  /** Connections open or opening. */
  total: number;
  /** Idle connections. */
  idle: number;
  /** Connections lent out. */
  inUse: number;
  /** Acquires waiting. */
  pending: number;
  /** Connects in flight. */
  connecting: number;
}

/** Gauges and counters from {@linkcode ConnectionPool.stats}. */
export interface PoolStats {
  /** Connections open or opening (idle + inUse + connecting). */
  total: number;
  /** Idle connections. */
  idle: number;
  /** Connections lent out. */
  inUse: number;
  /** Acquires not yet answered (waiting for a release or for a connect). */
  pending: number;
  /** Connects in flight. */
  connecting: number;
  /** Connections opened. */
  created: number;
  /** Acquires served by an idle connection. */
  reused: number;
  /** Idle connections found closed, reset, carrying unsolicited bytes or failing `validate`. */
  staleReplaced: number;
  /** Idle connections closed after `idleTimeoutMs` or to make room for another target. */
  idleEvicted: number;
  /** Connections closed at `maxLifetimeMs`. */
  lifetimeExpired: number;
  /** Acquires that timed out. */
  timeouts: number;
  /** Acquires rejected at once because `maxPendingAcquires` were waiting. */
  rejectedFull: number;
  /** Connect attempts that failed (refused, timed out, ...). */
  connectFailures: number;
  /** Leases ended by `destroy()` or released with their stream closed. */
  destroyed: number;
  /** Leases reported as leaked. */
  leaks: number;
  /** Per target ("hostname:port"): the same gauges. */
  hosts: Record<string, HostStats>;
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/** One pooled connection. */
class Conn {
  readonly stream: TcpStream;
  readonly host: Host;
  readonly expiresAt: number;
  idleSince = 0;
  acquiredAt = 0;
  stack: Error | undefined = undefined;
  leakReported = false;

  constructor(stream: TcpStream, host: Host, expiresAt: number) {
    this.stream = stream;
    this.host = host;
    this.expiresAt = expiresAt;
  }
}

/** One waiting acquire; an intrusive FIFO node of its host's queue. */
class Waiter {
  readonly host: Host;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (error: unknown) => void;
  readonly stack: Error | undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  timer: Timer | undefined = undefined;
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queued = true;

  constructor(
    host: Host,
    resolve: (lease: Lease) => void,
    reject: (error: unknown) => void,
    stack: Error | undefined,
  ) {
    this.host = host;
    this.resolve = resolve;
    this.reject = reject;
    this.stack = stack;
  }
}

/** The state of one `hostname:port`. */
class Host {
  readonly hostname: string;
  readonly port: number;
  readonly key: string;
  /** LIFO stack: the most recently released connection on top, the longest idle at index 0. */
  readonly idle: Conn[] = [];
  /** Connections counted against the caps: idle, lent, connecting, and any being closed. */
  open = 0;
  inUse = 0;
  connecting = 0;
  waiting = 0;
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  lastError: unknown = undefined;

  constructor(hostname: string, port: number) {
    this.hostname = hostname;
    this.port = port;
    this.key = `${hostname}:${port}`;
  }
}

type Timer = ReturnType<typeof setTimeout>;

const HEALTHY = 0;
const peekBuf = new Uint8Array(1);

/**
 * The idle check, one syscall: recv(MSG_PEEK|MSG_DONTWAIT) of one byte. EAGAIN: nothing pending,
 * usable. 0: the peer sent FIN. > 0: unsolicited bytes (the peer is out of step with us, e.g. an
 * HTTP server's 408 before it closes). < 0: a reset or another socket error. tcp_recvmsg reports a
 * pending socket error (sk_err, and clears it) before it would return EAGAIN, so a separate
 * SO_ERROR read here would cost a second syscall and tell nothing new; SO_ERROR's only extra,
 * the "soft" ICMP error of a still-live connection, is no reason to drop it.
 */
function probe(stream: TcpStream): number {
  if (stream.closed) return -1;
  const fd = stream.fd;
  for (;;) {
    const r = sysRecv(fd, peekBuf, MSG_PEEK | MSG_DONTWAIT);
    if (r === -EAGAIN) return HEALTHY;
    if (r !== -EINTR) return r === 0 ? 1 : r;
  }
}

function defaultConnect(target: PoolTarget, signal: AbortSignal): Promise<TcpStream> {
  return TcpStream.connect({ hostname: target.hostname, port: target.port, signal });
}

function defaultOnLeak(report: LeakReport): void {
  console.warn(
    `netio ConnectionPool: a lease on ${report.hostname}:${report.port} has been held for ` +
      `${report.heldMs} ms; acquired at:\n${report.stack}`,
  );
}

function limit(name: string, value: unknown, fallback: number, min: number, inf: boolean): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || Number.isNaN(value) || value < min ||
    (value === Infinity ? !inf : !Number.isInteger(value))
  ) {
    throw new RangeError(
      `${name} must be an integer >= ${min}${inf ? " or Infinity" : ""}, got ${String(value)}`,
    );
  }
  return value;
}

function stackOf(error: Error | undefined): string {
  const stack = error?.stack ?? "";
  const firstFrame = stack.indexOf("\n");
  return firstFrame < 0 ? "" : stack.slice(firstFrame + 1);
}

type Checkin = (pool: ConnectionPool, conn: Conn, destroy: boolean) => void;
let checkin: Checkin;
let newLease: (pool: ConnectionPool, conn: Conn, reused: boolean) => Lease;

// ---------------------------------------------------------------------------------------------
// Lease
// ---------------------------------------------------------------------------------------------

/**
 * One connection lent by a {@linkcode ConnectionPool}. Give it back with `release()` (or let
 * `using` / `await using` do it); `destroy()` closes it instead, for a connection left in an
 * unknown state (an error mid-request, a protocol that ended it). Both are idempotent, and after
 * either `stream` throws: the connection may already belong to someone else.
 *
 * @example
 * ```ts
 * import { ConnectionPool, TcpListener } from "../mod.ts";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * await using pool = new ConnectionPool({ maxConnections: 4 });
 * {
 *   using lease = await pool.acquire({ hostname: "127.0.0.1", port: listener.addr.port });
 *   using _server = await listener.accept();
 *   await lease.stream.writeAll(new TextEncoder().encode("hello"));
 *   console.log(lease.reused); // false: a new connection
 * } // released here (after the server side closed: the pool will find it stale and replace it)
 * console.log(pool.stats().idle); // 1
 * ```
 */
export class Lease {
  #pool!: ConnectionPool;
  #conn: Conn | undefined;
  #stream!: TcpStream;
  #reused = false;

  static {
    newLease = (pool, conn, reused) => {
      const lease = new Lease();
      lease.#pool = pool;
      lease.#conn = conn;
      lease.#stream = conn.stream;
      lease.#reused = reused;
      return lease;
    };
  }

  /** Leases come from {@linkcode ConnectionPool.acquire} and {@linkcode ConnectionPool.tryAcquire}. */
  private constructor() {}

  /** The connection. Throws {@linkcode ClosedError} once the lease was released or destroyed. */
  get stream(): TcpStream {
    if (this.#conn === undefined) throw new ClosedError("lease.stream");
    return this.#stream;
  }

  /** Whether the connection was reused from the idle set (false: opened for this acquire). */
  get reused(): boolean {
    return this.#reused;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.#conn === undefined;
  }

  /**
   * Gives the connection back for reuse. Release only a connection whose last exchange is
   * complete (nothing left unread): bytes left over are found by the next check and the
   * connection is discarded. A second call does nothing.
   */
  release(): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    checkin(this.#pool, conn, false);
  }

  /** Closes the connection instead of returning it (its slot is freed). A second call does nothing. */
  destroy(): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    checkin(this.#pool, conn, true);
  }

  /** Same as `release()`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Same as `release()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------
// ConnectionPool
// ---------------------------------------------------------------------------------------------

/**
 * A bounded pool of TCP connections keyed by `hostname:port`, with waiting acquires, idle
 * health checks, idle and lifetime expiry, leak detection and statistics. See the module
 * documentation for the rules it keeps.
 *
 * @example
 * ```ts
 * import { ConnectionPool, TcpListener } from "../mod.ts";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * await using pool = new ConnectionPool({ maxConnections: 8, tune: { noDelay: true } });
 * const target = { hostname: "127.0.0.1", port: listener.addr.port };
 *
 * const first = await pool.acquire(target);
 * using _server = await listener.accept();
 * await first.stream.writeAll(new TextEncoder().encode("ping"));
 * first.release();
 *
 * const second = await pool.acquire(target); // the same connection, checked, then reused
 * console.log(second.reused, pool.stats().created); // true 1
 * second.release();
 * ```
 */
export class ConnectionPool {
  readonly #maxConnections: number;
  readonly #maxPerHost: number;
  readonly #idleTimeoutMs: number;
  readonly #maxLifetimeMs: number;
  readonly #lifetimeJitter: number;
  readonly #acquireTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxPending: number;
  readonly #minIdle: number;
  readonly #checkAfterIdleMs: number;
  readonly #leakMs: number;
  readonly #onLeak: (report: LeakReport) => void;
  readonly #validate: ((stream: TcpStream) => boolean) | undefined;
  readonly #connect: (target: PoolTarget, signal: AbortSignal) => Promise<TcpStream>;
  readonly #tune: TuneSettings | undefined;
  readonly #sweepSlackMs: number;

  readonly #hosts = new Map<string, Map<number, Host>>();
  #total = 0;
  #idle = 0;
  #inUse = 0;
  #connecting = 0;
  #pending = 0;
  /** Waiters that no connect in flight will serve: they wait for a release (the pending bound). */
  #uncovered = 0;
  /** Hosts with waiters held back by `maxConnections` alone (served when capacity frees). */
  readonly #starved = new Set<Host>();
  #closed = false;
  /** Set by #discard: slots were freed during this operation (see #settle). */
  #freed = false;
  #closing: Promise<void> | undefined;
  readonly #connects = new Set<{ controller: AbortController; done: Promise<boolean> }>();
  /** A recent clock reading (ms), updated on release and by the sweeper: lifetime checks. */
  #now = 0;
  #sweepTimer: Timer | undefined;
  #sweepAt = Infinity;
  #leakTimer: Timer | undefined;
  readonly #leased = new Set<Conn>();
  #created = 0;
  #reused = 0;
  #staleReplaced = 0;
  #idleEvicted = 0;
  #lifetimeExpired = 0;
  #timeouts = 0;
  #rejectedFull = 0;
  #connectFailures = 0;
  #destroyed = 0;
  #leaks = 0;

  static {
    checkin = (pool, conn, destroy) => pool.#checkin(conn, destroy);
  }

  /** Creates an empty pool: nothing connects before the first acquire. Bad options throw. */
  constructor(options: PoolOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("ConnectionPool expects an options object");
    }
    this.#maxConnections = limit("maxConnections", options.maxConnections, 64, 1, false);
    this.#maxPerHost = limit("maxPerHost", options.maxPerHost, this.#maxConnections, 1, false);
    this.#idleTimeoutMs = limit("idleTimeoutMs", options.idleTimeoutMs, 30_000, 0, true);
    this.#maxLifetimeMs = limit("maxLifetimeMs", options.maxLifetimeMs, 1_800_000, 0, true);
    const jitter = options.lifetimeJitter ?? 0.025;
    if (typeof jitter !== "number" || !(jitter >= 0 && jitter <= 0.5)) {
      throw new RangeError(`lifetimeJitter must be in 0..0.5, got ${String(jitter)}`);
    }
    this.#lifetimeJitter = jitter;
    this.#acquireTimeoutMs = limit("acquireTimeoutMs", options.acquireTimeoutMs, 30_000, 1, true);
    this.#connectTimeoutMs = limit(
      "connectTimeoutMs",
      options.connectTimeoutMs,
      this.#acquireTimeoutMs,
      1,
      true,
    );
    this.#maxPending = limit("maxPendingAcquires", options.maxPendingAcquires, 10_000, 0, true);
    this.#minIdle = limit("minIdle", options.minIdle, 0, 0, false);
    if (this.#minIdle > this.#maxPerHost) {
      throw new RangeError(`minIdle (${this.#minIdle}) exceeds maxPerHost (${this.#maxPerHost})`);
    }
    this.#checkAfterIdleMs = limit("checkAfterIdleMs", options.checkAfterIdleMs, 0, 0, true);
    this.#leakMs = limit("leakDetectionMs", options.leakDetectionMs, 0, 0, false);
    for (const name of ["onLeak", "validate", "connect"] as const) {
      if (options[name] !== undefined && typeof options[name] !== "function") {
        throw new TypeError(`${name} must be a function`);
      }
    }
    if (options.tune !== undefined && (typeof options.tune !== "object" || options.tune === null)) {
      throw new TypeError("tune must be an object of socket options");
    }
    this.#onLeak = options.onLeak ?? defaultOnLeak;
    this.#validate = options.validate;
    this.#connect = options.connect ?? defaultConnect;
    this.#tune = options.tune;
    // Deadlines closer together than this are swept by one timer run.
    const window = Math.min(
      this.#idleTimeoutMs || Infinity,
      this.#maxLifetimeMs || Infinity,
    );
    this.#sweepSlackMs = Number.isFinite(window) ? Math.min(1000, Math.ceil(window / 32)) : 0;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Lends a connection to `target`: an idle one (checked first, most recently used first), a
   * new one while under the caps, or the next one released, in FIFO order. Rejects with
   * {@linkcode PoolTimeoutError} after `acquireTimeoutMs`, {@linkcode PoolFullError} at once when
   * `maxPendingAcquires` are waiting, {@linkcode PoolClosedError} once closed, the signal's
   * reason on abort, and the connect's error when a connect made for it fails. Bad targets reject
   * with TypeError/RangeError.
   */
  acquire(target: PoolTarget, options?: AcquireOptions): Promise<Lease> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let host: Host;
    try {
      host = this.#hostFor(target);
    } catch (error) {
      return Promise.reject(error);
    }
    const stack = this.#leakMs > 0 ? new Error("acquired here") : undefined;
    if (host.head === undefined && host.idle.length > 0) {
      const conn = this.#takeIdle(host);
      if (conn !== undefined) {
        const lease = this.#lend(conn, true, stack);
        if (this.#freed) this.#settle(host, true);
        return Promise.resolve(lease);
      }
    }
    return this.#wait(host, signal, stack);
  }

  /**
   * Lends an idle connection to `target` now, checked like any other, or returns null: it never
   * waits and never connects (nor does it jump ahead of acquires already waiting). Throws
   * {@linkcode PoolClosedError} once closed, TypeError/RangeError for a bad target.
   */
  tryAcquire(target: PoolTarget): Lease | null {
    const host = this.#hostFor(target);
    let lease: Lease | null = null;
    if (host.head === undefined && host.idle.length > 0) {
      const conn = this.#takeIdle(host);
      if (conn !== undefined) {
        lease = this.#lend(conn, true, this.#leakMs > 0 ? new Error("acquired here") : undefined);
      }
    }
    if (lease === null || this.#freed) this.#settle(host, false);
    return lease;
  }

  /**
   * Opens connections to `target` until it has `count` idle (default `minIdle`, at least 1),
   * within the caps; resolves with how many were opened. Connect failures are counted in
   * `stats().connectFailures`, not thrown.
   */
  async warmUp(target: PoolTarget, count?: number): Promise<number> {
    const want = limit("count", count, Math.max(1, this.#minIdle), 0, false);
    const host = this.#hostFor(target);
    const attempts: Promise<boolean>[] = [];
    while (
      host.idle.length + host.connecting < want + host.waiting &&
      host.open < this.#maxPerHost && this.#total < this.#maxConnections
    ) {
      attempts.push(this.#startConnect(host));
    }
    this.#forgetIfUnused(host);
    let opened = 0;
    for (const ok of await Promise.all(attempts)) if (ok) opened++;
    return opened;
  }

  /** Gauges and counters; `hosts` holds the same gauges per target. */
  stats(): PoolStats {
    const hosts: Record<string, HostStats> = {};
    for (const byPort of this.#hosts.values()) {
      for (const h of byPort.values()) {
        hosts[h.key] = {
          total: h.open,
          idle: h.idle.length,
          inUse: h.inUse,
          pending: h.waiting,
          connecting: h.connecting,
        };
      }
    }
    return {
      total: this.#total,
      idle: this.#idle,
      inUse: this.#inUse,
      pending: this.#pending,
      connecting: this.#connecting,
      created: this.#created,
      reused: this.#reused,
      staleReplaced: this.#staleReplaced,
      idleEvicted: this.#idleEvicted,
      lifetimeExpired: this.#lifetimeExpired,
      timeouts: this.#timeouts,
      rejectedFull: this.#rejectedFull,
      connectFailures: this.#connectFailures,
      destroyed: this.#destroyed,
      leaks: this.#leaks,
      hosts,
    };
  }

  /**
   * Closes the pool: pending acquires reject with {@linkcode PoolClosedError}, idle connections
   * close, connects in flight are aborted, and connections still lent out close when released.
   * Resolves once every connect in flight has settled. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    if (this.#leakTimer !== undefined) clearTimeout(this.#leakTimer);
    this.#sweepTimer = this.#leakTimer = undefined;
    this.#sweepAt = Infinity;
    this.#leased.clear();
    this.#starved.clear();
    const error = new PoolClosedError();
    for (const byPort of this.#hosts.values()) {
      for (const host of byPort.values()) {
        while (host.head !== undefined) {
          const w = host.head;
          this.#dequeue(w);
          w.reject(error);
        }
        for (const conn of host.idle.splice(0)) {
          this.#idle--;
          this.#discard(conn);
        }
      }
    }
    const pending: Promise<boolean>[] = [];
    for (const c of this.#connects) {
      c.controller.abort(error);
      pending.push(c.done);
    }
    for (const byPort of [...this.#hosts.values()]) {
      for (const host of [...byPort.values()]) this.#forgetIfUnused(host);
    }
    return this.#closing = Promise.all(pending).then(() => {});
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------------------------
  // Hosts

  #hostFor(target: PoolTarget): Host {
    if (this.#closed) throw new PoolClosedError();
    if (typeof target !== "object" || target === null) {
      throw new TypeError("acquire expects a target { hostname, port }");
    }
    const hostname = target.hostname;
    const port = target.port;
    const host = this.#hosts.get(hostname)?.get(port);
    if (host !== undefined) return host;
    checkHostname(hostname);
    checkPort(port, false);
    const created = new Host(hostname, port);
    this.#register(created);
    return created;
  }

  #register(host: Host): void {
    let byPort = this.#hosts.get(host.hostname);
    if (byPort === undefined) this.#hosts.set(host.hostname, byPort = new Map());
    if (!byPort.has(host.port)) byPort.set(host.port, host);
  }

  /** Drops a host's entry once it holds nothing, so failing targets leave no state behind. */
  #forgetIfUnused(host: Host): void {
    if (host.open !== 0 || host.waiting !== 0) return;
    const byPort = this.#hosts.get(host.hostname);
    if (byPort?.get(host.port) !== host) return;
    byPort.delete(host.port);
    if (byPort.size === 0) this.#hosts.delete(host.hostname);
    this.#starved.delete(host);
  }

  /**
   * The end of every operation on `host`: serve its waiters, then (when slots were freed) hosts
   * held back by `maxConnections`, top it up to `minIdle`, and drop it if it holds nothing.
   * `refill` is false after a failed connect, so that a dead target is not retried in a loop.
   */
  #settle(host: Host, refill: boolean): void {
    const freed = this.#freed;
    this.#freed = false;
    if (!this.#closed) {
      if (host.head !== undefined) this.#dispatch(host);
      if (freed && this.#starved.size > 0) this.#serveStarved();
      if (refill && this.#minIdle > 0) this.#refill(host);
    }
    this.#forgetIfUnused(host);
  }

  // -------------------------------------------------------------------------------------------
  // Lending and returning

  /** Pops idle connections until one passes the check; the others are closed. */
  #takeIdle(host: Host): Conn | undefined {
    const idle = host.idle;
    let conn: Conn | undefined;
    while ((conn = idle.pop()) !== undefined) {
      this.#idle--;
      if (conn.expiresAt <= this.#now) {
        this.#lifetimeExpired++;
        this.#discard(conn);
      } else if (this.#healthy(conn)) {
        return conn;
      } else {
        this.#staleReplaced++;
        this.#discard(conn);
      }
    }
    return undefined;
  }

  #healthy(conn: Conn): boolean {
    if (this.#checkAfterIdleMs > 0 && Date.now() - conn.idleSince < this.#checkAfterIdleMs) {
      return true;
    }
    if (probe(conn.stream) !== HEALTHY) return false;
    const validate = this.#validate;
    if (validate === undefined) return true;
    try {
      return validate(conn.stream) === true;
    } catch {
      return false;
    }
  }

  #lend(conn: Conn, reused: boolean, stack: Error | undefined): Lease {
    conn.host.inUse++;
    this.#inUse++;
    if (reused) this.#reused++;
    if (this.#leakMs > 0) {
      conn.acquiredAt = Date.now();
      conn.stack = stack;
      conn.leakReported = false;
      this.#leased.add(conn);
      if (this.#leakTimer === undefined) this.#armLeakTimer(conn.acquiredAt + this.#leakMs);
    }
    return newLease(this, conn, reused);
  }

  #checkin(conn: Conn, destroy: boolean): void {
    const host = conn.host;
    host.inUse--;
    this.#inUse--;
    if (this.#leakMs > 0) {
      this.#leased.delete(conn);
      conn.stack = undefined;
    }
    if (destroy || this.#closed || conn.stream.closed) {
      if (destroy || conn.stream.closed) this.#destroyed++;
      this.#discard(conn);
      this.#settle(host, true);
      return;
    }
    const now = Date.now();
    this.#now = now;
    conn.idleSince = now;
    if (now >= conn.expiresAt) {
      this.#lifetimeExpired++;
      this.#discard(conn);
      this.#settle(host, true);
      return;
    }
    this.#offer(conn, false);
    if (this.#freed) this.#settle(host, true);
  }

  /**
   * Gives a connection to the host's first waiter (checked first, unless fresh from connect),
   * or closes it when another host waits for capacity, or puts it on the idle stack.
   */
  #offer(conn: Conn, fresh: boolean): void {
    const host = conn.host;
    const waiter = host.head;
    if (waiter !== undefined) {
      if (!fresh && !this.#healthy(conn)) {
        this.#staleReplaced++;
        this.#discard(conn);
        return;
      }
      this.#dequeue(waiter);
      waiter.resolve(this.#lend(conn, !fresh, waiter.stack));
      return;
    }
    if (this.#starved.size > 0) {
      // Another target waits for a slot under maxConnections: it is worth more than an idle socket.
      this.#discard(conn);
      return;
    }
    host.idle.push(conn);
    this.#idle++;
    const deadline = this.#deadline(conn);
    if (deadline < this.#sweepAt) this.#armSweep(deadline);
  }

  /** Closes a connection that is in no list any more and frees its slot. */
  #discard(conn: Conn): void {
    conn.stream.close();
    conn.host.open--;
    this.#total--;
    this.#freed = true;
  }

  // -------------------------------------------------------------------------------------------
  // Waiting

  #wait(host: Host, signal: AbortSignal | undefined, stack: Error | undefined): Promise<Lease> {
    let resolve!: (lease: Lease) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Lease>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const w = new Waiter(host, resolve, reject, stack);
    if (host.tail === undefined) host.head = w;
    else {
      host.tail.next = w;
      w.prev = host.tail;
    }
    host.tail = w;
    this.#adjust(host, 1, 0);
    this.#pending++;
    this.#settle(host, true);
    if (!w.queued) return promise;
    if (host.waiting > host.connecting && this.#uncovered > this.#maxPending) {
      // Saturated, and the queue of acquires waiting for a release is full: fail fast.
      this.#dequeue(w);
      this.#rejectedFull++;
      this.#forgetIfUnused(host);
      reject(new PoolFullError(host.key, this.#maxPending));
      return promise;
    }
    if (this.#acquireTimeoutMs !== Infinity) {
      w.timer = setTimeout(() => {
        w.timer = undefined;
        if (!w.queued) return;
        this.#dequeue(w);
        this.#timeouts++;
        const cause = host.lastError;
        this.#forgetIfUnused(host);
        w.reject(
          new PoolTimeoutError(
            host.key,
            this.#acquireTimeoutMs,
            cause === undefined ? undefined : { cause },
          ),
        );
      }, this.#acquireTimeoutMs);
    }
    if (signal !== undefined) {
      w.signal = signal;
      w.onAbort = () => {
        if (!w.queued) return;
        this.#dequeue(w);
        this.#forgetIfUnused(host);
        w.reject(signal.reason);
      };
      signal.addEventListener("abort", w.onAbort, { once: true });
    }
    return promise;
  }

  /** Removes a waiter from its queue and drops its timer and abort listener. */
  #dequeue(w: Waiter): void {
    if (!w.queued) return;
    w.queued = false;
    const host = w.host;
    if (w.prev === undefined) host.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) host.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = undefined;
    this.#adjust(host, -1, 0);
    this.#pending--;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal!.removeEventListener("abort", w.onAbort);
    w.timer = w.onAbort = w.signal = undefined;
  }

  /** Changes a host's waiting/connecting counts, keeping `#uncovered` (and `#starved`) exact. */
  #adjust(host: Host, waiting: number, connecting: number): void {
    const before = host.waiting > host.connecting ? host.waiting - host.connecting : 0;
    host.waiting += waiting;
    host.connecting += connecting;
    this.#connecting += connecting;
    const after = host.waiting > host.connecting ? host.waiting - host.connecting : 0;
    this.#uncovered += after - before;
    if (after === 0 && this.#starved.size > 0) this.#starved.delete(host);
  }

  /** Serves a host's waiters: idle connections first, then new connects within the caps. */
  #dispatch(host: Host): void {
    while (host.head !== undefined) {
      if (host.idle.length > 0) {
        const conn = this.#takeIdle(host);
        if (conn !== undefined) {
          const w = host.head;
          this.#dequeue(w);
          w.resolve(this.#lend(conn, true, w.stack));
        }
        continue;
      }
      if (host.connecting >= host.waiting || host.open >= this.#maxPerHost) break;
      if (this.#total >= this.#maxConnections && !this.#evictIdleElsewhere(host)) {
        this.#starved.add(host);
        return;
      }
      this.#startConnect(host);
    }
    // Whatever still waits here waits for this host's own connects or releases.
    this.#starved.delete(host);
  }

  /** Serves hosts held back by `maxConnections`, oldest first, while capacity lasts. */
  #serveStarved(): void {
    for (const host of [...this.#starved]) {
      if (this.#total >= this.#maxConnections && this.#idle === 0) return;
      this.#starved.delete(host);
      this.#dispatch(host);
    }
  }

  /** Closes the longest-idle connection of another host to make room; false when there is none. */
  #evictIdleElsewhere(host: Host): boolean {
    if (this.#idle === 0) return false;
    let victim: Host | undefined;
    let since = Infinity;
    for (const byPort of this.#hosts.values()) {
      for (const h of byPort.values()) {
        const oldest = h.idle[0];
        if (h !== host && oldest !== undefined && oldest.idleSince < since) {
          since = oldest.idleSince;
          victim = h;
        }
      }
    }
    if (victim === undefined) return false;
    const conn = victim.idle.shift()!;
    this.#idle--;
    this.#idleEvicted++;
    this.#discard(conn);
    this.#forgetIfUnused(victim);
    return true;
  }

  /** Tops a host up to `minIdle` idle connections, within the caps. */
  #refill(host: Host): void {
    while (
      host.idle.length + host.connecting - host.waiting < this.#minIdle &&
      host.open < this.#maxPerHost && this.#total < this.#maxConnections
    ) {
      this.#startConnect(host);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connecting

  /** Starts one connect for `host`; resolves true when it produced a connection. */
  #startConnect(host: Host): Promise<boolean> {
    // A host whose entry was dropped while this operation ran (it was evicted to make room)
    // gets it back before it holds anything again.
    this.#register(host);
    host.open++;
    this.#total++;
    this.#adjust(host, 0, 1);
    const controller = new AbortController();
    let timer: Timer | undefined;
    if (this.#connectTimeoutMs !== Infinity) {
      timer = setTimeout(() => {
        controller.abort(
          new PoolTimeoutError(host.key, this.#connectTimeoutMs, undefined, "connect"),
        );
      }, this.#connectTimeoutMs);
    }
    const target: PoolTarget = { hostname: host.hostname, port: host.port };
    const entry = { controller, done: Promise.resolve(false) };
    entry.done = new Promise<TcpStream>((resolve) => {
      resolve(this.#connect(target, controller.signal));
    }).then(
      (stream) => {
        clearTimeout(timer);
        this.#connects.delete(entry);
        return this.#connected(host, stream);
      },
      (error) => {
        clearTimeout(timer);
        this.#connects.delete(entry);
        this.#connectFailed(host, error, false);
        return false;
      },
    );
    this.#connects.add(entry);
    return entry.done;
  }

  #connected(host: Host, stream: TcpStream): boolean {
    this.#adjust(host, 0, -1);
    if (this.#closed) {
      stream.close();
      host.open--;
      this.#total--;
      this.#forgetIfUnused(host);
      return false;
    }
    if (this.#tune !== undefined) {
      try {
        stream.tune(this.#tune);
      } catch (error) {
        stream.close();
        this.#connectFailed(host, error, true);
        return false;
      }
    }
    this.#created++;
    host.lastError = undefined;
    const now = Date.now();
    this.#now = now;
    const lifetime = this.#maxLifetimeMs;
    const expiresAt = lifetime === 0 || lifetime === Infinity
      ? Infinity
      : now + lifetime * (1 - this.#lifetimeJitter * Math.random());
    const conn = new Conn(stream, host, expiresAt);
    conn.idleSince = now;
    this.#offer(conn, true);
    this.#settle(host, true);
    return true;
  }

  #connectFailed(host: Host, error: unknown, adjusted: boolean): void {
    if (!adjusted) this.#adjust(host, 0, -1);
    host.open--;
    this.#total--;
    this.#freed = true;
    if (!this.#closed) {
      this.#connectFailures++;
      host.lastError = error;
      // A waiter that no other connect in flight covers has lost its connection: tell it why.
      if (host.waiting > host.connecting && host.head !== undefined) {
        const w = host.head;
        this.#dequeue(w);
        w.reject(error);
      }
    }
    this.#settle(host, false);
  }

  // -------------------------------------------------------------------------------------------
  // Timers: idle/lifetime sweeping and leak detection, both unref'd

  #deadline(conn: Conn): number {
    const idle = this.#idleTimeoutMs;
    const idleAt = idle === 0 || idle === Infinity ? Infinity : conn.idleSince + idle;
    return idleAt < conn.expiresAt ? idleAt : conn.expiresAt;
  }

  #armSweep(at: number): void {
    if (at === Infinity || this.#closed) return;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    const delay = Math.max(0, Math.ceil(at - Date.now())) + this.#sweepSlackMs;
    const timer = setTimeout(this.#sweep, delay);
    Deno.unrefTimer(timer);
    this.#sweepTimer = timer;
  }

  #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    if (this.#closed) return;
    const now = Date.now();
    this.#now = now;
    const idleTimeout = this.#idleTimeoutMs === Infinity ? 0 : this.#idleTimeoutMs;
    let next = Infinity;
    const touched: Host[] = [];
    for (const byPort of this.#hosts.values()) {
      for (const host of byPort.values()) {
        const idle = host.idle;
        if (idle.length === 0) continue;
        // Oldest first (index 0); idle eviction stops at minIdle, lifetime expiry does not.
        let evictable = idle.length - this.#minIdle;
        let kept = 0;
        for (let i = 0; i < idle.length; i++) {
          const conn = idle[i]!;
          if (conn.expiresAt <= now) {
            this.#lifetimeExpired++;
          } else if (idleTimeout > 0 && evictable > 0 && now - conn.idleSince >= idleTimeout) {
            this.#idleEvicted++;
            evictable--;
          } else {
            idle[kept++] = conn;
            const at = evictable > 0 && idleTimeout > 0
              ? Math.min(conn.idleSince + idleTimeout, conn.expiresAt)
              : conn.expiresAt;
            if (at < next) next = at;
            continue;
          }
          this.#idle--;
          this.#discard(conn);
        }
        if (kept !== idle.length) {
          idle.length = kept;
          touched.push(host);
        }
      }
    }
    for (const host of touched) this.#settle(host, true);
    if (next < this.#sweepAt) this.#armSweep(next);
  };

  #armLeakTimer(at: number): void {
    if (this.#closed) return;
    const timer = setTimeout(this.#checkLeaks, Math.max(0, Math.ceil(at - Date.now())));
    Deno.unrefTimer(timer);
    this.#leakTimer = timer;
  }

  #checkLeaks = (): void => {
    this.#leakTimer = undefined;
    if (this.#closed) return;
    const now = Date.now();
    let next = Infinity;
    const leaked: Conn[] = [];
    for (const conn of this.#leased) {
      if (conn.leakReported) continue;
      const due = conn.acquiredAt + this.#leakMs;
      if (due <= now) leaked.push(conn);
      else if (due < next) next = due;
    }
    for (const conn of leaked) {
      conn.leakReported = true;
      this.#leaks++;
      try {
        this.#onLeak({
          hostname: conn.host.hostname,
          port: conn.host.port,
          heldMs: now - conn.acquiredAt,
          stack: stackOf(conn.stack),
        });
      } catch (error) {
        console.error("netio ConnectionPool: onLeak threw", error);
      }
    }
    if (next !== Infinity && this.#leakTimer === undefined) this.#armLeakTimer(next);
  };
}
