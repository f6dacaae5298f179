import assert from "node:assert/strict";
import { ErrnoError, Interest, Reactor, Ready, TcpListener, TcpStream } from "../mod.ts";
import { interestToEpoll, readinessFromEpoll } from "../lib/reactor/mod.ts";
import {
  sysClose,
  sysEventfd,
  sysFcntl,
  sysOpen,
  sysPipe2,
  sysRead,
  sysWrite,
} from "../ffi/libc.ts";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  F_DUPFD_CLOEXEC,
  O_CLOEXEC,
  O_NONBLOCK,
} from "../ffi/constants.ts";

import { leakedFds, openFds, tcpPair, until } from "./helpers.ts";
import { setImmediate } from "node:timers";

Reactor.default(); // owns its fds for the process lifetime: create it before any baseline

// Deno opens two descriptors of its own about half a second after start (a Unix socketpair),
// even in an idle script: take no baseline before then.
await new Promise((r) => setTimeout(r, Math.max(0, 800 - performance.now())));

// Deno opens a few descriptors of its own the first time a Worker starts and the first time a
// file is created; do both once so that the fd baselines below count only netio's descriptors.
// The same holds for Deno's blocking thread pool (first `nonblocking` FFI call).
for (const parking of ["worker", "nonblocking"] as const) {
  const warm = new Reactor({ parking, spinBeforePark: 0 });
  const efd = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const reg = warm.register(efd, Interest.READABLE, () => {});
  await new Promise((r) => setTimeout(r, 50));
  reg.deregister();
  sysClose(efd);
  await warm.close();
}
await Deno.remove(await Deno.makeTempFile());

const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

function eventfd(): number {
  const fd = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  assert.ok(fd >= 0);
  return fd;
}

