/**
 * Connection pool: uncontended acquire + release of one idle connection, beside the costs it is
 * made of. Run: `deno bench --allow-ffi --allow-net bench/pool_bench.ts`.
 *
 * - `acquire()` + `release()`: the default path: one `recv(MSG_PEEK|MSG_DONTWAIT)` health check
 *   per acquire, and a resolved promise.
 * - `tryAcquire()` + `release()`: the synchronous path, the same check, no promise.
 * - both with `checkAfterIdleMs` set (the check skipped for a connection idle less than that,
 *   HikariCP's aliveBypassWindowMs): the pool's own bookkeeping alone.
 * - `recv(MSG_PEEK|MSG_DONTWAIT)` alone: the floor the health check puts under every acquire.
 * - `await Promise.resolve()`: the floor an async `acquire()` puts under it.
 */
import { ConnectionPool, TcpListener, TcpStream } from "../mod.ts";
import { MSG_DONTWAIT, MSG_PEEK } from "../ffi/constants.ts";
import { sysRecv } from "../ffi/libc.ts";

const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const target = { hostname: "127.0.0.1", port: listener.addr.port };

async function warmPool(options: { checkAfterIdleMs?: number }): Promise<ConnectionPool> {
  const pool = new ConnectionPool({ maxConnections: 4, ...options });
  (await pool.acquire(target)).release();
  return pool;
}

const checked = await warmPool({});
const bypassed = await warmPool({ checkAfterIdleMs: 60_000 });
const peekStream = await TcpStream.connect(target);
const peers = [await listener.accept(), await listener.accept(), await listener.accept()];
const peekFd = peekStream.fd;
const buf = new Uint8Array(1);

Deno.bench("acquire() + release(), health-checked", { group: "pool", baseline: true }, async () => {
  (await checked.acquire(target)).release();
});
Deno.bench("tryAcquire() + release(), health-checked", { group: "pool" }, () => {
  checked.tryAcquire(target)!.release();
});
Deno.bench("acquire() + release(), check bypassed", { group: "pool" }, async () => {
  (await bypassed.acquire(target)).release();
});
Deno.bench("tryAcquire() + release(), check bypassed", { group: "pool" }, () => {
  bypassed.tryAcquire(target)!.release();
});
Deno.bench("recv(MSG_PEEK|MSG_DONTWAIT) alone", { group: "pool" }, () => {
  sysRecv(peekFd, buf, MSG_PEEK | MSG_DONTWAIT);
});
Deno.bench("await Promise.resolve() alone", { group: "pool" }, async () => {
  await Promise.resolve(buf);
});

globalThis.addEventListener("unload", () => {
  for (const s of peers) s.close();
  peekStream.close();
  listener.close();
});
