/**
 * The reactor's bookkeeping, pinned down where the other reactor tests leave it loose: what a
 * synchronous poll() dispatches and counts (stale events, a callback that closes the reactor),
 * the turn budget (spend, cut-offs, nextTurn), wake-ups (counted, only while parked, the waker
 * drained), the keep-alive count (ref'd registrations start, park and release the loop once),
 * double registration, and an epoll_ctl that fails while the reactor is built (injected with
 * tests/syscall_faults.ts). Real eventfds, the real backend (epoll or io_uring).
 */
import assert from "node:assert/strict";
import { Interest, Reactor, type Registration } from "../mod.ts";
import { ClosedError } from "../lib/net/fd.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK } from "../ffi/constants.ts";
import { EINTR, EINVAL } from "../ffi/errno.ts";
import { sysClose, sysEventfd, sysRead, sysWrite } from "../ffi/libc.ts";
import { leakedFds, openFds, until } from "./helpers.ts";
import { withFaults } from "./syscall_faults.ts";

const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

/** Eventfds closed when the test ends (`using`). */
function eventfds(n: number): number[] & Disposable {
  const fds: number[] = [];
  for (let i = 0; i < n; i++) {
    const fd = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert.ok(fd >= 0);
    fds.push(fd);
  }
  return Object.assign(fds, {
    [Symbol.dispose]: (): void => {
      for (const fd of fds) sysClose(fd);
    },
  });
}

const drain = (fd: number): void => void sysRead(fd, new Uint8Array(8));

Deno.test("an epoll_ctl failing while a reactor is built throws ErrnoError naming epoll_ctl, and leaves no fd open", async () => {
  const before = openFds();
  await withFaults("epoll_ctl", [EINVAL], (log) => {
    assert.throws(
      // Without the runtime watch, whose probing calls epoll_ctl first.
      () => new Reactor({ yieldOnRuntimeIo: false }),
      (e: Error & { errno?: number; syscall?: string }) =>
        e.errno === EINVAL && e.syscall === "epoll_ctl",
    );
    assert.equal(log.results.length, 1);
  });
  assert.deepEqual(await leakedFds(before), []);
});

Deno.test("registering a registered fd throws EEXIST (epoll_ctl) and uses up nothing: generations stay consecutive", async () => {
  using fds = eventfds(2);
  await using reactor = new Reactor();
  const a = reactor.register(fds[0]!, Interest.READABLE, () => {}, {
    ref: false,
  });
  assert.throws(
    () => reactor.register(fds[0]!, Interest.READABLE, () => {}, { ref: false }),
    (e: Error & { code?: string; syscall?: string }) =>
      e.code === "EEXIST" && e.syscall === "epoll_ctl",
  );
  const b = reactor.register(fds[1]!, Interest.READABLE, () => {}, {
    ref: false,
  });
  assert.equal(
    b.generation,
    a.generation + 1,
    "the refused registration took a generation",
  );
  assert.equal(reactor.stats().registrations, 2);
  a.deregister();
  b.deregister();
});

Deno.test("poll() dispatches and counts each ready event; an event for a registration removed in the same batch is stale", async () => {
  using fds = eventfds(2);
  await using reactor = new Reactor();
  // Unref'd: nothing runs the loop, only the poll() calls below.
  const fired: number[] = [];
  const regs: Registration[] = [];
  for (const fd of fds) {
    regs.push(reactor.register(fd, Interest.READABLE, () => {
      fired.push(fd);
      drain(fd);
    }, { ref: false }));
  }
  for (const fd of fds) sysWrite(fd, ONE);
  let s = reactor.stats();
  assert.equal(reactor.poll(), 2);
  assert.equal(reactor.stats().events, s.events + 2);
  assert.equal(reactor.stats().polls, s.polls + 1);
  assert.equal(reactor.stats().staleEvents, s.staleEvents);
  assert.deepEqual(fired.toSorted(), fds.toSorted());
  // Nothing ready: nothing dispatched, nothing counted but the poll.
  s = reactor.stats();
  assert.equal(reactor.poll(), 0);
  assert.equal(reactor.stats().events, s.events);
  assert.equal(reactor.stats().polls, s.polls + 1);
  // Both ready again; whichever callback runs first deregisters the other, whose event in the
  // same batch is then stale: dropped, counted, and not an error.
  fired.length = 0;
  for (let i = 0; i < 2; i++) {
    const other = regs[1 - i]!;
    regs[i]!.callback = () => {
      fired.push(fds[i]!);
      drain(fds[i]!);
      other.deregister();
    };
  }
  for (const fd of fds) sysWrite(fd, ONE);
  s = reactor.stats();
  assert.equal(reactor.poll(), 2);
  assert.equal(fired.length, 1, "the deregistered fd's callback ran");
  assert.equal(reactor.stats().staleEvents, s.staleEvents + 1);
  assert.equal(reactor.stats().callbackErrors, s.callbackErrors);
  for (const r of regs) r.deregister();
});

