/**
 * Sending on io_uring (issue 13, "Write: send ... from the same buffers"): a registration made
 * with `onSent` can hand bytes to the reactor, which copies them into a send buffer of its own and
 * submits the send with the turn's other requests. What must hold: every byte arrives once and in
 * order; one send at a time, copied at once, never larger than a buffer; a send blocked by a peer
 * that does not read completes when it reads; a close with a send in flight still delivers its
 * bytes, then EOF, and its completion never reaches the next owner of the fd number; a broken
 * connection ends the send with -errno. The HTTP core sends its responses this way on io_uring:
 * output produced while a send is in flight waits behind it, in order. On epoll nothing of this
 * applies (`registration.sending` is false).
 */
import assert from "node:assert/strict";
import {
  FixedResponse,
  Interest,
  Reactor,
  type Registration,
  serveHttp,
  TcpListener,
  TcpStream,
} from "../mod.ts";
import { EAGAIN } from "../ffi/errno.ts";
import { sysClose, sysSend } from "../ffi/libc.ts";
import { SEND_BUFFER_SIZE } from "../lib/reactor/uring_backend.ts";
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

/** Whether this kernel gives the io_uring backend send support. */
const sends = uringInfo().sends;

const ignore = !sends;

/** The results handed to `onSent`, in order. */
class Results {
  list: number[] = [];
  onSent = (result: number): void => {
    this.list.push(result);
  };
}

function unused(_ready: number, _registration: Registration): void {}

/**
 * A uring reactor with a sending registration (interest 0) on an accepted loopback fd, Deno's
 * socket as the peer; disposing it deregisters and closes everything, each once.
 */
async function sender(ref = true): Promise<{
  reactor: Reactor;
  peer: Deno.TcpConn;
  fd: number;
  reg: Registration;
  results: Results;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const reactor = new Reactor({ backend: "uring" });
  const { peer, fd, listener } = await acceptedConnection();
  const results = new Results();
  const reg = reactor.register(fd, 0, unused, { onSent: results.onSent, ref });
  return {
    reactor,
    peer,
    fd,
    reg,
    results,
    async [Symbol.asyncDispose](): Promise<void> {
      reg.deregister();
      sysClose(fd);
      peer.close();
      listener.close();
      await reactor.close();
    },
  };
}

/** Fills the socket's send side (and the peer's receive side) with send(2): the bytes sent. */
function fill(fd: number, sent: Uint8Array[]): number {
  const chunk = randomBytes(64 * 1024);
  let total = 0;
  for (let i = 0; i < 4096; i++) {
    const n = sysSend(fd, chunk, 0);
    if (n === -EAGAIN) return total;
    assert.ok(n > 0, `send(2) failed: ${n}`);
    sent.push(chunk.slice(0, n));
    total += n;
  }
  throw new Error("the socket never filled");
}

/** Reads `total` bytes from the peer (bounded), then checks for EOF when asked. */
async function readAll(peer: Deno.TcpConn, total: number): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < 1_000_000 && at < total; i++) {
    const n = await peer.read(out.subarray(at));
    if (n === null) break;
    at += n;
  }
  assert.equal(at, total, "the peer got fewer bytes than were sent");
  return out;
}

/** HTTP response bytes with every `Date` field's value blanked (a copy; same length). */
function undated(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = bytes.slice();
  const field = new TextEncoder().encode("\r\nDate: ");
  for (
    let i = out.indexOf(field[0]!);
    i >= 0 && i < out.length;
    i = out.indexOf(field[0]!, i + 1)
  ) {
    let k = 0;
    while (k < field.length && out[i + k] === field[k]) k++;
    if (k < field.length) continue;
    for (let v = i + k; v < out.length && out[v] !== 13; v++) out[v] = 0x2d; // "-"
  }
  return out;
}