function pipe(): [number, number] {
  const b = new Uint8Array(8);
  assert.equal(sysPipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
  const v = new DataView(b.buffer);
  return [v.getInt32(0, true), v.getInt32(4, true)];
}

/** Resolves after `turns` macrotask turns (lets the reactor poll). */
function turns(n: number): Promise<void> {
  return new Promise((resolve) => {
    let i = 0;
    const step = (): void => {
      if (++i >= n) resolve();
      else setTimeout(step, 0);
    };
    setTimeout(step, 0);
  });
}

Deno.test("interest and readiness mappings are pure and follow mio", () => {
  assert.equal(interestToEpoll(Interest.READABLE), 0x2001);
  assert.equal(interestToEpoll(Interest.WRITABLE), 0x4);
  assert.equal(interestToEpoll(Interest.READABLE | Interest.EDGE) >>> 0, 0x80002001);
  assert.equal(interestToEpoll(Interest.ONESHOT | Interest.PRIORITY), (1 << 30) | 0x2);
  assert.throws(() => interestToEpoll(64), RangeError);
  assert.throws(() => interestToEpoll(-1), RangeError);
  // EPOLLIN|EPOLLRDHUP: readable and read-closed, write side still open.
  const rdhup = readinessFromEpoll(0x2001);
  assert.ok(rdhup & Ready.READABLE && rdhup & Ready.READ_CLOSED);
  assert.equal(rdhup & Ready.WRITE_CLOSED, 0);
  // EPOLLHUP: both directions closed.
  const hup = readinessFromEpoll(0x10);
  assert.ok(hup & Ready.READ_CLOSED && hup & Ready.WRITE_CLOSED);
  // EPOLLERR: error, write closed.
  const err = readinessFromEpoll(0x8);
  assert.ok(err & Ready.ERROR && err & Ready.WRITE_CLOSED);
  assert.equal(readinessFromEpoll(0x4), Ready.WRITABLE);
});

Deno.test("bad registrations give typed errors and leave the reactor consistent", async () => {
  const before = openFds();
  const reactor = new Reactor();
  // A regular file cannot be polled: EPERM.
  const path = await Deno.makeTempFile();
  const fileFd = sysOpen(new TextEncoder().encode(path + "\0"), O_CLOEXEC);
  assert.ok(fileFd >= 0);
  assert.throws(
    () => reactor.register(fileFd, Interest.READABLE, () => {}),
    (e: unknown) => e instanceof ErrnoError && e.code === "EPERM" && e.syscall === "epoll_ctl",
  );
  sysClose(fileFd);
  await Deno.remove(path);
  // A closed fd: EBADF.
  const efd = eventfd();
  sysClose(efd);
  assert.throws(
    () => reactor.register(efd, Interest.READABLE, () => {}),
    (e: unknown) => e instanceof ErrnoError && e.code === "EBADF",
  );
  // A double registration: EEXIST, and the first one still works.
  const live = eventfd();
  let fired = 0;
  const reg = reactor.register(live, Interest.READABLE, () => {
    sysRead(live, new Uint8Array(8));
    fired++;
  });
  assert.throws(
    () => reactor.register(live, Interest.READABLE, () => {}),
    (e: unknown) => e instanceof ErrnoError && e.code === "EEXIST",
  );
  assert.equal(reactor.stats().registrations, 1);
  sysWrite(live, ONE);
  while (fired === 0) await turns(1);
  // Bad arguments: TypeError/RangeError before any syscall.
  assert.throws(() => reactor.register(-1, Interest.READABLE, () => {}), RangeError);
  assert.throws(() => reactor.register(live, 999, () => {}), RangeError);
  assert.throws(
    () => reactor.register(live, Interest.READABLE, "nope" as unknown as () => void),
    TypeError,
  );
  reg.deregister();
  reg.deregister(); // idempotent
  assert.equal(reactor.stats().registrations, 0);
  sysClose(live);
  await reactor.close();
  await reactor.close(); // idempotent
  assert.throws(() => reactor.register(0, Interest.READABLE, () => {}), /closed/);
  assert.deepEqual(await leakedFds(before), []);
});

Deno.test("level-triggered readiness repeats until drained; edge-triggered reports once per change", async () => {
  const reactor = new Reactor();
  const [r1, w1] = pipe();
  const [r2, w2] = pipe();
  let level = 0, edge = 0;
  const a = reactor.register(r1, Interest.READABLE, () => level++);
  const b = reactor.register(r2, Interest.READABLE | Interest.EDGE, () => edge++);
  sysWrite(w1, ONE);
  sysWrite(w2, ONE);
  await turns(6);
  assert.ok(level >= 3, `level-triggered fired ${level} times`);
  assert.equal(edge, 1);
  // Drain: no more level events; new data gives the edge registration a new event.
  sysRead(r1, new Uint8Array(64));
  const levelAfterDrain = level;
  await turns(3);
  assert.ok(level <= levelAfterDrain + 1);
  sysWrite(w2, ONE);
  await turns(3);
  assert.equal(edge, 2);
  a.deregister();
  b.deregister();
  for (const fd of [r1, w1, r2, w2]) sysClose(fd);
  await reactor.close();
});

Deno.test("ONESHOT disables after one event until modify re-arms it", async () => {
  const reactor = new Reactor();
  const efd = eventfd();
  let n = 0;
  const reg = reactor.register(efd, Interest.READABLE | Interest.ONESHOT, () => n++);
  sysWrite(efd, ONE);
  await turns(5);
  assert.equal(n, 1);
  reg.modify(Interest.READABLE | Interest.ONESHOT);
  await turns(5);
  assert.equal(n, 2);
  reg.deregister();
  assert.throws(() => reg.modify(Interest.READABLE), /deregistered/);
  sysClose(efd);
  await reactor.close();
});

Deno.test("a callback that throws is reported and the reactor keeps serving the others", async () => {
  const errors: unknown[] = [];
  const reactor = new Reactor({ onError: (e) => errors.push(e) });
  const bad = eventfd(), good = eventfd();
  let goodFired = 0;
  const r1 = reactor.register(bad, Interest.READABLE, () => {
    sysRead(bad, new Uint8Array(8));
    throw new Error("boom");
  });
  const r2 = reactor.register(good, Interest.READABLE, () => {
    sysRead(good, new Uint8Array(8));
    goodFired++;
  });
  for (let i = 0; i < 3; i++) {
    sysWrite(bad, ONE);
    sysWrite(good, ONE);
    await turns(3);
  }
  assert.equal(goodFired, 3);
  assert.equal(errors.length, 3);
  assert.equal(reactor.stats().callbackErrors, 3);
  r1.deregister();
  r2.deregister();
  sysClose(bad);
  sysClose(good);
  await reactor.close();
});

Deno.test("readable()/writable() resolve on readiness; an aborted wait rejects and leaves nothing", async () => {
  const reactor = new Reactor();
  const [r, w] = pipe();
  const ready = await reactor.writable(w);
  assert.ok(ready & Ready.WRITABLE);
  const p = reactor.readable(r);
  sysWrite(w, ONE);
  assert.ok((await p) & Ready.READABLE);
  sysRead(r, new Uint8Array(8));
  const ac = new AbortController();
  const waiting = reactor.readable(r, ac.signal);
  assert.equal(reactor.stats().pendingWaits, 1);
  ac.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  assert.equal(reactor.stats().pendingWaits, 0);
  assert.equal(reactor.stats().registrations, 0);
  await assert.rejects(reactor.readable(r, AbortSignal.abort(new Error("already"))), /already/);
  // close() rejects pending waits.
  const pending = reactor.readable(r);
  const closing = reactor.close();
  await assert.rejects(pending, /closed/);
  await closing;
  sysClose(r);
  sysClose(w);
});

Deno.test("EAGAIN is normal: read until would-block, readiness returns with new data", async () => {
  await using pair = await tcpPair();
  const { client, server } = pair;
  const buf = new Uint8Array(4096);
  await client.writeAll(new Uint8Array(100).fill(1));
  let got = 0;
  while (got < 100) got += (await server.read(buf)) ?? 0;
  assert.equal(server.tryRead(buf), 0, "drained: would block");
  const later = server.read(buf);
  await turns(3);
  await client.writeAll(new Uint8Array(7).fill(2));
  assert.equal(await later, 7);
});

Deno.test("half-close: FIN is seen after all data; the other direction keeps working", async () => {
  await using pair = await tcpPair();
  const { client, server } = pair;
  await client.writeAll(new TextEncoder().encode("last words"));
  client.closeWrite();
  const buf = new Uint8Array(64);
  let text = "";
  for (;;) {
    const n = await server.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.equal(text, "last words");
  await server.writeAll(new TextEncoder().encode("reply"));
  const n = await client.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "reply");
});

Deno.test("fd reuse: no event for an old registration reaches the new owner", async () => {
  const before = openFds();
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  for (let round = 0; round < 200; round++) {
    const c = await TcpStream.connect({ hostname: "127.0.0.1", port });
    const s = await listener.accept();
    // Make data pending (an event queued), then close both: their numbers are reused next round.
    c.tryWrite(new Uint8Array([round & 0xff]));
    const buf = new Uint8Array(1);
    assert.equal(await s.read(buf), 1);
    assert.equal(buf[0], round & 0xff, "a stream only ever sees its own bytes");
    c.close();
    s.close();
  }
  listener.close();
  assert.deepEqual(await leakedFds(before), []);
});

Deno.test("1,000 connections registered at once are all served", async () => {
  const before = openFds();
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const N = 1000;
  const serverDone = (async () => {
    const conns: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const s = await listener.accept();
      conns.push((async () => {
        const buf = new Uint8Array(16);
        const n = await s.read(buf);
        await s.writeAll(buf.subarray(0, n ?? 0));
        s.close();
      })());
    }
    await Promise.all(conns);
  })();
  const clients: TcpStream[] = [];
  for (let i = 0; i < N; i++) {
    clients.push(await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
  }
  assert.ok(Reactor.default().stats().registrations >= 1);
  const enc = new TextEncoder();
  await Promise.all(clients.map((c, i) => c.writeAll(enc.encode(`#${i}`))));
  const answers = await Promise.all(clients.map(async (c) => {
    const buf = new Uint8Array(16);
    const n = await c.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  }));
  answers.forEach((a, i) => assert.equal(a, `#${i}`));
  await serverDone;
  for (const c of clients) c.close();
  listener.close();
  assert.deepEqual(await leakedFds(before), []);
});

/** A busy echo: `rounds` ping-pongs of 16 KiB between a client and an echo server. */
async function busyEcho(rounds: number): Promise<void> {
  await using pair = await tcpPair();
  const { client, server } = pair;
  const echo = (async () => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await server.read(buf);
      if (n === null) return;
      await server.writeAll(buf.subarray(0, n));
    }
  })();
  const msg = new Uint8Array(16384).fill(5);
  const buf = new Uint8Array(65536);
  for (let i = 0; i < rounds; i++) {
    await client.writeAll(msg);
    let got = 0;
    while (got < msg.length) got += (await client.read(buf)) ?? 0;
  }
  client.closeWrite();
  await echo;
}

