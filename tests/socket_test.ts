/**
 * TcpListener and TcpStream over real loopback sockets: bind, accept, connect, reads and writes,
 * half-close, errors as ErrnoError, bad input refused before any syscall, use after close refused
 * without a syscall, Deno's permission sandbox respected, Web Streams, and no descriptor left
 * behind.
 *
 * Leak checks: `deno test --parallel` runs test files as workers of ONE process, so another file
 * may open or close descriptors at any moment and a bare before/after fd count is racy. Every
 * socket this file creates is therefore recorded with its inode (fstat st_ino), and the checks
 * assert that none of those sockets is still open; fd-count checks (for "no socket was created")
 * repeat the measurement a few times and pass on the first clean one. The subprocess tests run
 * alone in their own process and use exact counts.
 */

import assert from "node:assert/strict";
import { decodeSocketAddress as decodeSockaddr, parseIPv4 } from "../lib/net/address.ts";
import { ClosedError, ErrnoError, Reactor, TcpListener, TcpStream } from "../mod.ts";
import { AF_INET, F_GETFL, SOCK_CLOEXEC, SOCK_STREAM } from "../ffi/constants.ts";
import {
  check,
  sysBind,
  sysClose,
  sysFcntl,
  sysFstat,
  sysGetsockname,
  sysSocket,
} from "../ffi/libc.ts";
import * as opt from "../lib/net/options.ts";
import { encodeSockaddrIn, SOCKADDR_STORAGE_SIZE, STAT_SIZE } from "../ffi/structs.ts";
import { assertSameBytes, fdCount, tcpPair } from "./helpers.ts";

Reactor.default(); // owns its fds for the process lifetime: create it before any baseline
const baseline = fdCount();

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A socket this file created: its number and its inode (st_ino, unique among open sockets). */
interface Tracked {
  fd: number;
  ino: bigint;
}

/** Every socket this file created (see the module comment). */
const created: Tracked[] = [];
const statBuf = new Uint8Array(STAT_SIZE);

/** st_ino of an open descriptor (offset 8 in struct stat on x86_64 and aarch64), or null. */
function inode(fd: number): bigint | null {
  if (sysFstat(fd, statBuf) !== 0) return null;
  return new DataView(statBuf.buffer).getBigUint64(8, true);
}

/** Records the socket behind `fd` as created by this file. */
function track(fd: number): Tracked {
  const ino = inode(fd);
  assert.ok(ino !== null, `fd ${fd} is not open`);
  const t = { fd, ino };
  created.push(t);
  return t;
}

function trackAll(...sockets: (TcpStream | TcpListener)[]): void {
  for (const s of sockets) track(s.fd);
}

/**
 * The tracked sockets that are still open: a leaked socket keeps its number, and the number
 * still leads to the same inode (a reused number leads to another one).
 */
function stillOpen(list: Iterable<Tracked> = created): Tracked[] {
  const open: Tracked[] = [];
  for (const t of list) if (inode(t.fd) === t.ino) open.push(t);
  return open;
}

/**
 * Asserts that `attempt` leaves the fd count unchanged. Should another test file run in parallel
 * and change the count meanwhile, the measurement is repeated (up to 20 times); one clean
 * measurement passes. A leak shows in every one.
 */