Deno.test({
  name: "send: 4 MiB arrive whole and in order as sends of one buffer each, each ending whole",
  ignore,
  async fn(): Promise<void> {
    await using s = await sender();
    const { reactor, peer, reg, results } = s;
    assert.equal(reg.sending, true);
    const data = randomBytes(4 * 1024 * 1024);
    const reading = readAll(peer, data.length);
    const sentBefore = reactor.stats().sent;
    const count = data.length / SEND_BUFFER_SIZE;
    for (let i = 0; i < count; i++) {
      const at = i * SEND_BUFFER_SIZE;
      assert.equal(reg.send(data.subarray(at, at + SEND_BUFFER_SIZE)), true, `send ${i} refused`);
      await until(() => results.list.length === i + 1, `send ${i}'s end`);
    }
    assert.equal(reactor.stats().sent - sentBefore, count);
    assert.ok(results.list.every((r) => r === SEND_BUFFER_SIZE), `results ${results.list}`);
    assert.equal(await sha256(await reading), await sha256(data));
  },
});

Deno.test({
  name: "send: one at a time, at most one buffer, and copied at once",
  ignore,
  async fn(): Promise<void> {
    await using s = await sender();
    const { peer, reg, results } = s;
    assert.equal(reg.send(new Uint8Array(SEND_BUFFER_SIZE + 1)), false, "larger than a buffer");
    assert.equal(reg.send(new Uint8Array(0)), false, "nothing to send");
    const first = randomBytes(1000);
    const original = first.slice();
    assert.equal(reg.send(first), true);
    first.fill(0); // the caller's bytes are free again at once
    assert.equal(reg.send(randomBytes(10)), false, "a second send while one is in flight");
    await until(() => results.list.length === 1, "the first send's end");
    const second = randomBytes(500);
    assert.equal(reg.send(second), true, "a send after the first ended");
    await until(() => results.list.length === 2, "the second send's end");
    assert.deepEqual(results.list, [1000, 500]);
    const got = await readAll(peer, 1500);
    assert.equal(await sha256(got), await sha256(concatBytes(original, second)));
    reg.deregister();
    assert.equal(reg.send(randomBytes(10)), false, "a send after deregistration");
  },
});

Deno.test({
  name: "send: with every send buffer lent, send() answers false until one comes back",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({
      backend: "uring",
      uringSendBuffers: 1,
      uringSendBufferSize: 1024,
    });
    const a = await acceptedConnection();
    const b = await acceptedConnection();
    const resultsA = new Results();
    const resultsB = new Results();
    const regA = reactor.register(a.fd, 0, unused, { onSent: resultsA.onSent });
    const regB = reactor.register(b.fd, 0, unused, { onSent: resultsB.onSent });
    assert.equal(regA.send(new Uint8Array(1025)), false, "larger than uringSendBufferSize");
    const bytesA = randomBytes(1024);
    assert.equal(regA.send(bytesA), true);
    const bytesB = randomBytes(100);
    assert.equal(regB.send(bytesB), false, "a send with the only buffer lent to A");
    await until(() => resultsA.list.length === 1, "A's send's end");
    assert.equal(regB.send(bytesB), true, "the buffer came back");
    await until(() => resultsB.list.length === 1, "B's send's end");
    assert.deepEqual([resultsA.list, resultsB.list], [[1024], [100]]);
    assert.equal(await sha256(await readAll(a.peer, 1024)), await sha256(bytesA));
    assert.equal(await sha256(await readAll(b.peer, 100)), await sha256(bytesB));
    for (const [reg, c] of [[regA, a], [regB, b]] as const) {
      reg.deregister();
      sysClose(c.fd);
      c.peer.close();
      c.listener.close();
    }
    assert.throws(() => new Reactor({ backend: "uring", uringSendBuffers: 0 }), RangeError);
    assert.throws(() => new Reactor({ backend: "uring", uringSendBufferSize: 100 }), RangeError);
  },
});