Deno.test("Deno timers keep firing while the reactor is saturated by a busy echo", async () => {
  let ticks = 0;
  const id = setInterval(() => ticks++, 1);
  const start = Date.now();
  await busyEcho(3000);
  const elapsed = Date.now() - start;
  clearInterval(id);
  // No latency threshold: only that timers ran during the saturation, several times.
  assert.ok(ticks > 0, `no timer tick in ${elapsed} ms of saturation`);
  assert.ok(elapsed < 20 || ticks >= 3, `${ticks} ticks in ${elapsed} ms`);
});

Deno.test("an fd closed and its number reused within one dispatch batch never gets the old event", async () => {
  const reactor = new Reactor();
  // Two readable eventfds, level-triggered: both events come back from one epoll_wait. Whichever
  // callback runs first closes the other fd and registers a fresh, unreadable eventfd under the
  // same number (F_DUPFD gives the lowest free number >= the one asked for: that very number).
  // The old event for that number is still in the batch; it must be dropped as stale.
  const fds = [eventfd(), eventfd()];
  for (const fd of fds) sysWrite(fd, ONE);
  let reused = -1;
  let reusedNumber = false;
  let reusedCalls = 0;
  let firstCalls = 0;
  let done!: () => void;
  const firstRan = new Promise<void>((r) => done = r);
  const staleBefore = reactor.stats().staleEvents;
  const regs = fds.map((fd, i) =>
    reactor.register(fd, Interest.READABLE, () => {
      firstCalls++;
      if (reused >= 0) return;
      try {
        const other = fds[1 - i]!;
        regs[1 - i]!.deregister();
        sysClose(other);
        let dup = eventfd(); // usually the lowest free number: `other` itself
        if (dup !== other) {
          const fresh = dup;
          dup = sysFcntl(fresh, F_DUPFD_CLOEXEC, other);
          sysClose(fresh);
        }
        reused = dup;
        reusedNumber = dup === other;
        reactor.register(dup, Interest.READABLE, () => reusedCalls++);
        sysRead(fds[i]!, new Uint8Array(8)); // drain our own fd: no more events for it
      } finally {
        done();
      }
    })
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    firstRan,
    new Promise((_, reject) =>
      timer = setTimeout(() => reject(new Error("no callback in 5 s")), 5000)
    ),
  ]).finally(() => clearTimeout(timer));
  // A few more turns: the reused fd is not readable, so its callback must never run.
  const pollsAfter = reactor.stats().polls;
  for (let i = 0; i < 100 && reactor.stats().polls < pollsAfter + 5; i++) await turns(2);
  const stats = reactor.stats();
  if (reused >= 0) {
    reactor.deregister(reused);
    sysClose(reused);
  }
  for (const reg of regs) reg.deregister();
  sysClose(fds.find((fd) => fd !== reused)!);
  await reactor.close();
  assert.ok(reusedNumber, "the number was not free for reuse");
  assert.equal(firstCalls, 1, "the first callback ran again");
  assert.equal(reusedCalls, 0, "the new registration saw its predecessor's event");
  assert.equal(stats.staleEvents - staleBefore, 1, "the old event was not counted as stale");
});

