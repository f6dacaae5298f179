/**
 * The socket layer's bookkeeping, pinned down where the other socket tests leave it loose:
 * IoState (lib/net/readiness.ts: readiness as last known, sticky closes, the interest set, the
 * turn budget, the keep-alive count) driven on a real loopback socket, and TcpListener's accept
 * paths that the kernel only takes on rare errors (EINTR, ECONNABORTED, ENFILE, ENOBUFS, a
 * failing spare), reached by injecting the errno into accept4/eventfd (tests/syscall_faults.ts).
 * A subprocess with descriptor 0 closed checks that fd 0 is a descriptor like any other.
 */
import assert from "node:assert/strict";
import { Interest, Reactor, Ready, type Registration, TcpListener, TcpStream } from "../mod.ts";
import { IoState } from "../lib/net/readiness.ts";
import { ClosedError } from "../lib/net/fd.ts";
import { EAGAIN, ECONNABORTED, EINTR, EMFILE, ENFILE, ENOBUFS, EPERM } from "../ffi/errno.ts";
import { tcpPair, until } from "./helpers.ts";
import { withFaults } from "./syscall_faults.ts";

const R = Interest.READABLE;
const W = Interest.WRITABLE;
const EDGE = Interest.EDGE;
const BOTH_READY = Ready.READABLE | Ready.WRITABLE;

/** An IoState on `fd` served by `reactor`, registered, with its interest changes counted. */
async function registeredIo(
  reactor: Reactor,
  fd: number,
): Promise<{ io: IoState; modifies: number[] }> {
  const io = new IoState(reactor);
  // A wait on a direction known ready registers the fd and resolves at once.
  assert.equal(await io.wait(fd, true, undefined), BOTH_READY);
  const reg = io.registration;
  assert.ok(reg, "the first wait did not register the fd");
  const modifies: number[] = [];
  const modify = reg.modify.bind(reg);
  reg.modify = (interest: number): void => {
    modifies.push(interest);
    modify(interest);
  };
  return { io, modifies };
}

// ---------------------------------------------------------------------------------------------
// IoState

Deno.test("IoState: a new socket is known ready both ways, not closed, both directions wanted", async () => {
  await using pair = await tcpPair();
  await using reactor = new Reactor();
  const io = new IoState(reactor);
  assert.equal(io.readReady, true);
  assert.equal(io.writeReady, true);
  assert.equal(io.readClosed, false);
  assert.equal(io.writeClosed, false);
  assert.equal(io.interest, R | W);
  const registration = (): Registration | undefined => io.registration;
  assert.equal(registration(), undefined, "registered before any wait");
  // A wait on a ready direction resolves at once: no waiter, nothing for the reactor to do.
  const read = io.wait(pair.client.fd, true, undefined);
  const write = io.wait(pair.client.fd, false, undefined);
  assert.equal(
    io.readers.count,
    0,
    "a read wait on a ready socket queued a waiter",
  );
  assert.equal(
    io.writers.count,
    0,
    "a write wait on a ready socket queued a waiter",
  );
  assert.equal(await read, BOTH_READY);
  assert.equal(await write, BOTH_READY);
  assert.equal(registration()?.interest, R | W | EDGE);
  assert.equal(reactor.stats().registrations, 1);
  io.close("test");
  assert.equal(reactor.stats().registrations, 0);
});