Deno.test({
  name: "send: a send blocked by a peer that does not read ends when the peer reads",
  ignore,
  async fn(): Promise<void> {
    await using s = await sender();
    const { reactor, peer, fd, reg, results } = s;
    const parts: Uint8Array[] = [];
    const filled = fill(fd, parts);
    const last = randomBytes(SEND_BUFFER_SIZE);
    parts.push(last);
    assert.equal(reg.send(last), true);
    // The reactor turns while the peer reads nothing: the send stays in flight.
    const polls = reactor.stats().polls;
    await until(() => reactor.stats().polls >= polls + 5 || results.list.length > 0, "turns");
    assert.deepEqual(results.list, [], "the send ended while the peer read nothing");
    const got = await readAll(peer, filled + last.length);
    await until(() => results.list.length === 1, "the send's end");
    assert.deepEqual(results.list, [last.length]);
    assert.equal(await sha256(got), await sha256(concatBytes(...parts)));
  },
});

Deno.test({
  name: "send: a close with a send in flight delivers its bytes, then EOF; the end is no one's",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const before = openFds();
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    const peerA = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const peerB = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    let fdA = -1;
    await until(() => (fdA = listener.tryAcceptFd()) >= 0, "the first accept");
    const old = new Results();
    const regA = reactor.register(fdA, 0, unused, { onSent: old.onSent });
    const parts: Uint8Array[] = [];
    const filled = fill(fdA, parts);
    const last = randomBytes(SEND_BUFFER_SIZE);
    parts.push(last);
    assert.equal(regA.send(last), true);
    regA.deregister();
    sysClose(fdA);
    // B's connection takes A's fd number while A's send is still in the kernel.
    let fdB = -1;
    await until(() => (fdB = listener.tryAcceptFd()) >= 0, "the second accept");
    assert.equal(fdB, fdA, "the number was not reused (test setup)");
    const fresh = new Results();
    const regB = reactor.register(fdB, 0, unused, { onSent: fresh.onSent });
    const got = await readAll(peerA, filled + last.length);
    assert.equal(await sha256(got), await sha256(concatBytes(...parts)));
    assert.equal(await peerA.read(new Uint8Array(1)), null, "no EOF after A's bytes");
    // A's send ended in the kernel meanwhile; its completion reached no callback.
    const mine = randomBytes(300);
    assert.equal(regB.send(mine), true, "B's send refused: A's send still counted as B's");
    await until(() => fresh.list.length === 1, "B's send's end");
    assert.deepEqual(fresh.list, [300]);
    assert.deepEqual(old.list, [], "A's callback ran after its deregistration");
    assert.equal(await sha256(await readAll(peerB, 300)), await sha256(mine));
    regB.deregister();
    sysClose(fdB);
    peerA.close();
    peerB.close();
    listener.close();
    assert.deepEqual(await leakedFds(before), []);
  },
});

Deno.test({
  name: "send: on a connection the peer reset, the send ends with -errno",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    const peer = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    let fd = -1;
    await until(() => (fd = listener.tryAcceptFd()) >= 0, "the accept");
    const results = new Results();
    const reg = reactor.register(fd, 0, unused, { onSent: results.onSent });
    peer.setLinger(0);
    peer.close(); // RST
    // The first send after a reset may still be taken by the kernel; the next ones fail.
    for (let i = 0; i < 100 && !results.list.some((r) => r < 0); i++) {
      assert.equal(reg.send(randomBytes(100)), true);
      await until(() => results.list.length === i + 1, `send ${i}'s end`);
    }
    assert.ok(results.list.some((r) => r < 0), `results: ${results.list}`);
    reg.deregister();
    sysClose(fd);
    listener.close();
  },
});

Deno.test({
  name: "send: a send from a reactor with nothing ref'd (idle, no turn to come) leaves at once",
  ignore,
  async fn(): Promise<void> {
    await using s = await sender(false);
    const { peer, reg } = s;
    const data = randomBytes(5000);
    assert.equal(reg.send(data), true);
    let got: Uint8Array<ArrayBuffer> | null = null;
    void readAll(peer, data.length).then((bytes) => got = bytes);
    await until(() => got !== null, "the bytes at the peer");
    assert.equal(await sha256(got!), await sha256(data));
  },
});