/**
 * The reactor options the fairness tests run with: the defaults, or with NETIO_TEST_POLICY=off the
 * policy switched off (to see those tests fail, as they must without it).
 */
const POLICY_UNDER_TEST = Deno.env.get("NETIO_TEST_POLICY") === "off"
  ? { yieldIntervalMs: Infinity, yieldOnRuntimeIo: false }
  : {};

/**
 * Saturates `reactor` with `pairs` netio echo connections (64 KiB messages, both ends in this
 * process) until `stop()` is called or `maxEchoes` round trips are done; `echoes()` counts them.
 */
async function saturate(reactor: Reactor, pairs: number, maxEchoes: number): Promise<{
  echoes: () => number;
  finished: Promise<void>;
  stop: () => void;
}> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reactor });
  let echoes = 0;
  let running = true;
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < pairs; i++) {
    const client = await TcpStream.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      reactor,
    });
    const server = await listener.accept();
    tasks.push((async () => {
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await server.read(buf);
        if (n === null) break;
        await server.writeAll(buf.subarray(0, n));
      }
      server.close();
    })());
    tasks.push((async () => {
      const msg = new Uint8Array(65536).fill(i);
      const buf = new Uint8Array(65536);
      while (running && echoes < maxEchoes) {
        await client.writeAll(msg);
        let got = 0;
        while (got < msg.length) {
          const n = await client.read(buf);
          if (n === null) throw new Error("echo server closed early");
          got += n;
        }
        echoes++;
      }
      client.closeWrite();
      const rest = await client.read(buf);
      assert.equal(rest, null);
      client.close();
    })());
  }
  listener.close();
  return {
    echoes: () => echoes,
    finished: Promise.all(tasks).then(() => {}),
    stop: () => running = false,
  };
}

