/**
 * ConnectionPool: the bookkeeping edges the main pool tests leave open, each written to fail when
 * one branch of lib/pool/pool.ts is broken (issue 12's mutation runs): what a release after
 * close() counts and starts, the minIdle top-up after a destroy and never after a failed connect,
 * an expired idle connection met by an acquire, the timeout error's cause, the abort listener of
 * a served waiter, a host held back by maxConnections keeping its place after an abort, and
 * maxPendingAcquires with connects in flight. Real sockets over loopback.
 */
import assert from "node:assert/strict";
import {
  ConnectionPool,
  type Lease,
  PoolClosedError,
  PoolFullError,
  type PoolOptions,
  type PoolTarget,
  PoolTimeoutError,
  Reactor,
  TcpListener,
  TcpStream,
} from "../mod.ts";
import { EAGAIN, EINTR } from "../ffi/errno.ts";
import { withFaults } from "./syscall_faults.ts";
import { trackedAbortSignal, until } from "./helpers.ts";

Reactor.default(); // owns its fds for the process lifetime

/** A listener that accepts every connection and holds it open until closed. */
class HoldServer {
  readonly listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  readonly accepted: TcpStream[] = [];
  readonly #loop: Promise<void>;

  constructor() {
    this.#loop = (async () => {
      for await (const stream of this.listener) this.accepted.push(stream);
    })();
  }

  get target(): PoolTarget {
    return { hostname: "127.0.0.1", port: this.listener.addr.port };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.close();
    await this.#loop;
    for (const s of this.accepted) s.close();
  }
}

/** A pool closed (and checked empty) on disposal. */
function poolOf(options: PoolOptions): ConnectionPool & AsyncDisposable {
  const pool = new ConnectionPool(options);
  return Object.assign(pool, {
    async [Symbol.asyncDispose](): Promise<void> {
      await pool.close();
      assert.equal(
        pool.stats().total,
        0,
        "connections left open after close()",
      );
    },
  });
}