Deno.test("IoState: each readiness flag sets its own direction only, closes stick, unwanted edges drop interest", async () => {
  await using pair = await tcpPair();
  await using reactor = new Reactor();
  const fd = pair.client.fd;
  const cases: {
    ready: number;
    readReady: boolean;
    writeReady: boolean;
    readClosed: boolean;
    writeClosed: boolean;
    interest: number;
  }[] = [
    // A readable edge nobody waits for: READABLE leaves the interest set.
    {
      ready: Ready.READABLE,
      readReady: true,
      writeReady: false,
      readClosed: false,
      writeClosed: false,
      interest: W,
    },
    {
      ready: Ready.WRITABLE,
      readReady: false,
      writeReady: true,
      readClosed: false,
      writeClosed: false,
      interest: R,
    },
    // Closes and errors make the direction ready for good, but no edge was unwanted.
    {
      ready: Ready.READ_CLOSED,
      readReady: true,
      writeReady: false,
      readClosed: true,
      writeClosed: false,
      interest: R | W,
    },
    {
      ready: Ready.WRITE_CLOSED,
      readReady: false,
      writeReady: true,
      readClosed: false,
      writeClosed: true,
      interest: R | W,
    },
    {
      ready: Ready.ERROR,
      readReady: true,
      writeReady: true,
      readClosed: true,
      writeClosed: true,
      interest: R | W,
    },
  ];
  for (const c of cases) {
    const { io, modifies } = await registeredIo(reactor, fd);
    io.readReady = false;
    io.writeReady = false;
    io.onReady(c.ready);
    const what = `onReady(${c.ready})`;
    assert.equal(io.readReady, c.readReady, `${what}: readReady`);
    assert.equal(io.writeReady, c.writeReady, `${what}: writeReady`);
    assert.equal(io.readClosed, c.readClosed, `${what}: readClosed`);
    assert.equal(io.writeClosed, c.writeClosed, `${what}: writeClosed`);
    assert.equal(io.interest, c.interest, `${what}: interest`);
    // One EPOLL_CTL_MOD when the interest shrank, none otherwise.
    assert.deepEqual(
      modifies,
      c.interest === (R | W) ? [] : [c.interest | EDGE],
      what,
    );
    // The same edge again: the interest already lacks it, so nothing more is asked.
    io.onReady(c.ready);
    assert.equal(
      modifies.length,
      c.interest === (R | W) ? 0 : 1,
      `${what} twice`,
    );
    io.close("test");
  }
});

Deno.test("IoState: an edge for a waiter wakes it and keeps the interest; a wait puts a dropped direction back", async () => {
  await using pair = await tcpPair();
  await using reactor = new Reactor();
  const fd = pair.client.fd;
  const { io, modifies } = await registeredIo(reactor, fd);
  io.readReady = false;
  io.writeReady = false;
  // Both directions in the interest already: waiting asks the kernel for nothing.
  const reading = io.wait(fd, true, undefined);
  const writing = io.wait(fd, false, undefined);
  assert.equal(io.readers.count, 1);
  assert.equal(io.writers.count, 1);
  assert.deepEqual(modifies, []);
  io.onReady(Ready.WRITABLE);
  assert.equal(await writing, Ready.WRITABLE);
  assert.equal(
    io.interest,
    R | W,
    "a wanted writable edge dropped the interest",
  );
  io.onReady(Ready.READABLE);
  assert.equal(await reading, Ready.READABLE);
  assert.deepEqual(modifies, []);
  // Now an unwanted writable edge drops WRITABLE; the next write wait adds it back, once.
  io.onReady(Ready.WRITABLE);
  assert.deepEqual(modifies, [R | EDGE]);
  io.writeReady = false;
  const again = io.wait(fd, false, undefined);
  assert.deepEqual(modifies, [R | EDGE, R | W | EDGE]);
  assert.equal(io.interest, R | W);
  io.onReady(Ready.WRITABLE);
  assert.equal(await again, Ready.WRITABLE);
  io.close("test");
});

Deno.test("IoState: interest is left alone without a live registration", async () => {
  await using pair = await tcpPair();
  await using reactor = new Reactor();
  // Never registered: an unwanted edge changes nothing and throws nothing.
  const fresh = new IoState(reactor);
  fresh.onReady(Ready.WRITABLE | Ready.READABLE);
  assert.equal(fresh.interest, R | W);
  // Registered, then deregistered behind its back (the reactor dropped it): the same.
  const { io, modifies } = await registeredIo(reactor, pair.client.fd);
  reactor.deregister(io.registration!);
  io.onReady(Ready.WRITABLE);
  assert.equal(io.interest, R | W);
  assert.deepEqual(modifies, []);
  io.close("test");
});

