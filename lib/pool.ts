/**
 * The pool's old path, kept so that existing imports work: everything here now lives in
 * `lib/pool/` (`lib/pool/mod.ts` is the `./pool` export). Import from there instead.
 *
 * @example
 * ```ts
 * import { ConnectionPool } from "./pool/mod.ts";
 * await using pool = new ConnectionPool({ maxConnections: 4 });
 * console.log(pool.closed); // false
 * ```
 *
 * @module
 */

export {
  type AcquireOptions,
  ConnectionPool,
  type HostStats,
  type LeakReport,
  Lease,
  PoolClosedError,
  PoolError,
  type PoolErrorCode,
  PoolFullError,
  type PoolOptions,
  type PoolStats,
  type PoolTarget,
  PoolTimeoutError,
} from "./pool/mod.ts";
