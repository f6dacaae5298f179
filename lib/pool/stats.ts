/**
 * What {@linkcode ConnectionPool.stats} reports: gauges and counters, in total and per target.
 *
 * @module
 */

/**
 * Gauges of one target, in {@linkcode PoolStats.hosts}.
 *
 * @example
 * ```ts
 * import { ConnectionPool, type HostStats } from "./mod.ts";
 * await using pool = new ConnectionPool();
 * const gauges: HostStats | undefined = pool.stats().hosts["127.0.0.1:8080"];
 * console.log(gauges); // undefined: nothing was acquired from that target
 * ```
 */
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

/**
 * Gauges and counters from {@linkcode ConnectionPool.stats}.
 *
 * @example
 * ```ts
 * import { ConnectionPool, type PoolStats } from "./mod.ts";
 * await using pool = new ConnectionPool();
 * const stats: PoolStats = pool.stats();
 * console.log(stats.total, stats.idle, stats.inUse); // 0 0 0
 * ```
 */
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