Deno.test("IoState: a wait with an aborted signal rejects with its reason, even on a ready socket", async () => {
  await using pair = await tcpPair();
  await using reactor = new Reactor();
  const io = new IoState(reactor);
  const reason = new Error("stop");
  const ac = new AbortController();
  ac.abort(reason);
  await assert.rejects(
    io.wait(pair.client.fd, true, ac.signal),
    (e) => e === reason,
  );
  await assert.rejects(
    io.wait(pair.client.fd, false, ac.signal),
    (e) => e === reason,
  );
  assert.equal(io.readers.count + io.writers.count, 0);
  io.close("test");
});

Deno.test("IoState: a spent turn budget defers to the next turn, which resolves as ready", async () => {
  await using pair = await tcpPair();
  // No turn has run yet: the whole budget (1) is there.
  await using reactor = new Reactor({ turnBudget: 1 });
  const io = new IoState(reactor);
  assert.equal(
    io.spend(undefined),
    undefined,
    "the first unit of the budget was refused",
  );
  const deferred = reactor.stats().deferredOperations;
  const next = io.spend(undefined);
  assert.ok(next instanceof Promise, "a spent budget did not defer");
  assert.equal(await next, BOTH_READY);
  assert.equal(reactor.stats().deferredOperations, deferred + 1);
  // A wait on a ready direction with the budget spent defers too, and the signal is checked
  // after the turn.
  let spent = 0;
  while (spent < 10 && reactor.spend()) spent++;
  const ac = new AbortController();
  const waiting = io.wait(pair.client.fd, true, ac.signal);
  assert.equal(io.readers.count, 0);
  ac.abort(new Error("late"));
  await assert.rejects(waiting, /late/);
  io.close("test");
});

Deno.test("IoState: setRef() moves the pending waits' keep-alive; the reactor is released when it drops to zero", async () => {
  await using pair = await tcpPair();
  await using reactor = new Reactor({ spinBeforePark: 0 });
  const io = new IoState(reactor);
  const fd = pair.client.fd;
  io.readReady = false;
  const parks = reactor.stats().parks;
  const reading = io.wait(fd, true, undefined);
  await until(
    () => reactor.stats().parks > parks,
    "the reactor parking for a pending read",
  );
  io.setRef(true); // already ref'd: no change
  const wakes = reactor.stats().wakes;
  io.setRef(false); // the only thing keeping it alive goes: the parked wait is released
  assert.equal(
    reactor.stats().wakes,
    wakes + 1,
    "unref of the last pending wait left it parked",
  );
  // A socket with nothing pending has no keep-alive to move: the reactor is not woken again.
  new IoState(reactor).setRef(false);
  assert.equal(
    reactor.stats().wakes,
    wakes + 1,
    "unref of a socket with no waits woke the reactor",
  );
  await until(
    () => reactor.stats().unparks >= reactor.stats().parks,
    "the reactor unparking",
  );
  io.setRef(false); // no change
  // ref() again: it runs (and parks) for the read once more.
  const parks2 = reactor.stats().parks;
  io.setRef(true);
  await until(
    () => reactor.stats().parks > parks2,
    "the reactor parking again after ref()",
  );
  // The read completes when data comes.
  await pair.server.write(new Uint8Array([7]));
  assert.equal((await reading) & Ready.READABLE, Ready.READABLE);
  io.close("test");
});

// ---------------------------------------------------------------------------------------------
// TcpListener: accept4's rare errors

async function listenerWithPending(): Promise<{
  listener: TcpListener;
  client: TcpStream;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  return {
    listener,
    client,
    [Symbol.asyncDispose]: () => {
      client.close();
      listener.close();
      return Promise.resolve();
    },
  };
}

Deno.test("accept4 failing with EINTR or ECONNABORTED is retried: the pending connection is accepted", async () => {
  for (const errno of [EINTR, ECONNABORTED]) {
    await using p = await listenerWithPending();
    const accepted = await withFaults("accept4", [errno], (log) => {
      const s = p.listener.tryAccept();
      assert.equal(log.results.length, 2, `errno ${errno}: accept4 calls`);
      return s;
    });
    assert.ok(accepted, `errno ${errno}: nothing accepted`);
    using _s = accepted;
    assert.deepEqual(p.listener.stats(), { accepted: 1, droppedAtFdLimit: 0 });
    await accepted.write(new Uint8Array([1]));
    assert.equal(await p.client.read(new Uint8Array(1)), 1);
  }
});

