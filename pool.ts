/**
 * `@netio/netio/pool`: the connection pool ({@linkcode ConnectionPool}, {@linkcode Lease}) and
 * its errors and statistics. The same names are exported by the root module too.
 *
 * @example
 * ```ts
 * import { ConnectionPool } from "./pool.ts";
 *
 * await using pool = new ConnectionPool({ maxConnections: 8 });
 * console.log(pool.stats().total); // 0
 * ```
 *
 * @module
 */

export * from "./lib/pool/mod.ts";
