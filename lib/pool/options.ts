/**
 * What a {@linkcode ConnectionPool} is given: its options, the targets it connects to, and the
 * options of one acquire.
 *
 * @module
 */

import type { TcpStream } from "../net/mod.ts";
import type { TuneSettings } from "../net/options.ts";

/**
 * Where to connect: the pool keeps one set of connections per `hostname:port`.
 *
 * @example
 * ```ts
 * import type { PoolTarget } from "./mod.ts";
 * const target: PoolTarget = { hostname: "127.0.0.1", port: 8080 };
 * console.log(`${target.hostname}:${target.port}`); // 127.0.0.1:8080
 * ```
 */
export interface PoolTarget {
  /** An IP literal, "localhost", or a name (resolved per connect by the `connect` function). */
  hostname: string;
  /** Port, 1..65535. */
  port: number;
}

/**
 * What {@linkcode PoolOptions.onLeak} receives.
 *
 * @example
 * ```ts
 * import { ConnectionPool, type LeakReport } from "./mod.ts";
 * const onLeak = (report: LeakReport): void => {
 *   console.error(`lease on ${report.hostname}:${report.port} held ${report.heldMs} ms`);
 *   console.error(report.stack);
 * };
 * await using _pool = new ConnectionPool({ leakDetectionMs: 10_000, onLeak });
 * ```
 */
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

/**
 * Options of {@linkcode ConnectionPool}. Every limit has a default; times are milliseconds.
 *
 * @example
 * ```ts
 * import { ConnectionPool, type PoolOptions } from "./mod.ts";
 * const options: PoolOptions = {
 *   maxConnections: 32,
 *   maxPerHost: 8,
 *   idleTimeoutMs: 10_000,
 *   acquireTimeoutMs: 2_000,
 *   tune: { noDelay: true },
 * };
 * await using _pool = new ConnectionPool(options);
 * ```
 */
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

/**
 * Options of {@linkcode ConnectionPool.acquire}.
 *
 * @example
 * ```ts
 * import type { AcquireOptions } from "./mod.ts";
 * const options: AcquireOptions = { signal: AbortSignal.timeout(1_000) };
 * console.log(options.signal instanceof AbortSignal); // true
 * ```
 */
export interface AcquireOptions {
  /** Aborts the wait: the acquire rejects with the signal's reason. */
  signal?: AbortSignal;
}