Deno.test("accept4 failing with EMFILE, ENFILE or ENOBUFS drops the pending connection through the spare", async () => {
  for (const errno of [EMFILE, ENFILE, ENOBUFS]) {
    await using p = await listenerWithPending();
    const accepted = await withFaults("accept4", [errno], (log) => {
      const s = p.listener.tryAccept();
      // The faked call, the spare's accept (the connection), the retry (nothing pending).
      assert.equal(log.results.length, 3, `errno ${errno}: accept4 calls`);
      assert.equal(log.results[2], -EAGAIN);
      return s;
    });
    assert.equal(accepted, null, `errno ${errno}: a stream came back`);
    assert.deepEqual(p.listener.stats(), { accepted: 0, droppedAtFdLimit: 1 });
    assert.equal(
      await p.client.read(new Uint8Array(1)),
      null,
      "the dropped peer saw no FIN",
    );
  }
});

Deno.test("another accept4 error throws ErrnoError naming accept4, and drops nothing", async () => {
  await using p = await listenerWithPending();
  await withFaults("accept4", [EPERM], (log) => {
    assert.throws(
      () => p.listener.tryAccept(),
      (e: Error & { errno?: number; syscall?: string }) =>
        e.errno === EPERM && e.syscall === "accept4" &&
        /accept4/.test(e.message),
    );
    assert.equal(log.results.length, 1);
  });
  using s = p.listener.tryAccept();
  assert.ok(s, "the pending connection was lost");
  assert.deepEqual(p.listener.stats(), { accepted: 1, droppedAtFdLimit: 0 });
});

Deno.test("at the fd limit with a spare that cannot accept, the limit's error is thrown and nothing dropped", async () => {
  await using p = await listenerWithPending();
  await withFaults("accept4", [EMFILE, EPERM], (log) => {
    assert.throws(
      () => p.listener.tryAccept(),
      (e: Error & { errno?: number; syscall?: string }) =>
        e.errno === EMFILE && e.syscall === "accept4" &&
        /accept4/.test(e.message),
    );
    assert.equal(log.results.length, 2);
  });
  using s = p.listener.tryAccept();
  assert.ok(s, "the pending connection was lost");
  assert.deepEqual(p.listener.stats(), { accepted: 1, droppedAtFdLimit: 0 });
});

Deno.test("async iteration over a listener throws an accept error other than ClosedError", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  await withFaults("accept4", [EPERM], async () => {
    await assert.rejects(
      async () => {
        for await (const s of listener) s.close();
      },
      (e: Error & { errno?: number }) => e.errno === EPERM && !(e instanceof ClosedError),
    );
  });
});

Deno.test("accept() with nothing pending waits for an edge: one accept4 call, then the reactor parks", async () => {
  for (const script of [[], [EMFILE]]) {
    // With EMFILE faked, the spare's accept finds nothing pending: the same wait follows.
    await using reactor = new Reactor({ spinBeforePark: 0 });
    using listener = TcpListener.bind({
      hostname: "127.0.0.1",
      port: 0,
      reactor,
    });
    const calls = script.length + 1;
    await withFaults("accept4", script, async (log) => {
      const parks = reactor.stats().parks;
      const accepting = listener.accept();
      await until(
        () => reactor.stats().parks > parks || log.results.length > calls,
        "the reactor parking under a pending accept",
      );
      assert.equal(
        log.results.length,
        calls,
        `script ${script}: accept4 kept being called`,
      );
      assert.equal(log.results.at(-1), -EAGAIN);
      using client = await TcpStream.connect({
        hostname: "127.0.0.1",
        port: listener.addr.port,
      });
      using server = await accepting;
      assert.equal(server.remoteAddr.port, client.localAddr.port);
    });
    assert.deepEqual(listener.stats(), { accepted: 1, droppedAtFdLimit: 0 });
  }
});

// ---------------------------------------------------------------------------------------------
// Descriptor 0 is a descriptor like any other (a subprocess that closes its stdin first)

const url = (path: string): string => JSON.stringify(new URL(path, import.meta.url).href);