/** A port with nothing listening (bound, then closed). */
function closedPort(): number {
  const l = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("a lease released after close() is closed, not counted as destroyed, and starts no top-up", async () => {
  await using server = new HoldServer();
  const pool = new ConnectionPool({ minIdle: 1 });
  const lease = await pool.acquire(server.target);
  await until(
    () => pool.stats().idle === 1 && pool.stats().connecting === 0,
    "the top-up",
  );
  await pool.close();
  const stream = lease.stream;
  lease.release();
  const s = pool.stats();
  assert.equal(
    s.destroyed,
    0,
    "a plain release after close() counted as a destroy",
  );
  assert.equal(s.connecting, 0, "a closed pool started a connect");
  assert.equal(s.total, 0);
  assert.equal(stream.closed, true);
});

Deno.test("minIdle: taking an idle connection starts no connect; destroying one tops the target up", async () => {
  await using server = new HoldServer();
  await using pool = poolOf({ minIdle: 1 });
  const first = await pool.acquire(server.target);
  await until(
    () => pool.stats().idle === 1 && pool.stats().connecting === 0,
    "the top-up",
  );
  const second = await pool.acquire(server.target);
  assert.equal(second.reused, true);
  assert.equal(
    pool.stats().connecting,
    0,
    "taking an idle connection started a connect",
  );
  second.destroy();
  assert.equal(pool.stats().destroyed, 1);
  assert.equal(
    pool.stats().connecting,
    1,
    "the destroyed connection was not replaced",
  );
  await until(
    () => pool.stats().idle === 1 && pool.stats().connecting === 0,
    "the replacement",
  );
  first.release();
});

Deno.test("minIdle: a lease released past its lifetime is closed and the target topped up", async () => {
  await using server = new HoldServer();
  // maxPerHost 1: no top-up can happen while the lease is out, only once its slot is freed.
  await using pool = poolOf({
    minIdle: 1,
    maxPerHost: 1,
    maxLifetimeMs: 200,
    lifetimeJitter: 0,
  });
  const lease = await pool.acquire(server.target);
  const expiresBy = Date.now() + 200;
  assert.equal(pool.stats().connecting, 0);
  await until(() => Date.now() > expiresBy, "the lifetime to pass");
  const stream = lease.stream;
  lease.release();
  assert.equal(stream.closed, true, "an expired connection was kept");
  assert.equal(pool.stats().lifetimeExpired, 1);
  assert.equal(
    pool.stats().connecting,
    1,
    "the expired connection was not replaced",
  );
});

Deno.test("minIdle: a release to the idle stack starts no connect, even below minIdle", async () => {
  // The top-up runs when slots are freed (a close, a destroy, a failed connect), not on a plain
  // release: three leases out of a target topped up to 2, one comes back, nothing connects.
  await using server = new HoldServer();
  await using pool = poolOf({ minIdle: 2 });
  const leases = [await pool.acquire(server.target)];
  await until(
    () => pool.stats().idle === 2 && pool.stats().connecting === 0,
    "the top-up",
  );
  leases.push(
    await pool.acquire(server.target),
    await pool.acquire(server.target),
  );
  assert.equal(pool.stats().idle, 0);
  assert.equal(pool.stats().connecting, 0);
  leases.pop()!.release();
  assert.equal(pool.stats().idle, 1);
  assert.equal(pool.stats().connecting, 0, "a plain release started a connect");
  for (const l of leases) l.release();
});

Deno.test("minIdle: a failed connect is not retried by the top-up", async () => {
  await using pool = poolOf({ minIdle: 1 });
  const target = { hostname: "127.0.0.1", port: closedPort() };
  // The acquire's connect and the top-up's both fail; neither is retried.
  await assert.rejects(pool.acquire(target), (e) => e instanceof Error);
  await until(() => pool.stats().connecting === 0, "the connects to end");
  const s = pool.stats();
  assert.equal(s.connectFailures, 2);
  assert.deepEqual(s.hosts, {});
});

Deno.test("maxLifetimeMs: an acquire that meets an expired idle connection closes it and connects", async () => {
  await using serverA = new HoldServer();
  await using serverB = new HoldServer();
  await using pool = poolOf({ maxLifetimeMs: 500, lifetimeJitter: 0 });
  const other = await pool.acquire(serverB.target);
  const first = await pool.acquire(serverA.target);
  const expiresBy = Date.now() + 500;
  const old = first.stream;
  first.release();
  await until(() => Date.now() > expiresBy, "the lifetime to pass");
  // The release moves the pool's clock past the idle connection's lifetime (the sweep may or may
  // not have run yet: either way the expired connection must not be lent).
  other.release();
  const next = await pool.acquire(serverA.target);
  assert.notEqual(next.stream, old, "an expired connection was lent");
  assert.equal(next.reused, false);
  assert.equal(old.closed, true);
  assert.ok(pool.stats().lifetimeExpired >= 1);
  next.release();
});

Deno.test("an acquire timing out with no connect failure behind it has no cause", async () => {
  await using server = new HoldServer();
  await using pool = poolOf({ maxPerHost: 1, acquireTimeoutMs: 50 });
  const held = await pool.acquire(server.target);
  await assert.rejects(pool.acquire(server.target), (e) => {
    assert.ok(e instanceof PoolTimeoutError);
    assert.equal(
      Object.hasOwn(e, "cause"),
      false,
      "a cause property on a plain timeout",
    );
    return true;
  });
  held.release();
});

Deno.test("a waiter served by a release takes its abort listener off the signal", async () => {
  await using server = new HoldServer();
  await using pool = poolOf({ maxPerHost: 1 });
  const held = await pool.acquire(server.target);
  const { controller, signal, added, removed } = trackedAbortSignal();
  const waiting = pool.acquire(server.target, { signal });
  assert.equal(added.length, 1, "the waiter does not listen to its signal");
  held.release();
  const lease = await waiting;
  assert.deepEqual(
    removed,
    added,
    "the served waiter's listener stayed on the signal",
  );
  controller.abort(new Error("too late"));
  assert.equal(lease.stream.closed, false);
  lease.release();
});

Deno.test("a host held back by maxConnections keeps its place when one of its acquires is aborted", async () => {
  await using serverA = new HoldServer();
  await using serverB = new HoldServer();
  await using pool = poolOf({ maxConnections: 1, acquireTimeoutMs: 10_000 });
  const a = await pool.acquire(serverA.target);
  const controller = new AbortController();
  const b1 = pool.acquire(serverB.target, { signal: controller.signal });
  const b2 = pool.acquire(serverB.target);
  controller.abort(new Error("gone"));
  await assert.rejects(b1, /gone/);
  // B still waits for capacity: A's release closes A's connection and connects for B.
  const aStream = a.stream;
  a.release();
  const lease: Lease = await b2;
  assert.equal(lease.reused, false);
  assert.equal(aStream.closed, true);
  lease.release();
});

Deno.test("maxPendingAcquires: acquires covered by connects in flight are not counted", async () => {
  await using server = new HoldServer();
  const gates: (() => void)[] = [];
  await using pool = poolOf({
    maxPerHost: 2,
    maxPendingAcquires: 1,
    connect: (target, signal) =>
      new Promise<TcpStream>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), {
          once: true,
        });
        gates.push(() => resolve(TcpStream.connect({ ...target, signal })));
      }),
  });
  // Two connects in flight with nobody waiting for them yet.
  const warming = pool.warmUp(server.target, 2);
  assert.equal(pool.stats().connecting, 2);
  const covered = [pool.acquire(server.target), pool.acquire(server.target)];
  const uncovered = pool.acquire(server.target); // waits for a release: the one allowed
  uncovered.catch(() => {});
  assert.equal(
    pool.stats().rejectedFull,
    0,
    "an acquire covered by a connect counted as pending",
  );
  assert.equal(pool.stats().pending, 3);
  await assert.rejects(pool.acquire(server.target), PoolFullError);
  assert.equal(pool.stats().rejectedFull, 1);
  for (const open of gates) open();
  const leases = await Promise.all(covered);
  await warming;
  for (const l of leases) l.release();
  const third = await uncovered;
  third.release();
  await pool.close();
  await assert.rejects(pool.acquire(server.target), PoolClosedError);
});