Deno.test("an in-process Deno.serve answers fetches *during* a netio saturation, and the reactor yields", async () => {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    () => new Response("ok"),
  );
  const reactor = new Reactor(POLICY_UNDER_TEST);
  const load = await saturate(reactor, 8, 1_000_000);
  let loadDone = false;
  load.finished.then(() => loadDone = true);
  const before = reactor.stats();
  // The period is counted in reactor turns (dispatching polls), so the count does not depend on
  // the machine's speed. Without the yields (Deno's scheduler polls its own sockets once every 61
  // self-woken turns) a fetch took ~115 turns here; with them, several fetches fit in one turn.
  let answered = 0;
  while (reactor.stats().polls - before.polls < 3000 && !loadDone) {
    const r = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await r.text(), "ok");
    answered++;
  }
  const during = reactor.stats();
  const busy = !loadDone;
  load.stop();
  await load.finished;
  await reactor.close();
  ac.abort();
  await server.finished;
  assert.ok(busy, "the load ended before the period did");
  assert.equal(during.parks, before.parks, "the reactor parked: it was not saturated");
  // Under this suite's --trace-leaks ~130-170 here (3,700 without it); with the policy off, 26.
  assert.ok(answered >= 80, `only ${answered} fetches in 3,000 turns of netio saturation`);
  assert.ok(
    during.yields - before.yields >= 100,
    `${during.yields - before.yields} yields to the runtime while busy`,
  );
});

