/**
 * A Registration's life: `registered` until deregistered, deregistration by object or by fd (a
 * stale object never removes the fd's next owner), and `ref()`/`unref()` deciding whether the
 * reactor keeps running (and parks) for it. Real eventfds, real epoll.
 */
import assert from "node:assert/strict";
import { Interest, Reactor } from "../mod.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK } from "../ffi/constants.ts";
import { sysClose, sysEventfd } from "../ffi/libc.ts";

function eventfd(): number {
  const fd = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  assert.ok(fd >= 0);
  return fd;
}

/** Waits (a bounded number of timer turns) until `done()`; false if it never happened. */
async function eventually(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  return done();
}

Deno.test("registered until deregistered; a stale Registration never removes the fd's next owner", async () => {
  const reactor = new Reactor();
  const fd = eventfd();
  try {
    const first = reactor.register(fd, Interest.READABLE, () => {});
    assert.equal(first.registered, true);
    assert.equal(reactor.isRegistered(fd), true);
    first.deregister();
    assert.equal(first.registered, false);
    assert.equal(reactor.isRegistered(fd), false);
    // The same number, a new owner: deregistering the old object again changes nothing.
    const second = reactor.register(fd, Interest.READABLE, () => {}, { ref: false });
    first.deregister();
    assert.equal(second.registered, true, "the stale object removed the new registration");
    assert.equal(reactor.isRegistered(fd), true);
    // By number, it goes.
    reactor.deregister(fd);
    assert.equal(second.registered, false);
    assert.equal(reactor.isRegistered(fd), false);
    assert.equal(reactor.stats().registrations, 0);
  } finally {
    sysClose(fd);
    await reactor.close();
  }
});

Deno.test("ref() makes a registration keep the reactor running; unref() releases it when parked", async () => {
  // With nothing else pending, a ref'd registration is what keeps the loop (and the process)
  // alive: the reactor starts, finds nothing, and parks. unref() of the last one wakes it so the
  // process may exit. Counted with the reactor's own park and wake counters.
  const reactor = new Reactor({ parking: "nonblocking", spinBeforePark: 0 });
  const fd = eventfd();
  try {
    const reg = reactor.register(fd, Interest.READABLE, () => {}, { ref: false });
    for (let round = 0; round < 2; round++) {
      const parks = reactor.stats().parks;
      reg.ref();
      reg.ref(); // twice: counted once
      assert.ok(
        await eventually(() => reactor.stats().parks > parks),
        `round ${round}: ref() did not start the reactor (it never parked)`,
      );
      const wakes = reactor.stats().wakes;
      reg.unref();
      assert.equal(reactor.stats().wakes, wakes + 1, `round ${round}: unref() left it parked`);
      reg.unref(); // twice: counted once, so the next round's ref() starts it again
      assert.ok(await eventually(() => reactor.stats().unparks >= reactor.stats().parks));
    }
    reg.deregister();
  } finally {
    sysClose(fd);
    await reactor.close();
  }
});
