/**
 * Receiving on io_uring (issue 13, "the paths that pay"): a registration made with `onData` is
 * served by a multishot recv into the ring's provided buffers. What must hold: every byte arrives
 * once and in order (through buffer exhaustion, a pause and a drain), a close with a receive in
 * flight really closes the socket, a reset ends the stream, and a completion left in the ring
 * for a closed fd never reaches the next owner of its number. On epoll, `onData` is ignored and
 * the registration reports readiness as before.
 */
import assert from "node:assert/strict";
import { Interest, Reactor, type Registration, TcpListener, TcpStream } from "../mod.ts";
import { ECONNRESET } from "../ffi/errno.ts";
import { sysClose, sysRecv, sysSend } from "../ffi/libc.ts";
import {
  acceptedConnection,
  concatBytes,
  leakedFds,
  openFds,
  randomBytes,
  sha256,
  until,
  uringInfo,
} from "./helpers.ts";

/** Whether this kernel gives the io_uring backend receive support. */
const receives = uringInfo().receives;

const ignore = !receives;

/** Bytes handed to an `onData` callback, copied (the view is valid only during the call). */
class Sink {
  chunks: Uint8Array<ArrayBuffer>[] = [];
  bytes = 0;
  calls = 0;
  ends: number[] = [];
  afterEnd = 0;
  onData = (data: Uint8Array<ArrayBuffer>, n: number): void => {
    this.calls++;
    if (this.ends.length > 0) this.afterEnd++;
    if (n <= 0) {
      this.ends.push(n);
      return;
    }
    this.chunks.push(data.slice(0, n));
    this.bytes += n;
  };
  joined(): Uint8Array<ArrayBuffer> {
    return concatBytes(...this.chunks);
  }
}

/** The same with a netio TcpStream as the peer (its fd is sent to synchronously). */
async function netioConnection(): Promise<
  { client: TcpStream; fd: number; listener: TcpListener }
> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  let fd = -1;
  await until(() => (fd = listener.tryAcceptFd()) >= 0, "the accept");
  return { client, fd, listener };
}

function unused(_ready: number, _registration: Registration): void {}

Deno.test({
  name: "receive: 2 MiB arrive whole and in order through 4 buffers of 1 KiB (stalls recovered)",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({
      backend: "uring",
      uringReceiveBuffers: 4,
      uringReceiveBufferSize: 1024,
    });
    const { peer, fd, listener } = await acceptedConnection();
    const sink = new Sink();
    const reg = reactor.register(fd, Interest.READABLE, unused, { onData: sink.onData });
    assert.equal(reg.receiving, true);
    const stallsBefore = reactor.stats().receiveStalls;
    const sent = randomBytes(2 * 1024 * 1024);
    const writing = peer.write(sent).then(async (n) => {
      let at = n;
      while (at < sent.length) at += await peer.write(sent.subarray(at));
    });
    await until(() => sink.bytes >= sent.length, "2 MiB received");
    await writing;
    // Every buffer was in use more than once during the transfer: the receive waited and resumed.
    assert.ok(reactor.stats().receiveStalls > stallsBefore, "no receive ran out of buffers");
    assert.equal(sink.bytes, sent.length);
    assert.equal(await sha256(sink.joined()), await sha256(sent));
    assert.ok(reactor.stats().received >= sent.length / 1024, "fewer completions than buffers");
    peer.close();
    await until(() => sink.ends.length > 0, "the EOF");
    assert.deepEqual(sink.ends, [0]);
    reg.deregister();
    sysClose(fd);
    listener.close();
  },
});

Deno.test({
  name: "receive: pausing (interest without READABLE) and resuming loses and reorders nothing",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const { peer, fd, listener } = await acceptedConnection();
    const sink = new Sink();
    const reg = reactor.register(fd, Interest.READABLE, unused, { onData: sink.onData });
    const sent = randomBytes(3 * 256 * 1024);
    const part = 256 * 1024;
    let written = 0;
    for (let round = 0; round < 3; round++) {
      const chunk = sent.subarray(round * part, (round + 1) * part);
      // Paused while a quarter of this part is written: it waits in the socket.
      await peer.write(chunk.subarray(0, 1));
      written += 1;
      reg.modify(0);
      let at = 1;
      while (at < part / 4) at += await peer.write(chunk.subarray(at, part / 4));
      written += at - 1;
      reg.modify(Interest.READABLE);
      while (at < part) at += await peer.write(chunk.subarray(at));
      written += part - part / 4;
      const target = written;
      await until(() => sink.bytes >= target, `round ${round} received`);
    }
    assert.equal(sink.bytes, sent.length);
    assert.equal(await sha256(sink.joined()), await sha256(sent));
    reg.deregister();
    sysClose(fd);
    peer.close();
    listener.close();
  },
});