Deno.test("a callback that closes the reactor ends the batch: the rest is not dispatched, and poll() after close is a no-op", async () => {
  using fds = eventfds(3);
  const reactor = new Reactor();
  let calls = 0;
  for (const fd of fds) {
    reactor.register(fd, Interest.READABLE, () => {
      calls++;
      void reactor.close();
    }, { ref: false });
    sysWrite(fd, ONE);
  }
  const s = reactor.stats();
  assert.equal(
    reactor.poll(),
    1,
    "poll() did not stop at the callback that closed the reactor",
  );
  assert.equal(calls, 1);
  assert.equal(reactor.closed, true);
  assert.equal(reactor.stats().staleEvents, s.staleEvents);
  const after = reactor.stats();
  assert.equal(reactor.poll(), 0);
  assert.equal(reactor.stats().polls, after.polls, "a closed reactor polled");
  await reactor.close();
});

Deno.test("spend() takes the turn's budget unit by unit, then refuses, counting one cut-off per turn", async () => {
  // A new reactor has run no turn: its whole budget is there.
  await using reactor = new Reactor({ turnBudget: 3 });
  assert.deepEqual(
    [
      reactor.spend(),
      reactor.spend(),
      reactor.spend(),
      reactor.spend(),
      reactor.spend(),
    ],
    [true, true, true, false, false],
  );
  assert.equal(reactor.stats().budgetCutoffs, 1);
  // The last operation may overdraw the budget: one call of 3 units when 1 is left.
  await reactor.nextTurn();
  while (reactor.spend()) { /* down to nothing */ }
  assert.equal(
    reactor.stats().budgetCutoffs,
    2,
    "a new turn did not count its cut-off",
  );
  await using big = new Reactor({ turnBudget: 2 });
  assert.equal(big.spend(1), true);
  assert.equal(big.spend(3), true);
  assert.equal(big.spend(), false);
});

Deno.test("nextTurn(): from idle it starts a turn without a wake-up, while parked it wakes once, after close it rejects", async () => {
  using fds = eventfds(1);
  const reactor = new Reactor({ spinBeforePark: 0 });
  let s = reactor.stats();
  const first = reactor.nextTurn();
  assert.equal(reactor.nextTurn(), first, "one turn, one shared promise");
  assert.equal(reactor.stats().deferredOperations, s.deferredOperations + 2);
  assert.equal(reactor.stats().wakes, s.wakes, "an idle reactor was woken");
  await first;
  // A ref'd registration keeps it running; with nothing ready it parks.
  const reg = reactor.register(
    fds[0]!,
    Interest.READABLE,
    () => drain(fds[0]!),
  );
  await until(() => reactor.stats().parks > s.parks, "the reactor parking");
  s = reactor.stats();
  const second = reactor.nextTurn();
  assert.equal(
    reactor.stats().wakes,
    s.wakes + 1,
    "a parked reactor was not woken for the turn",
  );
  await second;
  reg.deregister();
  await reactor.close();
  await assert.rejects(
    reactor.nextTurn(),
    (e) => e instanceof ClosedError && /reactor turn/.test(e.message),
  );
});