Deno.test("an in-process Deno.listen server accepts and reads during a netio saturation", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const reactor = new Reactor(POLICY_UNDER_TEST);
  const load = await saturate(reactor, 8, 1_000_000);
  let loadDone = false;
  load.finished.then(() => loadDone = true);
  const before = reactor.stats();
  let served = 0;
  const one = new Uint8Array([1]);
  const buf = new Uint8Array(1);
  while (reactor.stats().polls - before.polls < 3000 && !loadDone) {
    const accepted = listener.accept();
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await client.write(one);
    const conn = await accepted;
    assert.equal(await conn.read(buf), 1);
    conn.close();
    client.close();
    served++;
  }
  const during = reactor.stats();
  const busy = !loadDone;
  load.stop();
  await load.finished;
  await reactor.close();
  listener.close();
  assert.ok(busy, "the load ended before the period did");
  assert.equal(during.parks, before.parks, "the reactor parked: it was not saturated");
  // Under this suite's --trace-leaks ~95 here; with the policy off, 27.
  assert.ok(served >= 55, `only ${served} connections served in 3,000 turns of netio saturation`);
});

Deno.test("the turn budget caps the events one turn dispatches, and every ready fd gets turns", async () => {
  const reactor = new Reactor({ turnBudget: 10 });
  const fds: number[] = [];
  const perPoll = new Map<number, number>();
  const calledFds = new Set<number>();
  let calls = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  const regs = [];
  for (let i = 0; i < 100; i++) {
    const efd = sysEventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); // readable and never drained
    fds.push(efd);
    regs.push(reactor.register(efd, Interest.READABLE, () => {
      // The poll count names the turn this callback runs in.
      const turn = reactor.stats().polls;
      perPoll.set(turn, (perPoll.get(turn) ?? 0) + 1);
      calledFds.add(efd);
      if (++calls === 500) done();
    }));
  }
  await finished;
  for (const reg of regs) reg.deregister();
  for (const fd of fds) sysClose(fd);
  const stats = reactor.stats();
  await reactor.close();
  const most = Math.max(...perPoll.values());
  assert.equal(most, 10, `a turn dispatched ${most} events with a budget of 10`);
  assert.equal(calledFds.size, 100, `only ${calledFds.size} of 100 ready fds were served`);
  assert.ok(stats.budgetCutoffs >= 50, `${stats.budgetCutoffs} turns cut short`);
});

Deno.test("reads that never wait spend the turn budget: macrotasks run during a long ready streak", async () => {
  const reactor = new Reactor({ turnBudget: 16 });
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reactor });
  const client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    reactor,
  });
  const server = await listener.accept();
  await client.writeAll(new Uint8Array(4096).fill(3));
  client.closeWrite();
  await server.waitReadable();
  // 1-byte reads of a full buffer: each one completes at once and never waits for an edge, so
  // without the budget the whole loop runs in microtasks and no macrotask can interleave.
  let ticks = 0;
  let ticking = true;
  const tick = (): void => {
    ticks++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const ticksAtStart = ticks;
  const deferredBefore = reactor.stats().deferredOperations;
  const one = new Uint8Array(1);
  let total = 0;
  for (let i = 0; i < 5000; i++) {
    const n = await server.read(one);
    if (n === null) break;
    total += n;
  }
  const ticksDuring = ticks - ticksAtStart;
  ticking = false;
  const deferred = reactor.stats().deferredOperations - deferredBefore;
  client.close();
  server.close();
  listener.close();
  await reactor.close();
  assert.equal(total, 4096);
  assert.ok(deferred >= 4096 / 16 / 2, `${deferred} reads deferred to the next turn`);
  assert.ok(ticksDuring >= 100, `${ticksDuring} macrotask turns during 4,096 ready reads`);
});

Deno.test("Reactor rejects a bad turnBudget or yieldIntervalMs before making anything", () => {
  for (const turnBudget of [0, -1, 1.5, 65537, NaN]) {
    assert.throws(() => new Reactor({ turnBudget }), RangeError, `turnBudget ${turnBudget}`);
  }
  for (const yieldIntervalMs of [-1, NaN]) {
    assert.throws(
      () => new Reactor({ yieldIntervalMs }),
      RangeError,
      `yieldIntervalMs ${yieldIntervalMs}`,
    );
  }
  assert.throws(() => new Reactor({ yieldIntervalMs: "1" as unknown as number }), TypeError);
  assert.throws(() => new Reactor({ yieldOnRuntimeIo: 1 as unknown as boolean }), TypeError);
});