Deno.test({
  name: "receive: drainReceived() hands over what the ring holds; the rest stays in the socket",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const { client, fd, listener } = await netioConnection();
    const sink = new Sink();
    const reg = reactor.register(fd, Interest.READABLE, unused, { onData: sink.onData });
    const first = randomBytes(4096);
    const second = randomBytes(8192);
    // The reactor arms the receive at its next submit: let one turn pass with data flowing.
    assert.equal(sysSend(client.fd, first, 0), first.length);
    await until(() => sink.bytes === first.length, "the first bytes received");
    // In one synchronous stretch: the send's completion is posted to the ring before sysSend
    // returns (task work runs on the way back from the syscall), the drain hands it over.
    assert.equal(sysSend(client.fd, second, 0), second.length);
    const callsBefore = sink.calls;
    reg.drainReceived();
    const drainedNow = sink.bytes - first.length;
    reg.deregister();
    // Whatever the drain did not hand over is still in the socket, for the next reader.
    const rest = new Uint8Array(second.length);
    let got = 0;
    for (let i = 0; i < 1000 && got < rest.length - drainedNow; i++) {
      const n = sysRecv(fd, rest.subarray(got), 0);
      if (n > 0) got += n;
      else await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(drainedNow + got, second.length, "bytes lost or duplicated by the drain");
    const whole = new Uint8Array(first.length + second.length);
    whole.set(sink.joined());
    whole.set(rest.subarray(0, got), sink.bytes);
    const expected = new Uint8Array(whole.length);
    expected.set(first);
    expected.set(second, first.length);
    assert.equal(await sha256(whole), await sha256(expected));
    assert.ok(sink.calls > callsBefore, "the drain handed nothing over");
    // After a drain nothing more is received.
    const callsAfter = sink.calls;
    assert.equal(sysSend(client.fd, first, 0), first.length);
    reactor.poll();
    assert.equal(sink.calls, callsAfter);
    sysClose(fd);
    client.close();
    listener.close();
  },
});

Deno.test({
  name: "receive: closing with a receive in flight closes the socket (the peer reads EOF)",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const before = openFds();
    const { peer, fd, listener } = await acceptedConnection();
    const sink = new Sink();
    const reg = reactor.register(fd, Interest.READABLE, unused, { onData: sink.onData });
    await peer.write(new Uint8Array([1, 2, 3]));
    await until(() => sink.bytes === 3, "three bytes received");
    // The multishot recv is armed now and holds a reference to the socket.
    reg.deregister();
    sysClose(fd);
    const buf = new Uint8Array(16);
    const eof = await Promise.race([
      peer.read(buf),
      new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 20_000)),
    ]);
    assert.equal(eof, null, "the socket stayed open after close()");
    peer.close();
    listener.close();
    assert.deepEqual(await leakedFds(before), []);
  },
});

Deno.test({
  name: "receive: a reset ends the stream with -ECONNRESET after the data before it",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const { client, fd, listener } = await netioConnection();
    const sink = new Sink();
    const reg = reactor.register(fd, Interest.READABLE, unused, { onData: sink.onData });
    const data = randomBytes(1000);
    assert.equal(sysSend(client.fd, data, 0), data.length);
    await until(() => sink.bytes === data.length, "the data before the reset");
    client.setLinger(0);
    // Unread data on the client side makes its close a reset as well.
    sysSend(fd, new Uint8Array(10), 0);
    client.close();
    await until(() => sink.ends.length > 0, "the end of the stream");
    assert.deepEqual(sink.ends, [-ECONNRESET]);
    // Ended: a further modify does not arm a new receive that could report again.
    reg.modify(Interest.READABLE);
    reactor.poll();
    assert.equal(sink.afterEnd, 0);
    reg.deregister();
    sysClose(fd);
    listener.close();
  },
});