Deno.test("wake() counts one wake-up per call, and none once closed", async () => {
  const reactor = new Reactor();
  const s = reactor.stats();
  reactor.wake();
  assert.equal(reactor.stats().wakes, s.wakes + 1);
  reactor.wake();
  assert.equal(reactor.stats().wakes, s.wakes + 2);
  await reactor.close();
  reactor.wake();
  assert.equal(
    reactor.stats().wakes,
    s.wakes + 2,
    "a closed reactor counted a wake-up",
  );
});

Deno.test("a wake-up is drained: the reactor parks again and stays parked until an event", async () => {
  using fds = eventfds(1);
  await using reactor = new Reactor({ spinBeforePark: 0 });
  const seen: { parks: number; pending: number }[] = [];
  const reg = reactor.register(fds[0]!, Interest.READABLE, () => {
    drain(fds[0]!);
    const { parks, yields, unparks } = reactor.stats();
    seen.push({ parks, pending: parks + yields - unparks });
  });
  await until(() => reactor.stats().parks === 1, "the first park");
  reactor.wake();
  await until(() => reactor.stats().parks >= 2, "the park after the wake-up");
  sysWrite(fds[0]!, ONE);
  await until(() => seen.length === 1, "the event's callback");
  // The first park ended by the wake-up, the second by the event: no park in between, and none
  // pending (a yield to the runtime unparks too).
  assert.deepEqual(seen[0], { parks: 2, pending: 0 });
  reg.deregister();
});

Deno.test("the keep-alive count: only the last ref going wakes a parked reactor; a ref while parked starts no second loop", async () => {
  using fds = eventfds(2);
  await using reactor = new Reactor({ spinBeforePark: 0 });
  const seen: number[] = [];
  const a = reactor.register(fds[0]!, Interest.READABLE, () => {
    drain(fds[0]!);
    const { parks, yields, unparks } = reactor.stats();
    seen.push(parks + yields - unparks);
  });
  await until(() => reactor.stats().parks >= 1, "the first park");
  // A second ref'd registration while parked: counted, nothing started, nothing woken.
  let s = reactor.stats();
  const b = reactor.register(fds[1]!, Interest.READABLE, () => drain(fds[1]!));
  assert.equal(reactor.stats().wakes, s.wakes);
  // One of two refs goes: still parked, not woken.
  b.unref();
  assert.equal(
    reactor.stats().wakes,
    s.wakes,
    "a ref going while another remains woke it",
  );
  b.ref();
  // An event: the park it ends is the only one pending (no second loop was started).
  sysWrite(fds[0]!, ONE);
  await until(() => seen.length === 1, "the event's callback");
  assert.equal(
    seen[0],
    0,
    "a park was still pending while dispatching: two loops ran",
  );
  const pending = (): number => {
    const { parks, yields, unparks } = reactor.stats();
    return parks + yields - unparks;
  };
  await until(() => pending() === 1, "parking again");
  // Deregistering a ref'd registration releases its ref; the last one going wakes it.
  s = reactor.stats();
  b.deregister();
  assert.equal(reactor.stats().wakes, s.wakes);
  a.deregister();
  assert.equal(
    reactor.stats().wakes,
    s.wakes + 1,
    "the last ref going left it parked",
  );
  await until(() => pending() === 0, "the reactor unparking");
  // Not parked (idle, then spinning): a ref coming and going wakes nothing.
  s = reactor.stats();
  const c = reactor.register(fds[0]!, Interest.READABLE, () => drain(fds[0]!));
  c.unref();
  assert.equal(
    reactor.stats().wakes,
    s.wakes,
    "a reactor that was not parked was woken",
  );
  c.deregister();
  // A deregistered registration's ref()/unref() change nothing.
  c.ref();
  c.unref();
  assert.equal(reactor.stats().wakes, s.wakes);
});