async function assertNoNewFd(attempt: () => unknown): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 20; i++) {
    const before = fdCount();
    await attempt();
    const after = fdCount();
    if (after === before) return;
    seen.push(`${before} -> ${after}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`the fd count changed every time: ${seen.join(", ")}`);
}

/**
 * The descriptors of this process that are TCP sockets in `state` (read through TCP_INFO).
 * A connect that was given up while its SYN went unanswered would leave such a socket in
 * SYN_SENT for minutes had its fd leaked; no other test here keeps one.
 */
function socketsInState(state: string): number[] {
  const found: number[] = [];
  for (let fd = 0; fd < 65536; fd++) {
    if (sysFcntl(fd, F_GETFL, 0) < 0) continue;
    try {
      if (opt.tcpInfo(fd).state === state) found.push(fd);
    } catch {
      // not a TCP socket
    }
  }
  return found;
}

async function pair(
  opts: { ipv6?: boolean } = {},
): Promise<Awaited<ReturnType<typeof tcpPair>>> {
  const p = await tcpPair(opts);
  trackAll(p.client, p.server, p.listener);
  return p;
}

/** Reads until EOF (bounded by `limit` bytes). */
async function readToEnd(s: TcpStream, limit = 1 << 24): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await s.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
    if (total > limit) throw new Error("readToEnd: more than the limit");
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** A socket bound to a loopback port but not listening: connects to it are refused (RST). */
function boundNotListening(): { port: number; close: () => void } {
  const fd = check(sysSocket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  track(fd);
  try {
    check(sysBind(fd, encodeSockaddrIn(parseIPv4("127.0.0.1")!, 0)), "bind");
    const addr = new Uint8Array(SOCKADDR_STORAGE_SIZE);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, addr.byteLength, true);
    check(sysGetsockname(fd, addr, len), "getsockname");
    const port = decodeSockaddr(addr)!.port;
    return { port, close: () => void sysClose(fd) };
  } catch (e) {
    sysClose(fd);
    throw e;
  }
}

function isErrno(code: string | string[]): (e: unknown) => boolean {
  const codes = Array.isArray(code) ? code : [code];
  return (e: unknown): boolean => {
    if (!(e instanceof ErrnoError)) return false;
    if (!codes.includes(e.code)) throw new assert.AssertionError({ message: `got ${e.message}` });
    return true;
  };
}

// ---------------------------------------------------------------------------------------------
// bind

Deno.test("bind() on 127.0.0.1 port 0 reports the kernel's port in addr", () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  trackAll(listener);
  assert.equal(listener.addr.family, "IPv4");
  assert.equal(listener.addr.hostname, "127.0.0.1");
  assert.equal(listener.addr.transport, "tcp");
  assert.ok(listener.addr.port > 0 && listener.addr.port < 65536);
});

Deno.test("bind() on ::1 port 0 reports the kernel's port in addr", () => {
  using listener = TcpListener.bind({ hostname: "::1", port: 0 });
  trackAll(listener);
  assert.equal(listener.addr.family, "IPv6");
  assert.equal(listener.addr.hostname, "::1");
  assert.ok(listener.addr.port > 0);
});

Deno.test('bind() accepts "localhost" as 127.0.0.1', () => {
  using listener = TcpListener.bind({ hostname: "localhost", port: 0 });
  trackAll(listener);
  assert.equal(listener.addr.hostname, "127.0.0.1");
});

Deno.test("bind() sets SO_REUSEADDR by default and not SO_REUSEPORT", () => {
  using a = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  using b = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reuseAddress: false });
  trackAll(a, b);
  assert.equal(a.reuseAddress(), true);
  assert.equal(a.reusePort(), false);
  assert.equal(b.reuseAddress(), false);
});

Deno.test("bind() with reusePort lets two listeners share one port, each accepting", async () => {
  using a = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reusePort: true });
  using b = TcpListener.bind({ hostname: "127.0.0.1", port: a.addr.port, reusePort: true });
  trackAll(a, b);
  assert.equal(b.addr.port, a.addr.port);
  assert.equal(a.reusePort(), true);
  assert.equal(b.reusePort(), true);
  // The kernel spreads connections by hash; connect until each listener has taken one (bounded).
  const streams: TcpStream[] = [];
  let fromA = 0, fromB = 0;
  try {
    for (let i = 0; i < 64 && (fromA === 0 || fromB === 0); i++) {
      const c = await TcpStream.connect({ hostname: "127.0.0.1", port: a.addr.port });
      streams.push(c);
      trackAll(c);
      // Exactly one of the two has the connection pending; which one is the kernel's choice.
      for (let j = 0; j < 100; j++) {
        const s = a.tryAccept() ?? b.tryAccept();
        if (s) {
          streams.push(s);
          trackAll(s);
          if (s.localAddr.port !== a.addr.port) assert.fail("accepted on another port");
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      fromA = a.stats().accepted;
      fromB = b.stats().accepted;
    }
    assert.ok(fromA > 0 && fromB > 0, `accepted: a=${fromA}, b=${fromB}`);
  } finally {
    for (const s of streams) s.close();
  }
});

Deno.test("bind() to a port held by a listener throws ErrnoError EADDRINUSE", () => {
  using a = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  trackAll(a);
  // SO_REUSEADDR on both does not allow two active listeners.
  assert.throws(
    () => TcpListener.bind({ hostname: "127.0.0.1", port: a.addr.port }),
    (e: unknown) =>
      isErrno("EADDRINUSE")(e) && (e as ErrnoError).syscall === "bind" &&
      e instanceof Deno.errors.AddrInUse &&
      (e as ErrnoError).message.startsWith(`bind 127.0.0.1:${a.addr.port} failed: EADDRINUSE`),
  );
  assert.throws(
    () => TcpListener.bind({ hostname: "127.0.0.1", port: a.addr.port, reuseAddress: false }),
    isErrno("EADDRINUSE"),
  );
});

Deno.test("bind() without SO_REUSEADDR on a port whose connection is in TIME_WAIT fails", async () => {
  // The side that closes first keeps the 4-tuple in TIME_WAIT; the listener's port is then
  // unavailable to a bind without SO_REUSEADDR, and available with it.
  const p = await pair();
  const port = p.listener.addr.port;
  p.listener.close();
  p.server.close(); // server closes first: TIME_WAIT on port `port`
  assert.equal(await p.client.read(new Uint8Array(1)), null);
  p.client.close();
  assert.throws(
    () => TcpListener.bind({ hostname: "127.0.0.1", port, reuseAddress: false }),
    isErrno("EADDRINUSE"),
  );
  using again = TcpListener.bind({ hostname: "127.0.0.1", port, reuseAddress: true });
  trackAll(again);
  assert.equal(again.addr.port, port);
});

Deno.test("bind() with backlog 1 queues two connections, and the third waits", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, backlog: 1 });
  trackAll(listener);
  const port = listener.addr.port;
  const clients: TcpStream[] = [];
  try {
    // Linux accepts backlog + 1 connections into a full queue before dropping SYNs.
    for (let i = 0; i < 2; i++) {
      const c = await TcpStream.connect({ hostname: "127.0.0.1", port, timeoutMs: 5000 });
      clients.push(c);
      trackAll(c);
    }
    await assert.rejects(
      TcpStream.connect({ hostname: "127.0.0.1", port, timeoutMs: 100 }),
      (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
    );
    // Accepting makes room again.
    using s = await listener.accept();
    trackAll(s);
    using c = await TcpStream.connect({ hostname: "127.0.0.1", port, timeoutMs: 5000 });
    trackAll(c);
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("bind() refuses bad options with TypeError/RangeError before any syscall", async () => {
  const bad: [unknown, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor][] = [
    [undefined, TypeError],
    [null, TypeError],
    ["127.0.0.1:80", TypeError],
    [{ hostname: "127.0.0.1" }, RangeError], // port missing
    [{ hostname: "127.0.0.1", port: -1 }, RangeError],
    [{ hostname: "127.0.0.1", port: 65536 }, RangeError],
    [{ hostname: "127.0.0.1", port: 80.5 }, RangeError],
    [{ hostname: "127.0.0.1", port: NaN }, RangeError],
    [{ hostname: "127.0.0.1", port: "80" }, RangeError],
    [{ hostname: "127.0.0.1", port: 0, backlog: 0 }, RangeError],
    [{ hostname: "127.0.0.1", port: 0, backlog: 65536 }, RangeError],
    [{ hostname: "127.0.0.1", port: 0, backlog: 1.5 }, RangeError],
    [{ hostname: 127001, port: 0 }, TypeError],
    [{ hostname: "", port: 0 }, TypeError],
    [{ hostname: "127.0.0.1 ", port: 0 }, TypeError],
    [{ hostname: "127.0.0.01", port: 0 }, TypeError], // leading zero: not a literal
    [{ hostname: "example.com", port: 0 }, TypeError], // bind takes literals only
    [{ hostname: "::1%lo", port: 0 }, TypeError],
  ];
  for (const [options, ctor] of bad) {
    await assertNoNewFd(() =>
      assert.throws(
        () => TcpListener.bind(options as { port: number }),
        ctor,
        JSON.stringify(options),
      )
    );
  }
});

// ---------------------------------------------------------------------------------------------
// connect, accept, read, write

Deno.test("connect() and accept() give a pair whose addresses mirror each other", async () => {
  for (const ipv6 of [false, true]) {
    await using p = await pair({ ipv6 });
    assert.deepEqual(p.client.remoteAddr, p.listener.addr);
    assert.deepEqual(p.server.localAddr, p.listener.addr);
    assert.deepEqual(p.server.remoteAddr, p.client.localAddr);
    assert.equal(p.client.localAddr.family, ipv6 ? "IPv6" : "IPv4");
  }
});

Deno.test("write() and read() carry bytes both ways; read() gives null at EOF", async () => {
  await using p = await pair();
  const buf = new Uint8Array(16);
  assert.equal(await p.client.write(encoder.encode("ping")), 4);
  assert.equal(await p.server.read(buf), 4);
  assert.equal(decoder.decode(buf.subarray(0, 4)), "ping");
  await p.server.writeAll(encoder.encode("pong"));
  assert.equal(await p.client.read(buf), 4);
  assert.equal(decoder.decode(buf.subarray(0, 4)), "pong");
  p.client.close();
  assert.equal(await p.server.read(buf), null);
  assert.equal(await p.server.read(buf), null); // EOF stays EOF
});

Deno.test("writeAll() delivers a payload larger than the socket buffers, intact", async () => {
  await using p = await pair();
  const payload = new Uint8Array(4 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
  const received = readToEnd(p.server);
  await p.client.writeAll(payload);
  p.client.closeWrite();
  const got = await received;
  assert.equal(got.byteLength, payload.byteLength);
  assert.deepEqual(got, payload);
});

Deno.test("tryRead() returns 0 when nothing is there, then the bytes, then null at EOF", async () => {
  await using p = await pair();
  const buf = new Uint8Array(8);
  assert.equal(p.server.tryRead(buf), 0);
  assert.equal(p.server.tryRead(new Uint8Array(0)), 0);
  await p.client.writeAll(encoder.encode("abc"));
  let n: number | null = 0;
  for (let i = 0; i < 1000 && n === 0; i++) {
    n = p.server.tryRead(buf);
    if (n === 0) await p.server.waitReadable();
  }
  assert.equal(n, 3);
  p.client.closeWrite();
  let eof: number | null = 0;
  for (let i = 0; i < 1000 && eof === 0; i++) {
    eof = p.server.tryRead(buf);
    if (eof === 0) await p.server.waitReadable();
  }
  assert.equal(eof, null);
});

Deno.test("tryWrite() returns 0 once the buffers are full, and writes again after a drain", async () => {
  await using p = await pair();
  const chunk = new Uint8Array(65536);
  let written = 0;
  let n = 1;
  // Bounded: loopback buffers are a few MiB at most.
  for (let i = 0; i < 4096 && n > 0; i++) {
    n = p.client.tryWrite(chunk);
    written += n;
  }
  assert.equal(n, 0, "the socket never reported would-block");
  assert.ok(written > 0);
  // Drain everything on the other side; the writer becomes writable again.
  const buf = new Uint8Array(1 << 20);
  let read = 0;
  while (read < written) {
    const r = await p.server.read(buf);
    assert.ok(r !== null);
    read += r;
  }
  await p.client.waitWritable();
  assert.ok(p.client.tryWrite(chunk) > 0);
});

Deno.test("closeWrite() half-closes: the peer reads EOF, the other direction still works", async () => {
  await using p = await pair();
  await p.client.writeAll(encoder.encode("request"));
  p.client.closeWrite();
  assert.equal(decoder.decode(await readToEnd(p.server)), "request");
  // The server can still answer, and the client can still read it.
  await p.server.writeAll(encoder.encode("response"));
  p.server.closeWrite();
  assert.equal(decoder.decode(await readToEnd(p.client)), "response");
  // Writing after closeWrite() is EPIPE (never SIGPIPE: the process is alive to see it).
  await assert.rejects(p.client.write(encoder.encode("x")), isErrno("EPIPE"));
});

Deno.test("connect() to a port nobody listens on rejects with ErrnoError ECONNREFUSED", async () => {
  const target = boundNotListening();
  try {
    for (let i = 0; i < 3; i++) {
      await assertNoNewFd(() =>
        assert.rejects(
          TcpStream.connect({ hostname: "127.0.0.1", port: target.port }),
          (e: unknown) =>
            isErrno("ECONNREFUSED")(e) && (e as ErrnoError).syscall === "connect" &&
            (e as ErrnoError).message ===
              `connect 127.0.0.1:${target.port} failed: ECONNREFUSED (Connection refused)` &&
            e instanceof Deno.errors.ConnectionRefused,
        )
      );
    }
  } finally {
    target.close();
  }
});

Deno.test("connect() refuses bad options with TypeError/RangeError before any syscall", async () => {
  const bad: [unknown, TypeErrorConstructor | RangeErrorConstructor][] = [
    [undefined, TypeError],
    [null, TypeError],
    [{ port: 80 }, TypeError], // hostname missing
    [{ hostname: 1, port: 80 }, TypeError],
    [{ hostname: "", port: 80 }, TypeError],
    [{ hostname: "a b", port: 80 }, TypeError],
    [{ hostname: "x".repeat(254), port: 80 }, TypeError],
    [{ hostname: "127.0.0.1", port: 0 }, RangeError],
    [{ hostname: "127.0.0.1", port: -1 }, RangeError],
    [{ hostname: "127.0.0.1", port: 65536 }, RangeError],
    [{ hostname: "127.0.0.1", port: 1.5 }, RangeError],
    [{ hostname: "127.0.0.1", port: "80" }, RangeError],
    [{ hostname: "127.0.0.1", port: 80, timeoutMs: -1 }, RangeError],
    [{ hostname: "127.0.0.1", port: 80, timeoutMs: NaN }, RangeError],
    [{ hostname: "127.0.0.1", port: 80, timeoutMs: Infinity }, RangeError],
    [{ hostname: "127.0.0.1", port: 80, timeoutMs: "5" }, RangeError],
  ];
  for (const [options, ctor] of bad) {
    await assertNoNewFd(() =>
      assert.rejects(
        TcpStream.connect(options as { hostname: string; port: number }),
        ctor,
        JSON.stringify(options),
      )
    );
  }
});

Deno.test("read/write refuse a buffer that is not a Uint8Array with TypeError", async () => {
  await using p = await pair();
  for (const bad of [new ArrayBuffer(8), "abc", [1, 2], new Uint16Array(4), null, undefined]) {
    const b = bad as unknown as Uint8Array;
    assert.throws(() => p.client.tryRead(b), TypeError);
    assert.throws(() => p.client.tryWrite(b), TypeError);
    await assert.rejects(p.client.read(b), TypeError);
    await assert.rejects(p.client.write(b), TypeError);
    await assert.rejects(p.client.writeAll(b), TypeError);
  }
  // Nothing was sent by any of those.
  assert.equal(p.server.tryRead(new Uint8Array(8)), 0);
});

Deno.test("connect() with timeoutMs rejects with TimeoutError and closes its socket", async () => {
  // A full accept queue (backlog 1 holds two) makes the kernel drop the next SYN: the connect
  // stays pending on loopback until the timeout fires. No timing is asserted.
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, backlog: 1 });
  trackAll(listener);
  const port = listener.addr.port;
  using a = await TcpStream.connect({ hostname: "127.0.0.1", port });
  using b = await TcpStream.connect({ hostname: "127.0.0.1", port });
  trackAll(a, b);
  assert.deepEqual(socketsInState("SYN_SENT"), []);
  await assert.rejects(
    TcpStream.connect({ hostname: "127.0.0.1", port, timeoutMs: 50 }),
    (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
  );
  // Its socket, still in SYN_SENT when the timeout fired, was closed.
  assert.deepEqual(socketsInState("SYN_SENT"), []);
});

Deno.test("connect() aborted by a signal rejects with the signal's reason and closes its socket", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, backlog: 1 });
  trackAll(listener);
  const port = listener.addr.port;
  using a = await TcpStream.connect({ hostname: "127.0.0.1", port });
  using b = await TcpStream.connect({ hostname: "127.0.0.1", port });
  trackAll(a, b);
  // Already aborted: refused before any socket exists.
  const reason = new Error("changed my mind");
  await assertNoNewFd(() =>
    assert.rejects(
      TcpStream.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.abort(reason) }),
      (e: unknown) => e === reason,
    )
  );
  // Aborted while the connect is pending: its socket (in SYN_SENT) is closed.
  const controller = new AbortController();
  const pending = TcpStream.connect({ hostname: "127.0.0.1", port, signal: controller.signal });
  for (let i = 0; i < 100 && socketsInState("SYN_SENT").length === 0; i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(socketsInState("SYN_SENT").length, 1);
  controller.abort(reason);
  await assert.rejects(pending, (e: unknown) => e === reason);
  assert.deepEqual(socketsInState("SYN_SENT"), []);
});

Deno.test("read() aborted by a signal rejects, and the stream stays usable", async () => {
  await using p = await pair();
  const controller = new AbortController();
  const buf = new Uint8Array(8);
  const pending = p.server.read(buf, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  await p.client.writeAll(encoder.encode("ok"));
  assert.equal(await p.server.read(buf), 2);
});

Deno.test("peer reset (linger 0, close) makes reads and writes reject; the process lives", async () => {
  {
    await using p = await pair();
    p.server.setLinger(0);
    p.server.close(); // RST instead of FIN
    await assert.rejects(p.client.read(new Uint8Array(8)), isErrno("ECONNRESET"));
    // The error was consumed by the read; the connection is dead, so a write is EPIPE.
    await assert.rejects(p.client.write(encoder.encode("x")), isErrno(["EPIPE", "ECONNRESET"]));
  }
  {
    await using p = await pair();
    p.server.setLinger(0);
    p.server.close();
    // Writes first: the first may still be accepted into the buffer before the RST is seen;
    // within a bounded number of writes one must fail, with MSG_NOSIGNAL keeping us alive.
    let error: unknown;
    for (let i = 0; i < 100 && error === undefined; i++) {
      try {
        await p.client.writeAll(encoder.encode("data"));
        await new Promise((r) => setTimeout(r, 1));
      } catch (e) {
        error = e;
      }
    }
    assert.ok(isErrno(["ECONNRESET", "EPIPE"])(error), String(error));
  }
});

Deno.test("a second concurrent read() rejects with BusyError; the first is unaffected", async () => {
  await using p = await pair();
  const first = p.server.read(new Uint8Array(8));
  await assert.rejects(p.server.read(new Uint8Array(8)), {
    name: "BusyError",
    message: "a read is already pending on this stream",
  });
  await p.client.writeAll(encoder.encode("x"));
  assert.equal(await first, 1);
});

Deno.test("thousands of writes and reads in a row, each ready at once, all complete in order", async () => {
  // Each operation that needs no wait takes a unit of the reactor's turn budget (64); a spent
  // budget defers the next one to the next turn, with or without an AbortSignal.
  await using p = await pair();
  const n = 3000;
  const signal = new AbortController().signal;
  for (let i = 0; i < n; i++) {
    assert.equal(await p.server.write(new Uint8Array([i & 0xff]), i % 2 ? { signal } : {}), 1);
  }
  const got = new Uint8Array(n);
  let filled = 0;
  for (let i = 0; i < n && filled < n; i++) {
    const r = await p.client.read(got.subarray(filled, filled + 1), i % 2 ? { signal } : {});
    assert.equal(r, 1);
    filled++;
  }
  assert.equal(filled, n);
  const wrong = got.findIndex((b, i) => b !== (i & 0xff));
  assert.equal(wrong, -1, `byte ${wrong} out of order`);
});

// ---------------------------------------------------------------------------------------------
// close

Deno.test("use after close throws ClosedError (code EBADF) for every operation", async () => {
  const p = await pair();
  p.client.close();
  p.listener.close();
  const b = new Uint8Array(8);
  const isClosed = (e: unknown): boolean => e instanceof ClosedError && e.code === "EBADF";
  const c = p.client;
  for (
    const op of [
      () => c.fd,
      () => c.tryRead(b),
      () => c.tryWrite(b),
      () => c.closeWrite(),
      () => c.localAddr,
      () => c.setNoDelay(true),
      () => c.noDelay(),
      () => c.tcpInfo(),
      () => c.tune({ noDelay: true }),
      () => p.listener.tryAccept(),
      () => p.listener.fd,
      () => p.listener.reuseAddress(),
    ]
  ) {
    assert.throws(op, isClosed, op.toString());
  }
  for (
    const op of [
      () => c.read(b),
      () => c.read(new Uint8Array(0)),
      () => c.write(b),
      () => c.write(new Uint8Array(0)),
      () => c.writeAll(b),
      () => c.writeAll(new Uint8Array(0)),
      () => c.waitReadable(),
      () => p.listener.accept(),
    ]
  ) {
    await assert.rejects(async () => await op(), isClosed, op.toString());
  }
  assert.equal(c.closed, true);
  assert.equal(p.listener.closed, true);
  p.server.close();
  assert.deepEqual(stillOpen(), []);
});

Deno.test("a closed stream never touches the socket that reuses its fd number", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  trackAll(listener);
  const port = listener.addr.port;
  const old = await TcpStream.connect({ hostname: "127.0.0.1", port });
  trackAll(old);
  using oldPeer = await listener.accept();
  trackAll(oldPeer);
  const number = old.fd;
  old.close();
  // The kernel hands out the lowest free number: the next socket very likely gets `number`.
  using fresh = await TcpStream.connect({ hostname: "127.0.0.1", port });
  trackAll(fresh);
  using freshPeer = await listener.accept();
  trackAll(freshPeer);
  const reused = fresh.fd === number;
  assert.equal(fresh.noDelay(), false);
  assert.throws(() => old.setNoDelay(true), ClosedError);
  assert.throws(() => old.tryWrite(encoder.encode("stray")), ClosedError);
  assert.throws(() => old.closeWrite(), ClosedError);
  // Nothing reached the new owner of the number.
  assert.equal(fresh.noDelay(), false);
  assert.equal(freshPeer.tryRead(new Uint8Array(8)), 0);
  await fresh.writeAll(encoder.encode("mine"));
  const buf = new Uint8Array(8);
  assert.equal(await freshPeer.read(buf), 4);
  if (!reused) console.log("(fd number not reused this run: another test file took it)");
});

Deno.test("close() twice is harmless, and a pending read rejects with ClosedError", async () => {
  const p = await pair();
  const pending = p.server.read(new Uint8Array(8));
  p.server.close();
  p.server.close();
  await assert.rejects(pending, ClosedError);
  p.client.close();
  p.client.close();
  p.listener.close();
  p.listener.close();
  assert.deepEqual(stillOpen(), []);
});

Deno.test("`using` closes streams and listeners at the end of the block", async () => {
  let outer: TcpStream;
  let outerListener: TcpListener;
  {
    using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using server = await listener.accept();
    trackAll(listener, client, server);
    outer = client;
    outerListener = listener;
    assert.equal(client.closed, false);
  }
  assert.equal(outer.closed, true);
  assert.equal(outerListener.closed, true);
  assert.deepEqual(stillOpen(), []);
});

Deno.test("async iteration over a listener ends when it is closed", async () => {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  trackAll(listener);
  const accepted: TcpStream[] = [];
  const loop = (async () => {
    for await (const s of listener) {
      trackAll(s);
      accepted.push(s);
      if (accepted.length === 2) listener.close();
    }
  })();
  using a = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using b = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  trackAll(a, b);
  await loop;
  assert.equal(accepted.length, 2);
  for (const s of accepted) s.close();
});

// ---------------------------------------------------------------------------------------------
// Web Streams

Deno.test("Web Streams: pipeTo() a stream's writable, TextDecoderStream over the readable", async () => {
  await using p = await pair();
  const parts = ["héllo ", "wörld", "; ", "x".repeat(100_000)];
  const source = ReadableStream.from(parts.map((s) => encoder.encode(s)));
  // pipeTo closes the writable at the end, which half-closes the stream (FIN).
  const sending = source.pipeTo(p.client.writable);
  let text = "";
  for await (const chunk of p.server.readable.pipeThrough(new TextDecoderStream())) {
    text += chunk;
  }
  await sending;
  assert.equal(text, parts.join(""));
  // The client can still read: the server answers over its own writable.
  const writer = p.server.writable.getWriter();
  await writer.write(encoder.encode("done"));
  await writer.close();
  assert.equal(decoder.decode(await readToEnd(p.client)), "done");
});

Deno.test("Web Streams: cancelling the readable closes the stream", async () => {
  const p = await pair();
  const reader = p.server.readable.getReader();
  await reader.cancel();
  assert.equal(p.server.closed, true);
  p.client.close();
  p.listener.close();
});

// ---------------------------------------------------------------------------------------------
// Permissions (subprocesses: each runs alone, so its fd counts are exact)

const PERMISSION_SCRIPT = `
import { Reactor, TcpListener, TcpStream } from ${
  JSON.stringify(new URL("../mod.ts", import.meta.url).href)
};
import { fdCount } from ${JSON.stringify(new URL("./helpers.ts", import.meta.url).href)};
const results = {};
const count = () => { try { return fdCount(); } catch { return null; } };
try { Reactor.default(); } catch (e) { results.reactor = e.name + ": " + e.message; }
const before = count();
try { TcpListener.bind({ hostname: "127.0.0.1", port: 0 }); results.bind = "no error"; }
catch (e) { results.bind = e.name + ": " + e.message; results.bindNotCapable = e instanceof Deno.errors.NotCapable; }
try { await TcpStream.connect({ hostname: "127.0.0.1", port: 9 }); results.connect = "no error"; }
catch (e) { results.connect = e.name + ": " + e.message; results.connectNotCapable = e instanceof Deno.errors.NotCapable; }
results.fdBefore = before;
results.fdAfter = count();
console.log(JSON.stringify(results));
`;

async function runScript(flags: string[]): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/permission.ts`;
    await Deno.writeTextFile(script, PERMISSION_SCRIPT);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", ...flags, script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = decoder.decode(out.stdout);
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    return JSON.parse(stdout.trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("without --allow-net, bind and connect throw Deno's NotCapable and open no socket", async () => {
  const r = await runScript(["--allow-ffi", "--allow-read"]);
  assert.equal(r.bindNotCapable, true, String(r.bind));
  assert.equal(r.connectNotCapable, true, String(r.connect));
  assert.match(String(r.bind), /--allow-net/);
  assert.match(String(r.bind), /127\.0\.0\.1:0/);
  assert.match(String(r.connect), /127\.0\.0\.1:9/);
  assert.equal(typeof r.fdBefore, "number");
  assert.equal(r.fdAfter, r.fdBefore);
});

Deno.test("without --allow-ffi, bind and connect fail with an error naming --allow-ffi", async () => {
  const r = await runScript(["--allow-net", "--allow-read"]);
  assert.match(String(r.reactor), /--allow-ffi/);
  assert.equal(r.bindNotCapable, true, String(r.bind));
  assert.match(String(r.bind), /--allow-ffi/);
  assert.equal(r.connectNotCapable, true, String(r.connect));
  assert.match(String(r.connect), /--allow-ffi/);
});

// ---------------------------------------------------------------------------------------------
// Leaks

Deno.test("500 connections opened and closed leave no descriptor behind", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  trackAll(listener);
  const port = listener.addr.port;
  const mine: Tracked[] = [];
  for (let i = 0; i < 500; i++) {
    const client = await TcpStream.connect({ hostname: "127.0.0.1", port });
    const server = await listener.accept();
    mine.push(track(client.fd), track(server.fd));
    if (i % 2 === 0) {
      // Exercise the reactor registration too: a read that has to wait.
      const pending = server.read(new Uint8Array(1));
      await client.writeAll(encoder.encode("x"));
      assert.equal(await pending, 1);
    }
    client.close();
    server.close();
  }
  assert.equal(mine.length, 1000);
  assert.deepEqual(stillOpen(mine), []);
});

Deno.test("every socket this file opened is closed, and the fd count is back to its start", () => {
  assert.ok(created.length > 1000);
  assert.deepEqual(stillOpen(), []);
  assert.equal(fdCount(), baseline);
});

Deno.test("TcpListener.bind without a hostname listens on loopback only", () => {
  using listener = TcpListener.bind({ port: 0 });
  assert.equal(listener.addr.hostname, "127.0.0.1");
});

/** Code written for Deno's own connections: one line over `conn`, read on `peer` to its end. */
async function lineOverDenoConn(conn: Deno.Conn, peer: Deno.Conn, line: string): Promise<string> {
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(line));
  writer.releaseLock();
  await conn.closeWrite();
  let text = "";
  for await (const chunk of peer.readable.pipeThrough(new TextDecoderStream())) text += chunk;
  return text;
}

Deno.test("a TcpStream is a Deno.TcpConn: code written for Deno's connections runs on netio's", async () => {
  await using pair = await tcpPair();
  // Compile-time: both ends are assignable to Deno.TcpConn (deno check fails otherwise).
  const client: Deno.TcpConn = pair.client;
  const server: Deno.TcpConn = pair.server;
  client.setNoDelay();
  client.setKeepAlive();
  assert.equal(pair.client.noDelay(), true, "setNoDelay() with no argument turns it on");
  assert.notEqual(pair.client.keepAlive(), false, "setKeepAlive() with no argument turns it on");
  assert.equal(client.localAddr.transport, "tcp");
  assert.equal(server.remoteAddr.port, client.localAddr.port);
  assert.equal(await lineOverDenoConn(client, server, "hello, Deno.Conn"), "hello, Deno.Conn");
  // And the same helper on Deno's own sockets, for comparison.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const denoClient = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const denoServer = await listener.accept();
  assert.equal(await lineOverDenoConn(denoClient, denoServer, "same"), "same");
  denoClient.close();
  try {
    denoServer.close();
  } catch {
    // Deno closed it when its readable reached the end
  }
  listener.close();
});

Deno.test("unref(): a pending read no longer keeps the process alive, as with Deno.Conn", async () => {
  const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
  const script = `
    import { TcpListener, TcpStream } from ${mod};
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    const client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await listener.accept();
    listener.close();
    server.unref();
    server.read(new Uint8Array(1)); // never answered: only unref lets the process end
    console.log("waiting");
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", "--allow-net=127.0.0.1", file],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(killer);
  await Deno.remove(file);
  assert.equal(
    out.code,
    0,
    `the process did not end on its own: ${new TextDecoder().decode(out.stderr)}`,
  );
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "waiting");
});

Deno.test("readable is a byte stream: a BYOB reader reads into its own buffer, as with Deno.Conn", async () => {
  await using pair = await tcpPair();
  const data = new Uint8Array(100_000).map((_, i) => i % 251);
  const writing = pair.client.writeAll(data).then(() => pair.client.closeWrite());
  const reader = pair.server.readable.getReader({ mode: "byob" });
  let buf = new ArrayBuffer(4096);
  const got = new Uint8Array(data.length);
  let total = 0;
  for (let i = 0; i < 10_000; i++) {
    const { value, done } = await reader.read(new Uint8Array(buf));
    if (done) break;
    assert.ok(value.byteLength <= 4096, "a chunk larger than the reader's buffer");
    got.set(value, total);
    total += value.byteLength;
    buf = value.buffer; // the same memory comes back, transferred: reused for the next read
  }
  await writing;
  reader.releaseLock();
  assert.equal(total, data.length);
  assertSameBytes(got, data, "bytes read through the BYOB reader");
});

// ---------------------------------------------------------------------------------------------
// Out of descriptors (a subprocess with a low RLIMIT_NOFILE, filled up to the limit)

const EMFILE_SCRIPT = `
import { TcpListener, TcpStream } from ${
  JSON.stringify(new URL("../mod.ts", import.meta.url).href)
};
const r = {};
const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.port;
// Fill the descriptor table, then free one for the client's socket: the table is full again.
const fillers = [];
for (let i = 0; i < 4096; i++) {
  try { fillers.push(Deno.openSync("/dev/null")); } catch (e) { r.fillError = e.code; break; }
}
fillers.pop().close();
const client = await TcpStream.connect({ hostname: "127.0.0.1", port });
// accept4 says EMFILE: the pending connection is accepted on the spare fd and closed.
r.tryAccept = listener.tryAccept();
r.stats = listener.stats();
// The peer sees the close (FIN), and a second try finds nothing pending and does not throw.
r.clientRead = await client.read(new Uint8Array(8));
r.again = listener.tryAccept();
r.statsAgain = listener.stats();
// Room again: the spare was taken back, and a waiting accept() gets the next connection.
for (const f of fillers) f.close();
const accepting = listener.accept();
const second = await TcpStream.connect({ hostname: "127.0.0.1", port });
const accepted = await accepting;
await second.write(new TextEncoder().encode("hi"));
const got = new Uint8Array(2);
r.secondRead = await accepted.read(got);
r.secondBytes = new TextDecoder().decode(got);
r.statsEnd = listener.stats();
client.close(); second.close(); accepted.close(); listener.close();
console.log(JSON.stringify(r));
`;

Deno.test("at the fd limit (EMFILE) a pending connection is accepted and closed, then accepting resumes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/emfile.ts`;
    await Deno.writeTextFile(script, EMFILE_SCRIPT);
    // ulimit lowers the soft limit for the child only. --allow-all: the child also reads
    // /dev/null and (under `deno task mutants`) the environment.
    const cmd = `ulimit -n 256 && exec "$0" run --no-config --allow-all "$1"`;
    const out = await new Deno.Command("bash", {
      args: ["-c", cmd, Deno.execPath(), script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    const r = JSON.parse(decoder.decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(r.fillError, "EMFILE", "the descriptor table never filled up");
    assert.equal(r.tryAccept, null, "tryAccept() at EMFILE returned a stream");
    assert.deepEqual(r.stats, { accepted: 0, droppedAtFdLimit: 1 });
    assert.equal(r.clientRead, null, "the dropped connection was not closed (no EOF)");
    assert.equal(r.again, null);
    assert.deepEqual(r.statsAgain, { accepted: 0, droppedAtFdLimit: 1 });
    assert.equal(r.secondRead, 2);
    assert.equal(r.secondBytes, "hi");
    assert.deepEqual(r.statsEnd, { accepted: 1, droppedAtFdLimit: 1 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// What errors say: the operation or syscall, and the argument at fault

Deno.test("errors name what failed: the buffer argument, the syscall, the operation after close", async () => {
  const p = await tcpPair();
  const s = p.server;
  // Empty buffers: 0 at once, nothing read or written.
  assert.equal(await s.read(new Uint8Array(0)), 0);
  assert.equal(await s.write(new Uint8Array(0)), 0);
  assert.equal(s.tryRead(new Uint8Array(0)), 0);
  assert.equal(s.tryWrite(new Uint8Array(0)), 0);
  const bad = "x" as unknown as Uint8Array;
  for (
    const [what, call] of [
      ["tryRead buffer", () => s.tryRead(bad)],
      ["tryWrite buffer", () => s.tryWrite(bad)],
      ["read buffer", () => s.read(bad)],
      ["write buffer", () => s.write(bad)],
      ["writeAll buffer", () => s.writeAll(bad)],
    ] as const
  ) {
    await assert.rejects(async () => await call(), {
      name: "TypeError",
      message: new RegExp(`^${what} must be a Uint8Array`),
    });
  }
  await assert.rejects(TcpStream.connect(null as never), {
    name: "TypeError",
    message: "TcpStream.connect expects an options object",
  });
  await assert.rejects(
    TcpStream.connect({ hostname: "127.0.0.1", port: p.listener.addr.port, timeoutMs: -1 }),
    { name: "RangeError", message: "timeoutMs must be a non-negative finite number, got -1" },
  );
  // A reset peer: the failing syscall is named.
  p.client.setLinger(0);
  p.client.close();
  const got = await s.read(new Uint8Array(8)).then(() => null, (e) => e);
  assert.ok(got instanceof ErrnoError, `a read from a reset peer gave ${String(got)}`);
  assert.equal(got.syscall, "recv");
  assert.equal(got.code, "ECONNRESET");
  const sent = (() => {
    try {
      s.tryWrite(new Uint8Array(1));
    } catch (e) {
      return e;
    }
  })();
  assert.ok(sent instanceof ErrnoError, `a write to a reset peer gave ${String(sent)}`);
  assert.equal(sent.syscall, "send");
  // After close: the operation attempted.
  s.close();
  p.listener.close();
  for (
    const [operation, call] of [
      ["read", () => s.tryRead(new Uint8Array(1))],
      ["write", () => s.tryWrite(new Uint8Array(1))],
      ["read", () => s.read(new Uint8Array(0))],
      ["write", () => s.write(new Uint8Array(0))],
      ["write", () => s.writeAll(new Uint8Array(0))],
      ["accept", () => p.listener.tryAccept()],
    ] as const
  ) {
    await assert.rejects(async () => await call(), (e) => {
      assert.ok(e instanceof ClosedError, String(e));
      assert.equal(e.syscall, operation);
      return true;
    });
  }
});

Deno.test("close() while a read and an accept wait rejects both with ClosedError naming them", async () => {
  const p = await tcpPair();
  const reading = p.server.read(new Uint8Array(8));
  const listening = p.listener.accept();
  p.server.close();
  p.listener.close();
  for (const [operation, pending] of [["read/write", reading], ["accept", listening]] as const) {
    await assert.rejects(pending, (e) => {
      assert.ok(e instanceof ClosedError, String(e));
      assert.equal(e.syscall, operation);
      return true;
    });
  }
  p.client.close();
});

// ---------------------------------------------------------------------------------------------
// Readiness interest

Deno.test("data arriving while nobody reads wakes the reactor once, and a later read still sees new data", async () => {
  // A direction whose edge comes while nobody waits on it leaves the epoll interest set, so a
  // peer that keeps sending to an idle reader costs one event, not one per arrival; a read that
  // has to wait puts it back.
  const reactor = new Reactor();
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reactor });
  const client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    reactor,
  });
  const server = await listener.accept();
  try {
    await server.waitWritable(); // registers the server socket, waiting for nothing
    const before = reactor.stats().events;
    const sends = 200;
    for (let i = 0; i < sends; i++) {
      assert.equal(client.tryWrite(new Uint8Array([i])), 1);
      reactor.poll(); // loopback delivers during send(2): dispatch what that arrival caused
    }
    const events = reactor.stats().events - before;
    assert.ok(events <= 3, `${events} events for ${sends} arrivals nobody waited for`);
    const buf = new Uint8Array(1024);
    let got = 0;
    for (let i = 0; i < sends && got < sends; i++) got += (await server.read(buf)) ?? 0;
    assert.equal(got, sends);
    // Drained (a short read): the next read waits for an edge, which needs the interest back.
    const reading = server.read(buf, { signal: AbortSignal.timeout(20_000) });
    assert.equal(client.tryWrite(new Uint8Array([7])), 1);
    assert.equal(await reading, 1, "the read after the idle period never saw the new byte");
    assert.equal(buf[0], 7);
  } finally {
    client.close();
    server.close();
    listener.close();
    await reactor.close();
  }
});

Deno.test("connect() errors: a synchronous ENETUNREACH names the address; shutdown after a reset names shutdown", async () => {
  // TCP refuses a multicast destination inside connect(2) itself (tcp_v4_connect: ENETUNREACH).
  await assert.rejects(TcpStream.connect({ hostname: "224.0.0.1", port: 80 }), (e) => {
    assert.ok(e instanceof ErrnoError, String(e));
    assert.equal(e.code, "ENETUNREACH");
    assert.equal(e.syscall, "connect");
    assert.match(e.message, /224\.0\.0\.1:80/);
    return true;
  });
  await assert.rejects(TcpStream.connect("127.0.0.1:80" as never), {
    name: "TypeError",
    message: "TcpStream.connect expects an options object",
  });
  // timeoutMs 0 is allowed (the connect may win or time out, but it is no RangeError).
  const p = await tcpPair();
  const outcome = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: p.listener.addr.port,
    timeoutMs: 0,
  }).then((s) => (s.close(), "connected"), (e) => e);
  assert.ok(!(outcome instanceof RangeError), `timeoutMs: 0 refused: ${String(outcome)}`);
  p.client.setLinger(0);
  p.client.close();
  await assert.rejects(p.server.read(new Uint8Array(1)), { code: "ECONNRESET" });
  assert.throws(() => p.server.closeWrite(), (e) => {
    assert.ok(e instanceof ErrnoError, String(e));
    assert.equal(e.syscall, "shutdown");
    assert.equal(e.code, "ENOTCONN");
    return true;
  });
  p.server.close();
  p.listener.close();
});

Deno.test("a stream's reactor is the one it was made with", async () => {
  const reactor = new Reactor();
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reactor });
  const client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    reactor,
  });
  const server = await listener.accept();
  assert.equal(server.reactor, reactor);
  assert.equal(client.reactor, reactor);
  assert.equal(listener.reactor, reactor);
  client.close();
  server.close();
  listener.close();
  await reactor.close();
});