Deno.test("send: on epoll a registration does not send, and send() answers false", async () => {
  await using reactor = new Reactor({ backend: "epoll" });
  const { peer, fd, listener } = await acceptedConnection();
  const results = new Results();
  const reg = reactor.register(fd, Interest.READABLE, unused, { onSent: results.onSent });
  assert.equal(reg.sending, false);
  assert.equal(reg.send(randomBytes(10)), false);
  assert.equal(reactor.backendInfo().sends, false);
  assert.throws(
    () => reactor.register(0, Interest.READABLE, unused, { onSent: 1 as never }),
    TypeError,
  );
  reg.deregister();
  sysClose(fd);
  peer.close();
  listener.close();
});

Deno.test({
  name: "send: HTTP responses produced while a send is in flight leave after it, in order",
  ignore,
  async fn(): Promise<void> {
    await using reactor = new Reactor({ backend: "uring" });
    const body = "x".repeat(8000);
    const responses: FixedResponse[] = [];
    let handled = 0;
    const server = serveHttp({
      port: 0,
      reactor,
      handler: (request) => {
        handled++;
        const n = Number(request.path.slice(1));
        return responses[n] ??= new FixedResponse(200, { body: `${n}:${body}` });
      },
    });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const encoder = new TextEncoder();
    const sentBefore = reactor.stats().sent;
    // One request at a time, each served before the next is written, and nothing read: the
    // sends on the ring fill the sockets until one is blocked, and the next response queues.
    let count = 0;
    for (; count < 4000; count++) {
      await client.write(encoder.encode(`GET /${count} HTTP/1.1\r\nHost: x\r\n\r\n`));
      await until(() => handled === count + 1, `request ${count} served`);
      const ringSends = reactor.stats().sent - sentBefore;
      // A response that did not go on the ring was queued behind a send in flight: the
      // connection stops reading until that send ends, so no more requests are written.
      if (ringSends < count + 1) break;
    }
    count++;
    assert.ok(count < 4000, "no send on the ring ever blocked");
    const expected = concatBytes(
      ...Array.from({ length: count }, (_, n) => responses[n]!.bytes(true)),
    );
    const got = await readAll(client, expected.length);
    // The Date field may have turned a second between serving and now: compared without it.
    assert.equal(await sha256(undated(got)), await sha256(undated(expected)));
    // The connection still serves: the next response comes after the queued ones.
    await client.write(encoder.encode(`GET /${count} HTTP/1.1\r\nHost: x\r\n\r\n`));
    await until(() => responses[count] !== undefined, "the next request served");
    const next = responses[count]!.bytes(true) as Uint8Array<ArrayBuffer>;
    const nextGot = await readAll(client, next.length);
    assert.equal(await sha256(undated(nextGot)), await sha256(undated(next)));
    client.close();
    await server.shutdown();
  },
});

Deno.test({
  name: "send: a promised response behind a send still queued on the ring leaves after it",
  ignore,
  async fn(): Promise<void> {
    // A budget of one event: the turn that serves the requests ends with the first response's
    // send queued, not yet submitted (no second poll in that turn).
    await using reactor = new Reactor({ backend: "uring", turnBudget: 1 });
    const first = new FixedResponse(200, { body: "first" });
    const second = new FixedResponse(200, { body: "second, answered by a promise" });
    const server = serveHttp({
      port: 0,
      reactor,
      // The promise settles in a microtask after that turn, before the next one.
      handler: (request) => request.path === "/first" ? first : Promise.resolve(second),
    });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const sentBefore = reactor.stats().sent;
    await client.write(
      new TextEncoder().encode(
        "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n",
      ),
    );
    const expected = concatBytes(first.bytes(true), second.bytes(true));
    const got = await readAll(client, expected.length);
    assert.equal(await sha256(undated(got)), await sha256(undated(expected)));
    assert.ok(reactor.stats().sent > sentBefore, "no response went on the ring");
    client.close();
    await server.shutdown();
  },
});
