/**
 * The HTTP server under faults, over real loopback sockets: one connection flooding the server
 * (the per-connection read cap keeps the others served), clients that reset while the server holds
 * their pending output or runs their handler, and a storm of signals during traffic.
 *
 * Responses are read with a strict reader of this file's own (not netio's ResponseParser), bodies
 * compared byte by byte with {@linkcode assertSameBytes}, descriptors checked by identity (device
 * and inode) rather than by count, and every wait is bounded.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  FixedResponse,
  type HttpRequest,
  type HttpResponse,
  type HttpServer,
  Reactor,
  serveHttp,
  TcpStream,
} from "../mod.ts";
import { O_CLOEXEC, O_RDONLY } from "../ffi/constants.ts";
import { sysClose, sysFstat, sysOpen } from "../ffi/libc.ts";
import { STAT_SIZE } from "../ffi/structs.ts";
import { sockAddr } from "../lib/net/_sockaddr.ts";
import { assertSameBytes, randomBytes, readStrictResponse, until } from "./helpers.ts";

Reactor.default(); // owns its fds for the process lifetime

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const enc = (s: string): Uint8Array<ArrayBuffer> => encoder.encode(s);
const GET = (target: string, extra = ""): string =>
  `GET ${target} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => open = resolve);
  return { promise, open };
}

/** Settles with `promise`, or fails the test after `ms` (the timer is always cleared). */
async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Descriptors by identity

const statBuf = new Uint8Array(STAT_SIZE);
const DEV_NULL = enc("/dev/null\0");

