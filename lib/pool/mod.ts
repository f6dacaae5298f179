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
 * @example
 * ```ts
 * import { ConnectionPool } from "./mod.ts";
 * import { TcpListener } from "../../mod.ts";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * await using pool = new ConnectionPool({ maxConnections: 4, acquireTimeoutMs: 1_000 });
 * await using lease = await pool.acquire({ hostname: "127.0.0.1", port: listener.addr.port });
 * using _server = await listener.accept();
 * console.log(pool.stats().inUse); // 1
 * ```
 *
 * @module
 */

export { ConnectionPool } from "./pool.ts";
export { Lease } from "./lease.ts";
export {
  PoolClosedError,
  PoolError,
  type PoolErrorCode,
  PoolFullError,
  PoolTimeoutError,
  type PoolTimeoutErrorOptions,
} from "./errors.ts";
export type { AcquireOptions, LeakReport, PoolOptions, PoolTarget } from "./options.ts";
export type { HostStats, PoolStats } from "./stats.ts";