Deno.test({
  name:
    "receive: a completion left in the ring for a closed fd never reaches its number's next owner",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    const a = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const b = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    let fdA = -1;
    await until(() => (fdA = listener.tryAcceptFd()) >= 0, "the first accept");
    const old = new Sink();
    const regA = reactor.register(fdA, Interest.READABLE, unused, { onData: old.onData });
    const hello = new Uint8Array([7]);
    assert.equal(sysSend(a.fd, hello, 0), 1);
    await until(() => old.bytes === 1, "the receive armed");
    // One synchronous stretch: A's data is completed into the ring, A is closed, B is accepted
    // into A's number and registered, all before the reactor reads the ring.
    const stale = randomBytes(512);
    assert.equal(sysSend(a.fd, stale, 0), stale.length);
    regA.deregister();
    sysClose(fdA);
    const fdB = listener.tryAcceptFd();
    assert.equal(fdB, fdA, "the number was not reused (test setup)");
    const fresh = new Sink();
    const regB = reactor.register(fdB, Interest.READABLE, unused, { onData: fresh.onData });
    const mine = randomBytes(300);
    assert.equal(sysSend(b.fd, mine, 0), mine.length);
    await until(() => fresh.bytes >= mine.length, "B's bytes");
    assert.equal(fresh.bytes, mine.length, "B received bytes that were not its own");
    assert.equal(await sha256(fresh.joined()), await sha256(mine));
    assert.equal(old.bytes, 1, "A's callback ran after its deregistration");
    regB.deregister();
    sysClose(fdB);
    a.close();
    b.close();
    listener.close();
  },
});

Deno.test("receive: on epoll onData is ignored and readiness is reported as before", async () => {
  await using reactor = new Reactor({ backend: "epoll" });
  const { peer, fd, listener } = await acceptedConnection();
  const sink = new Sink();
  let readable = 0;
  const reg = reactor.register(fd, Interest.READABLE, (ready) => {
    readable++;
    if (ready) sysRecv(fd, new Uint8Array(64), 0);
  }, { onData: sink.onData });
  assert.equal(reg.receiving, false);
  await peer.write(new Uint8Array([1]));
  await until(() => readable > 0, "readiness");
  assert.equal(sink.calls, 0);
  assert.throws(
    () => reactor.register(0, Interest.READABLE, unused, { onData: 1 as never }),
    /TypeError: onData must be a function/,
  );
  reg.deregister();
  sysClose(fd);
  peer.close();
  listener.close();
});

Deno.test({
  name: "receive: drainReceived() after a deregistration or the reactor's close hands over nothing",
  ignore,
  async fn(): Promise<void> {
    const reactor = new Reactor({ backend: "uring" });
    const { client, fd, listener } = await netioConnection();
    const other = await netioConnection();
    try {
      const sink = new Sink();
      const reg = reactor.register(fd, Interest.READABLE, unused, { onData: sink.onData });
      const otherSink = new Sink();
      const otherReg = reactor.register(other.fd, Interest.READABLE, unused, {
        onData: otherSink.onData,
      });
      const bytes = new Uint8Array([1, 2, 3]);
      assert.equal(sysSend(client.fd, bytes, 0), 3);
      await until(() => sink.bytes === 3, "the receive armed");
      // Deregistered, with data completed into the ring: nothing reaches the old callback.
      assert.equal(sysSend(client.fd, bytes, 0), 3);
      reg.deregister();
      reg.drainReceived();
      assert.equal(sink.bytes, 3);
      // Closed reactor (its ring unmapped): a drain is a no-op, not a syscall on a closed ring.
      assert.equal(sysSend(other.client.fd, bytes, 0), 3);
      await reactor.close();
      const calls = otherSink.calls;
      otherReg.drainReceived();
      assert.equal(otherSink.calls, calls);
    } finally {
      await reactor.close();
      sysClose(fd);
      sysClose(other.fd);
      client.close();
      other.client.close();
      listener.close();
      other.listener.close();
    }
  },
});