/** st_dev and st_ino of an open descriptor (what it is, not just its number), or null. */
function identity(fd: number): string | null {
  if (sysFstat(fd, statBuf) < 0) return null;
  return Array.from(statBuf.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A descriptor and what it pointed to when recorded. */
interface FdIdentity {
  fd: number;
  id: string;
}

/**
 * The server's side of a client connection, found among this process's descriptors: the socket
 * whose local port is the server's and whose peer port is the client's local port.
 */
function serverSideOf(server: HttpServer, clientPort: number): FdIdentity {
  const found: number[] = [];
  for (let fd = 3; fd < 4096; fd++) {
    try {
      if (sockAddr(fd, false).port !== server.addr.port) continue;
      if (sockAddr(fd, true).port === clientPort) found.push(fd);
    } catch {
      // not a socket, not connected, or not open
    }
  }
  assert.equal(found.length, 1, `server-side sockets for client port ${clientPort}: ${found}`);
  const fd = found[0]!;
  return { fd, id: identity(fd)! };
}

function assertClosed(recorded: FdIdentity, what: string): void {
  assert.notEqual(
    identity(recorded.fd),
    recorded.id,
    `${what}: fd ${recorded.fd} still refers to the same socket (leaked)`,
  );
}

// ---------------------------------------------------------------------------------------------
// An independent, strict response reader

interface Response {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

/** Reads responses from a connection (netio's TcpStream or Deno's TcpConn). */
class ResponseReader {
  #source: { read(buf: Uint8Array): Promise<number | null> };
  #buf = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;
  /** Every byte read so far. */
  received = 0;

  constructor(source: { read(buf: Uint8Array): Promise<number | null> }) {
    this.#source = source;
  }

  /** Bytes read but not yet taken as a response. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Reads once more; false at EOF. */
  async fill(): Promise<boolean> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#buf.length, 2 * (this.#end - this.#start)));
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = grown;
    }
    const n = await this.#source.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    this.received += n;
    return true;
  }

  /** The next response; null at EOF between responses (EOF inside one throws). */
  async next(): Promise<Response | null> {
    for (;;) {
      const r = readStrictResponse(this.#buf, this.#start, this.#end, false);
      if (r !== 0) {
        this.#start += r.consumed;
        return { status: r.status, headers: r.headers, body: r.body.slice() };
      }
      if (!(await this.fill())) {
        if (this.#start === this.#end) return null;
        throw new Error(`EOF inside a response: ${this.#end - this.#start} bytes left over`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fairness: the per-connection read cap

/** One flood request: ~4 KiB, so that 16 reads of 64 KiB hold a few hundred of them. */
const FLOOD_REQUEST = enc(GET("/flood", `X-Pad: ${"p".repeat(4000)}\r\n`));
/** 6 MiB of pipelined requests: several times what 16 reads of 64 KiB take. */
const FLOOD_COUNT = Math.ceil((6 << 20) / FLOOD_REQUEST.length);
const NO_CONTENT = new FixedResponse(204);
const OK = new FixedResponse(200, { body: "ok" });

Deno.test("a flooding connection cannot starve another: its reads per wake-up are capped", async () => {
  const floodGate = gate();
  const OTHER_REQUEST = enc(GET("/other"));
  /** The other client, once connected (the handler writes its request). */
  const clients: { other?: TcpStream } = {};
  let flooded = 0;
  /** Flood requests answered when the other client's request was (answered in that batch). */
  let floodedWhenOtherServed = -1;
  await using server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    onError: () => {},
    handler: (request: HttpRequest): HttpResponse | Promise<HttpResponse> => {
      switch (request.path) {
        case "/flood":
          // The other client's request reaches the kernel while the server is busy with the
          // flood (a synchronous send, from inside the flood's first batch).
          if (++flooded === 1) {
            assert.equal(clients.other!.tryWrite(OTHER_REQUEST), OTHER_REQUEST.length);
          }
          return NO_CONTENT;
        case "/hold-flood":
          return floodGate.promise.then(() => OK);
        case "/other":
          floodedWhenOtherServed = flooded;
          return OK;
      }
      return { status: 404, body: "not found\n" };
    },
  });
  const port = server.addr.port;
  using flooder = await TcpStream.connect({ hostname: "127.0.0.1", port });
  // Room in the kernel for the whole flood (the server does not read it until the gate opens),
  // and for its answers (this client does not read them until the end).
  flooder.setSendBufferSize(8 << 20);
  flooder.setRecvBufferSize(4 << 20);
  using other = clients.other = await TcpStream.connect({ hostname: "127.0.0.1", port });
  await until(() => server.stats().accepted === 2, "both connections to be accepted");

  // While a handler runs the server does not read its connection: the whole flood is in the
  // kernel's buffers when it finishes, every read then fills the 64 KiB buffer.
  await flooder.writeAll(enc(GET("/hold-flood")));
  await until(() => server.stats().pendingHandlers === 1, "the flooder's handler to start");
  const flood = new Uint8Array(FLOOD_COUNT * FLOOD_REQUEST.length);
  assert.ok(
    flooder.sendBufferSize() > flood.length,
    `SO_SNDBUF is ${flooder.sendBufferSize()} bytes, too small to hold the ${flood.length}-byte ` +
      `flood in the kernel (this test needs net.core.wmem_max >= 4 MiB)`,
  );
  for (let i = 0; i < FLOOD_COUNT; i++) flood.set(FLOOD_REQUEST, i * FLOOD_REQUEST.length);
  await bounded(
    flooder.writeAll(flood),
    10_000,
    `writing the ${flood.length}-byte flood into the kernel's buffers`,
  );
  floodGate.open();

  const otherReader = new ResponseReader(other);
  const answer = await bounded(otherReader.next(), 10_000, "the answer to /other");
  assert.equal(answer?.status, 200, "the answer to /other");
  assert.ok(floodedWhenOtherServed > 0, "the other request was not sent during the flood");
  assert.ok(
    floodedWhenOtherServed < FLOOD_COUNT,
    `the server answered all ${FLOOD_COUNT} pipelined flood requests before the other ` +
      `client's one request, sent after the first: one connection's reads were not capped`,
  );

  // The flood is then answered whole, in order, each exactly once.
  const floodReader = new ResponseReader(flooder);
  const first = await bounded(floodReader.next(), 10_000, "the flooder's first answer");
  assert.equal(first?.status, 200);
  for (let i = 0; i < FLOOD_COUNT; i++) {
    const r = await bounded(floodReader.next(), 10_000, `flood answer ${i}`);
    assert.equal(r?.status, 204, `flood answer ${i} of ${FLOOD_COUNT}`);
  }
  assert.equal(flooded, FLOOD_COUNT);
  assert.equal(floodReader.buffered, 0, "bytes after the last flood answer");
});

// ---------------------------------------------------------------------------------------------
// Resets while the server holds output or runs a handler

/** A body larger than the batch's copy limit (16 KiB): sent by reference, batched by writev. */
const BIG = randomBytes((256 << 10) + 1);

Deno.test("a reset in the middle of a batched write closes the connection, leaks nothing, and the server goes on", async () => {
  await using server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    onError: () => {},
    handler: (request: HttpRequest): HttpResponse => {
      if (request.path === "/big") return { body: BIG };
      if (request.path === "/") return OK;
      return { status: 404, body: "not found\n" };
    },
  });
  const port = server.addr.port;
  // 64 answers of 256 KiB: 16 MiB, more than the kernel buffers between the server and a client
  // that stops reading, so the server must hold output (4 answers per writev batch).
  const REQUESTS = 64;
  const client = await TcpStream.connect({ hostname: "127.0.0.1", port });
  let serverSide: FdIdentity;
  try {
    await client.writeAll(enc(GET("/big").repeat(REQUESTS)));
    await until(() => server.stats().requests > 0, "the server to start answering");
    serverSide = serverSideOf(server, client.localAddr.port);
    // Read one answer and part of the next, so the reset lands in a batch partly written.
    const reader = new ResponseReader(client);
    const first = await bounded(reader.next(), 10_000, "the first answer");
    assert.equal(first?.status, 200);
    assertSameBytes(first!.body, BIG, "the first answer's body");
    while (reader.buffered < BIG.length / 2) {
      assert.ok(await bounded(reader.fill(), 10_000, "part of the second answer"));
    }
    // Every request was read with the first (one small write, one recv), so an unanswered one
    // proves the server is holding output back for this client.
    const before = server.stats();
    assert.ok(before.requests < REQUESTS, `all ${REQUESTS} answered: no output was pending`);
    client.setLinger(0);
    client.close();
    await until(() => server.stats().connections === 0, "the server to close the reset connection");
    assert.equal(server.stats().resets, before.resets + 1, "stats().resets: the reset not counted");
  } finally {
    client.close();
  }
  assertClosed(serverSide, "the reset connection");

  // A fresh client (Deno's own socket) is served correctly, likely on the same fd number.
  const fresh = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await fresh.write(enc(GET("/big") + GET("/", "Connection: close\r\n")));
    const reader = new ResponseReader(fresh);
    const big = await bounded(reader.next(), 10_000, "the fresh client's /big");
    assert.equal(big?.status, 200);
    assertSameBytes(big!.body, BIG, "the fresh client's /big body");
    const ok = await bounded(reader.next(), 10_000, "the fresh client's /");
    assert.equal(ok === null ? null : decoder.decode(ok.body), "ok");
    assert.equal(await bounded(reader.next(), 10_000, "the fresh client's EOF"), null);
  } finally {
    fresh.close();
  }
  await until(() => server.stats().connections === 0, "the fresh connection to close");
});

Deno.test("a reset while an async handler runs: the late answer is dropped, never written to the fd's next owner", async () => {
  const slow = gate();
  let lateAnswers = 0;
  // One connection at a time: the next client waits in the backlog, so the server accepts it
  // right after closing the reset one, and accept(2) hands it the lowest free number, the same.
  await using server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    maxConnections: 1,
    onError: () => {},
    handler: (request: HttpRequest): HttpResponse | Promise<HttpResponse> => {
      if (request.path === "/slow") {
        return slow.promise.then(() => {
          lateAnswers++;
          return { body: "LATE ANSWER FOR THE RESET CLIENT" };
        });
      }
      return { body: `answer for ${request.target}` };
    },
  });
  const port = server.addr.port;
  const resetClient = await TcpStream.connect({ hostname: "127.0.0.1", port });
  let old: FdIdentity;
  let placeholder = -1;
  const next = await (async () => {
    try {
      await resetClient.writeAll(enc(GET("/slow")));
      await until(() => server.stats().pendingHandlers === 1, "the slow handler to start");
      old = serverSideOf(server, resetClient.localAddr.port);
      // Connected in the kernel's backlog, its first request already sent; not yet accepted.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(enc(GET("/first")));
      assert.equal(server.stats().acceptPaused, true, "the listener should be paused at the cap");
      const before = server.stats().resets;
      resetClient.setLinger(0);
      resetClient.close();
      // The client's own number is free now, below the server's: hold it, so that the lowest
      // free number when the server accepts is the one it just closed.
      placeholder = sysOpen(DEV_NULL, O_RDONLY | O_CLOEXEC);
      assert.ok(placeholder >= 0, "open /dev/null");
      await until(
        () => server.stats().resets === before + 1 && server.stats().accepted === 2,
        "the reset to be seen and the next client accepted",
      );
      return conn;
    } finally {
      resetClient.close();
      if (placeholder >= 0) sysClose(placeholder);
    }
  })();
  try {
    const reader = new ResponseReader(next);
    const first = await bounded(reader.next(), 10_000, "the next client's first answer");
    assert.equal(first === null ? null : decoder.decode(first.body), "answer for /first");
    const reused = serverSideOf(server, next.localAddr.port);
    assertClosed(old!, "the reset connection");
    assert.equal(
      reused.fd,
      old!.fd,
      `the next connection got fd ${reused.fd}, not the reset one's ${old!.fd}: the test ` +
        `cannot show that the late answer misses the reused number`,
    );

    // The reset connection's handler finishes now, with its number owned by `next`.
    slow.open();
    await until(
      () => lateAnswers === 1 && server.stats().pendingHandlers === 0,
      "the slow handler to finish",
    );
    await next.write(enc(GET("/second", "Connection: close\r\n")));
    const second = await bounded(reader.next(), 10_000, "the next client's second answer");
    assert.equal(
      second === null ? null : decoder.decode(second.body),
      "answer for /second",
      "the next client got a response that is not its own",
    );
    assert.equal(await bounded(reader.next(), 10_000, "EOF"), null, "bytes after the last answer");
  } finally {
    next.close();
  }
  await until(() => server.stats().connections === 0, "the next connection to close");
});

// ---------------------------------------------------------------------------------------------
// Signals during traffic

/**
 * Three signals, so that one is often pending on the main thread when the next comes: Linux then
 * hands it to another thread (the main thread is preferred while it has none pending), such as
 * the one blocked in the reactor's parked epoll_wait.
 */
const STORM_SIGNALS: Deno.Signal[] = ["SIGUSR1", "SIGUSR2", "SIGWINCH"];
/** Their bits in /proc's pending masks (signal n is bit n - 1): SIGUSR1 10, SIGUSR2 12, SIGWINCH 28. */
const STORM_MASK = (1n << 9n) | (1n << 11n) | (1n << 27n);

/** sigpending(2): the signals pending for this thread or the whole process. */
const sigpending = Deno.dlopen("libc.so.6", {
  sigpending: { parameters: ["buffer"], result: "i32" },
}).symbols.sigpending;

/** Whether a storm signal is still pending (sent, not yet taken by a thread). */
function stormSignalPending(): boolean {
  const set = new BigUint64Array(16); // sigset_t: 1024 bits
  if (sigpending(new Uint8Array(set.buffer)) !== 0) return false;
  return (set[0]! & STORM_MASK) !== 0n;
}

/**
 * A signal storm from a child process during traffic. On nonblocking sockets recv/send/writev
 * never fail with EINTR (Linux checks the zero timeout before pending signals), so the storm
 * reaches only the syscalls that do sleep: the reactor's parked epoll_wait (never restarted, even
 * with SA_RESTART) and Deno's own. Every answer must still arrive exactly once, byte for byte.
 * Measured: most runs never interrupt the reactor's parked wait (the runtime thread takes nearly
 * every signal), so this proves exact traffic under signals, not that path's EINTR handling.
 */
Deno.test("under a storm of signals, every request is answered exactly once, byte for byte", async () => {
  const CLIENTS = 4;
  const ROUNDS = 40;
  let handled = 0;
  await using server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    onError: () => {},
    handler: (request: HttpRequest): HttpResponse | Promise<HttpResponse> => {
      handled++;
      if (request.path === "/big") return { body: BIG };
      if (request.path === "/echo") return { body: request.body.slice() };
      if (request.path === "/later") {
        // Answered from a timer: the reactor parks meanwhile, where signals interrupt it.
        const target = request.target;
        return new Promise((resolve) => setTimeout(() => resolve({ body: target }), 1));
      }
      return { body: request.target };
    },
  });
  const port = server.addr.port;

  let signals = 0;
  const onSignal = (): void => void signals++;
  for (const signal of STORM_SIGNALS) Deno.addSignalListener(signal, onSignal);
  // A bounded loop (at most 2 million rounds); ended by this test as soon as the traffic is done.
  const storm = new Deno.Command("sh", {
    args: [
      "-c",
      'i=0; while [ "$i" -lt 2000000 ]; do kill -USR1 "$1" && kill -USR2 "$1" && kill -WINCH "$1" || exit 3; i=$((i+1)); done',
      "storm",
      String(Deno.pid),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stormStatus: Deno.CommandStatus | undefined;
  try {
    await until(() => signals > 0, "the first signal");
    const signalsBefore = signals;
    const client = async (id: number): Promise<number> => {
      const conn = await TcpStream.connect({ hostname: "127.0.0.1", port });
      let answered = 0;
      try {
        const reader = new ResponseReader(conn);
        for (let round = 0; round < ROUNDS; round++) {
          const body = randomBytes(1 + ((id * 7919 + round * 104729) % 20000));
          const last = round === ROUNDS - 1;
          const head = enc(
            GET(`/small/${id}/${round}`) + GET("/big") +
              `POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          const tail = enc(GET(`/later/${id}/${round}`, last ? "Connection: close\r\n" : ""));
          const request = new Uint8Array(head.length + body.length + tail.length);
          request.set(head);
          request.set(body, head.length);
          request.set(tail, head.length + body.length);
          await conn.writeAll(request);
          const what = `client ${id} round ${round}`;
          const small = await bounded(reader.next(), 10_000, `${what}: /small`);
          assert.equal(small && decoder.decode(small.body), `/small/${id}/${round}`, what);
          const big = await bounded(reader.next(), 10_000, `${what}: /big`);
          assert.ok(big !== null, `${what}: /big missing`);
          assertSameBytes(big.body, BIG, `${what}: /big`);
          const echo = await bounded(reader.next(), 10_000, `${what}: /echo`);
          assert.ok(echo !== null, `${what}: /echo missing`);
          assertSameBytes(echo.body, body, `${what}: /echo`);
          const later = await bounded(reader.next(), 10_000, `${what}: /later`);
          assert.equal(later && decoder.decode(later.body), `/later/${id}/${round}`, what);
          answered += 4;
        }
        assert.equal(await bounded(reader.next(), 10_000, `client ${id}: EOF`), null);
      } finally {
        conn.close();
      }
      return answered;
    };
    const answered = await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id)));
    const signalsDuring = signals - signalsBefore;
    assert.deepEqual(answered, Array(CLIENTS).fill(4 * ROUNDS));
    assert.equal(handled, CLIENTS * ROUNDS * 4, "requests handled (none lost, none twice)");
    assert.ok(signalsDuring > 0, "no signal arrived while the clients ran");
    // The storm outlived the traffic: it is still running when it is ended here.
    storm.kill("SIGTERM");
    stormStatus = await storm.status;
    assert.equal(stormStatus.signal, "SIGTERM", "the storm ended before the traffic did");
  } finally {
    if (stormStatus === undefined) {
      try {
        storm.kill("SIGTERM");
      } catch {
        // already exited
      }
      await storm.status;
    }
    await storm.stderr.cancel();
    // The storm is gone, but a signal it sent may still be pending: removing the last listener
    // restores the default action (terminate), so wait (bounded) until none is pending.
    await until(() => !stormSignalPending(), "the storm's last signals to be delivered");
    for (const signal of STORM_SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
  await until(() => server.stats().connections === 0, "the clients' connections to close");
});