Deno.test("a script that closes its last socket exits on its own (both parking designs)", async () => {
  for (const parking of ["worker", "nonblocking"]) {
    const script = `
      import { TcpListener, TcpStream, Reactor } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const reactor = new Reactor({ parking: ${JSON.stringify(parking)}, spinBeforePark: 0 });
      const l = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reactor });
      const c = await TcpStream.connect({ hostname: "127.0.0.1", port: l.addr.port, reactor });
      const s = await l.accept();
      const pending = s.read(new Uint8Array(8)); // parks while nothing arrives
      await new Promise((r) => setTimeout(r, 30));
      c.tryWrite(new Uint8Array([1]));
      await pending;
      c.close(); s.close(); l.close();
      console.log("closed", reactor.stats().parks > 0);
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(stdout, "closed true", `parking ${parking}`);
  }
});

// The parking designs, last: a Worker's runtime leaves descriptors of its own behind for a
// while, which would disturb the fd baselines of the tests above.
for (const parking of ["worker", "nonblocking"] as const) {
  Deno.test(`[${parking}] a callback fires when an eventfd becomes readable, even while parked`, async () => {
    const before = openFds();
    const beforeSet = openFds();
    const reactor = new Reactor({ parking, spinBeforePark: 0 });
    // The reactor's own descriptors: created synchronously by the constructor.
    const own = [...openFds()].filter(([fd]) => !beforeSet.has(fd));
    assert.ok(reactor.stats().watchingRuntimeIo, "Deno's I/O driver was found");
    assert.equal(own.length, 4, "epoll fd, outer epoll fd, eventfd waker, runtime watch");
    const efd = eventfd();
    let resolve!: (ready: number) => void;
    let p = new Promise<number>((r) => resolve = r);
    const reg = reactor.register(efd, Interest.READABLE, (ready) => {
      sysRead(efd, new Uint8Array(8));
      resolve(ready);
    });
    for (let i = 0; i < 20; i++) {
      // Give the reactor time to go idle and park, then wake it with an event.
      await new Promise((r) => setTimeout(r, 2));
      sysWrite(efd, ONE);
      const ready = await p;
      assert.ok(ready & Ready.READABLE);
      p = new Promise<number>((r) => resolve = r);
    }
    assert.ok(reactor.stats().parks > 0, "the reactor parked at least once");
    assert.ok(reactor.stats().unparks > 0);
    reg.deregister();
    sysClose(efd);
    await reactor.close();
    const after = openFds();
    for (const [fd, link] of own) assert.notEqual(after.get(fd), link, `fd ${fd} still open`);
    if (parking === "nonblocking") assert.deepEqual(await leakedFds(before), []);
    // With the worker design, Deno's runtime for the park thread opens and releases descriptors
    // of its own as the thread comes and goes; only netio's own are checked above.
  });

  Deno.test(`[${parking}] wake() releases a parked reactor and close() waits for it`, async () => {
    const reactor = new Reactor({ parking, spinBeforePark: 0 });
    const efd = eventfd();
    const reg = reactor.register(efd, Interest.READABLE, () => {});
    // Waits for conditions (bounded): a loaded machine may take long to park a first time.
    await until(() => reactor.stats().parks >= 1, "a park");
    const unparks = reactor.stats().unparks;
    reactor.wake();
    await until(() => reactor.stats().unparks > unparks, "the wake to release the park");
    reg.deregister();
    sysClose(efd);
    await reactor.close();
    assert.equal(reactor.closed, true);
  });
}

Deno.test("worker parking without --allow-read fails at construction with Deno's error", async () => {
  const script = `
    import { Reactor } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    try {
      new Reactor({ parking: "worker" });
      console.log("constructed");
    } catch (e) {
      console.log(e instanceof Deno.errors.NotCapable, /--allow-read/.test(String(e)));
    }
  `;
  const path = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(path, script);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", path],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(path);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "true true");
});