Deno.test("ref() after unref(): a pending read keeps the process alive again", async () => {
  // The answer comes from an unref'd timer, which fires only while something else keeps the
  // process alive: here, the ref'd pending read and nothing else.
  const script = `
    import { TcpListener, TcpStream } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    const client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await listener.accept();
    server.unref();
    server.ref();
    const reading = server.read(new Uint8Array(1));
    Deno.unrefTimer(setTimeout(() => client.tryWrite(new Uint8Array([5])), 20));
    console.log("read", await reading);
    client.close(); server.close(); listener.close();
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-net=127.0.0.1", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(out.stdout).trim(),
      "read 1",
      `the process ended before the read: ${new TextDecoder().decode(out.stderr)}`,
    );
    assert.equal(out.code, 0);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("the Web WritableStream: close() after the stream closed resolves; abort() closes the stream", async () => {
  const p = await tcpPair();
  const writer = p.server.writable.getWriter();
  await writer.write(new Uint8Array([1]));
  p.server.close();
  await writer.close(); // the stream is gone already: nothing to shut down, no ClosedError
  const other = p.client.writable.getWriter();
  await other.abort(new Error("stop"));
  assert.equal(p.client.closed, true, "abort() left the stream open");
  p.listener.close();
});

Deno.test("a write waiting for room: a second one is BusyError, close() rejects the first with ClosedError", async () => {
  const p = await tcpPair();
  p.server.setSendBufferSize(4096);
  p.client.setRecvBufferSize(4096);
  // Fill both buffers (bounded: they hold well under 64 MiB).
  const chunk = new Uint8Array(65536);
  let filled = 0;
  for (let i = 0; i < 1024; i++) {
    const n = p.server.tryWrite(chunk);
    if (n === 0) break;
    filled += n;
  }
  assert.ok(filled > 0 && p.server.tryWrite(chunk) === 0, "the send buffer never filled");
  const waiting = p.server.write(chunk);
  await assert.rejects(p.server.write(chunk), {
    name: "BusyError",
    message: "a write is already pending on this stream",
  });
  p.server.close();
  await assert.rejects(waiting, (e) => {
    assert.ok(e instanceof ClosedError, String(e));
    assert.equal(e.syscall, "read/write");
    return true;
  });
  p.client.close();
  p.listener.close();
});