const FD0_SCRIPT = `
import { Reactor, TcpListener, TcpStream } from ${url("../mod.ts")};
import { sysClose, sysFcntl } from ${url("../ffi/libc.ts")};
import { EMFILE } from ${url("../ffi/errno.ts")};
import { withFaults } from ${url("./syscall_faults.ts")};
const r = {};
const F_GETFD = 1;
const open0 = () => sysFcntl(0, F_GETFD, 0) >= 0;
const reactor = new Reactor();
const opts = { hostname: "127.0.0.1", port: 0, reactor };
const connect = (l) => TcpStream.connect({ hostname: "127.0.0.1", port: l.addr.port, reactor });
// 1. A listener on descriptor 0 accepts.
sysClose(0);
const l0 = TcpListener.bind(opts);
r.listenerFd = l0.fd;
const c0 = await connect(l0);
const s0 = l0.tryAccept();
r.acceptedOn0 = s0 !== null;
s0?.close();
c0.close();
// 2. A connection accepted on descriptor 0 (bound while 0 is taken, 0 freed before the accept).
const l1 = TcpListener.bind(opts);
const c1 = await connect(l1);
l0.close();
r.freed0 = !open0();
const s1 = l1.tryAccept();
r.streamFd = s1 === null ? null : s1.fd;
r.wrote0 = s1?.tryWrite(new Uint8Array([42]));
const got = new Uint8Array(1);
r.read0 = [await c1.read(got), got[0]];
// 3. At the fd limit with 0 free, the dropped connection and then the new spare take 0 (the
// client connects while 0 is still taken, so that its own socket is not the one on 0).
const c2 = await connect(l1);
s1?.close();
c1.close();
await withFaults("accept4", [EMFILE], () => { r.drop1 = l1.tryAccept(); });
r.stats1 = l1.stats();
r.spareOn0 = open0();
r.c2Read = await c2.read(new Uint8Array(1));
// ... and a spare on 0 serves the next drop.
const c3 = await connect(l1);
await withFaults("accept4", [EMFILE], () => { r.drop2 = l1.tryAccept(); });
r.stats2 = l1.stats();
c2.close();
c3.close();
l1.close();
r.open0AfterClose = open0();
// 4. The spare could not be taken back (eventfd failed): the next fd-limit error is thrown.
const l2 = TcpListener.bind(opts);
const c4 = await connect(l2);
await withFaults("accept4", [EMFILE], () =>
  withFaults("eventfd", [EMFILE], () => { r.drop3 = l2.tryAccept(); }));
r.stats3 = l2.stats();
const c5 = await connect(l2);
await withFaults("accept4", [EMFILE], () => {
  try { l2.tryAccept(); r.noSpare = "no error"; } catch (e) { r.noSpare = e.errno + " " + e.syscall; }
});
const s5 = l2.tryAccept();
r.afterNoSpare = s5 !== null;
r.stats4 = l2.stats();
s5?.close();
c4.close();
c5.close();
l2.close();
await reactor.close();
console.log(JSON.stringify(r));
`;