Deno.test("register() and modify() refuse with errors that name what was refused", async () => {
  using fds = eventfds(1);
  const fd = fds[0]!;
  const a = new Reactor();
  const b = new Reactor();
  const reg = b.register(fd, Interest.READABLE, () => {}, { ref: false });
  // Another reactor's registration is not one of ours, active as it is.
  assert.throws(
    () => a.modify(reg, Interest.WRITABLE),
    (e) => e instanceof ClosedError && e.syscall === "modify of a deregistered fd",
  );
  assert.equal(reg.interest, Interest.READABLE);
  assert.throws(
    () => a.register(-1, Interest.READABLE, () => {}),
    /^RangeError: fd must be/,
  );
  assert.throws(
    () => a.register(fd, Interest.READABLE, 5 as unknown as () => void),
    (e) => e instanceof TypeError && e.message === "onReady must be a function",
  );
  await a.close();
  assert.throws(
    () => a.register(fd, Interest.READABLE, () => {}),
    (e) => e instanceof ClosedError && e.syscall === "register",
  );
  // A registration still live when its reactor closes: "modify" (of a closed reactor).
  await b.close();
  assert.throws(
    () => reg.modify(Interest.WRITABLE),
    (e) => e instanceof ClosedError && e.syscall === "modify",
  );
});

Deno.test("a registration or interest change made while parked reaches the kernel (io_uring queues it)", async () => {
  using fds = eventfds(3);
  // io_uring where it works (its submissions wait for a flush); epoll otherwise.
  await using reactor = new Reactor({ backend: "uring", spinBeforePark: 0 });
  const fired = new Set<number>();
  const note = (fd: number) => (): void => {
    drain(fd);
    fired.add(fd);
  };
  // Kept alive by A; B waits for nothing it will get (PRIORITY) until modified.
  const a = reactor.register(fds[0]!, Interest.READABLE, note(fds[0]!));
  const b = reactor.register(fds[1]!, Interest.PRIORITY, note(fds[1]!), {
    ref: false,
  });
  sysWrite(fds[1]!, ONE);
  await until(() => reactor.stats().parks >= 1, "the reactor parking");
  // Parked: a new registration of a readable fd must be seen.
  sysWrite(fds[2]!, ONE);
  const c = reactor.register(fds[2]!, Interest.READABLE, note(fds[2]!), {
    ref: false,
  });
  await until(
    () => fired.has(fds[2]!),
    "the callback of a registration made while parked",
  );
  const parks = reactor.stats().parks;
  c.deregister();
  // A park, not a yield (which returns by itself): only an event ends it.
  await until(() => {
    const { parks: now, yields, unparks } = reactor.stats();
    return now > parks && now + yields - unparks === 1;
  }, "parking again");
  // Parked: an interest change that makes B's readiness count must be seen.
  assert.equal(fired.has(fds[1]!), false);
  b.modify(Interest.READABLE);
  await until(
    () => fired.has(fds[1]!),
    "the callback of a registration modified while parked",
  );
  b.deregister();
  a.deregister();
});

Deno.test("the epoll backend: named epoll, an epoll_create1 failure is named, epoll_wait's EINTR is an empty poll and other errors throw", async () => {
  await withFaults("epoll_create1", [EINVAL], (log) => {
    assert.throws(
      () => new Reactor({ backend: "epoll", yieldOnRuntimeIo: false }),
      (e: Error & { errno?: number; syscall?: string }) =>
        e.errno === EINVAL && e.syscall === "epoll_create1",
    );
    assert.equal(log.results.length, 1);
  });
  using fds = eventfds(1);
  await using reactor = new Reactor({ backend: "epoll" });
  assert.equal(reactor.backend, "epoll");
  assert.equal(reactor.stats().backend, "epoll");
  let fired = 0;
  const reg = reactor.register(fds[0]!, Interest.READABLE, () => fired++, {
    ref: false,
  });
  sysWrite(fds[0]!, ONE);
  await withFaults("epoll_wait", [EINTR, EINVAL], () => {
    assert.equal(
      reactor.poll(),
      0,
      "an interrupted epoll_wait is not an empty poll",
    );
    assert.throws(
      () => reactor.poll(),
      (e: Error & { errno?: number; syscall?: string }) =>
        e.errno === EINVAL && e.syscall === "epoll_wait",
    );
  });
  assert.equal(fired, 0);
  // The real call again: the event was waiting all along.
  assert.equal(reactor.poll(), 1);
  assert.equal(fired, 1);
  reg.deregister();
});