Deno.test("a healthy idle connection passes the health check (checkAfterIdleMs 0) and is lent again", async () => {
  await using server = new HoldServer();
  const pool = new ConnectionPool({ checkAfterIdleMs: 0 });
  try {
    const first = await pool.acquire(server.target);
    const kept = first.stream;
    first.release();
    await until(() => server.accepted.length === 1, "the connection accepted");
    // Checked (no window), found quiet (EAGAIN on the peek): the same connection comes back.
    const again = await pool.acquire(server.target);
    assert.equal(again.stream, kept, "a healthy idle connection was replaced");
    assert.equal(again.reused, true);
    again.release();
    assert.equal(pool.stats().staleReplaced, 0);
    assert.equal(pool.stats().created, 1);
  } finally {
    await pool.close();
  }
});

Deno.test("the idle health check asks again after EINTR and lends the healthy connection", async () => {
  await using server = new HoldServer();
  const pool = new ConnectionPool({ checkAfterIdleMs: 0 });
  try {
    const first = await pool.acquire(server.target);
    const kept = first.stream;
    first.release();
    // The check's peek is interrupted once, then answers for real (EAGAIN: healthy).
    const again = await withFaults("recv", [EINTR], async (log) => {
      const lease = await pool.acquire(server.target);
      assert.deepEqual(log.results.slice(0, 2), [-EINTR, -EAGAIN], "the peek was not retried");
      return lease;
    });
    assert.equal(again.stream, kept, "an interrupted check replaced a healthy connection");
    again.release();
    assert.equal(pool.stats().staleReplaced, 0);
  } finally {
    await pool.close();
  }
});