Deno.test("descriptor 0 works as a listener, an accepted stream and the spare (a subprocess without stdin)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/fd0.ts`;
    await Deno.writeTextFile(script, FD0_SCRIPT);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-all", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    const r = JSON.parse(decoder.decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(r.listenerFd, 0, "the listener did not get descriptor 0");
    assert.equal(
      r.acceptedOn0,
      true,
      "a listener on descriptor 0 accepted nothing",
    );
    assert.equal(r.freed0, true);
    assert.equal(
      r.streamFd,
      0,
      "the connection was not accepted on descriptor 0",
    );
    assert.equal(r.wrote0, 1, "a stream on descriptor 0 did not write");
    assert.deepEqual(r.read0, [1, 42]);
    assert.equal(r.drop1, null);
    assert.deepEqual(r.stats1, { accepted: 1, droppedAtFdLimit: 1 });
    assert.equal(r.spareOn0, true, "the new spare is not on descriptor 0");
    assert.equal(
      r.c2Read,
      null,
      "the connection dropped on descriptor 0 was not closed",
    );
    assert.equal(r.drop2, null);
    assert.deepEqual(r.stats2, { accepted: 1, droppedAtFdLimit: 2 });
    assert.equal(
      r.open0AfterClose,
      false,
      "close() left the spare on descriptor 0 open",
    );
    assert.equal(r.drop3, null);
    assert.deepEqual(r.stats3, { accepted: 0, droppedAtFdLimit: 1 });
    assert.equal(r.noSpare, `${EMFILE} accept4`);
    assert.equal(
      r.afterNoSpare,
      true,
      "the connection pending without a spare was lost",
    );
    assert.deepEqual(r.stats4, { accepted: 1, droppedAtFdLimit: 1 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// TcpStream: what readiness as last known saves (syscalls counted)

Deno.test("after a short read the next read waits for the edge: no recv that could only say EAGAIN", async () => {
  await using pair = await tcpPair();
  const buf = new Uint8Array(16);
  await pair.server.write(new Uint8Array([1, 2, 3]));
  assert.equal(await pair.client.read(buf), 3); // short: the socket is drained
  await withFaults("recv", [], async (log) => {
    const reading = pair.client.read(buf);
    await pair.server.write(new Uint8Array([4, 5]));
    assert.equal(await reading, 2);
    assert.deepEqual(
      log.results,
      [2],
      "a read after a short read made a recv before the edge",
    );
  });
});

Deno.test("an empty tryWrite makes no syscall; after a short write the next write waits for the edge", async () => {
  await using pair = await tcpPair();
  await withFaults("send", [], (log) => {
    assert.equal(pair.client.tryWrite(new Uint8Array(0)), 0);
    assert.equal(log.results.length, 0, "an empty tryWrite called send");
  });
  // Larger than any loopback send buffer: the first write is short.
  const big = new Uint8Array(32 << 20);
  const first = pair.client.tryWrite(big);
  assert.ok(first > 0 && first < big.length, `not a short write: ${first}`);
  await withFaults("send", [], async (log) => {
    const writing = pair.client.write(new Uint8Array([9]));
    // Drain what was written: the edge comes, and the write goes out with one send.
    const sink = new Uint8Array(1 << 16);
    let got = 0;
    while (got < first) {
      const n = await pair.server.read(sink);
      assert.ok(n !== null);
      got += n;
    }
    assert.equal(await writing, 1);
    assert.deepEqual(
      log.results,
      [1],
      "a write after a short write made a send before the edge",
    );
  });
});

Deno.test("waitReadable(): at once while known ready; after a would-block, only once data comes", async () => {
  await using reactor = new Reactor({ spinBeforePark: 0 });
  using listener = TcpListener.bind({
    hostname: "127.0.0.1",
    port: 0,
    reactor,
  });
  using client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    reactor,
  });
  using server = await listener.accept();
  let done = false;
  void client.waitReadable().then(() => done = true);
  await until(() => done, "waitReadable() of a stream known ready");
  done = false;
  const parks = reactor.stats().parks;
  const waiting = client.waitReadable({ afterWouldBlock: true }).then(() => done = true);
  await until(
    () => done || reactor.stats().parks > parks,
    "the reactor parking",
  );
  assert.equal(
    done,
    false,
    "waitReadable({ afterWouldBlock }) resolved without data",
  );
  await server.write(new Uint8Array([1]));
  await waiting;
  assert.equal(client.tryRead(new Uint8Array(4)), 1);
});

Deno.test("connect() with both a signal and timeoutMs still times out", async () => {
  // A full accept queue (backlog 1 holds two) makes the kernel drop the next SYN: the connect
  // stays pending until the timeout fires. No timing is asserted.
  using listener = TcpListener.bind({
    hostname: "127.0.0.1",
    port: 0,
    backlog: 1,
  });
  const port = listener.addr.port;
  using _a = await TcpStream.connect({ hostname: "127.0.0.1", port });
  using _b = await TcpStream.connect({ hostname: "127.0.0.1", port });
  await assert.rejects(
    TcpStream.connect({
      hostname: "127.0.0.1",
      port,
      timeoutMs: 50,
      signal: new AbortController().signal,
    }),
    (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
  );
});
