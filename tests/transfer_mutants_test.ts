/**
 * sendFile, splice and proxy: the edges the main transfer tests leave open, each written to fail
 * when one branch or counter of lib/transfer/ is broken (issue 12's mutation runs): the errors'
 * wording, the kernel refusing sendfile or splice for a descriptor (EINVAL) and the paths taken
 * then, the pipe pool's cap and the fate of a pipe that still holds bytes, pipe sizes on reuse,
 * waits that wait for an edge instead of polling, aborts while blocked, the turn budget, and
 * proxy's first error, late abort and listener clean-up. Real sockets over loopback.
 */
import assert from "node:assert/strict";
import {
  closeIdlePipes,
  ErrnoError,
  proxy,
  Reactor,
  sendFile,
  splice,
  TcpListener,
  TcpStream,
  transferStats,
} from "../mod.ts";
import {
  MSG_DONTWAIT,
  MSG_PEEK,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NONBLOCK,
  O_RDONLY,
} from "../ffi/constants.ts";
import { MAX_IO, sysEventfd, sysOpen, sysRecv } from "../ffi/libc.ts";
import { FileHandle } from "../lib/transfer/file.ts";
import {
  assertSameBytes,
  randomBytes,
  sha256,
  tcpPair,
  tempDirOnDemand,
  tempFileIn,
  trackedAbortSignal,
  until,
} from "./helpers.ts";

Reactor.default(); // owns its descriptors for the process lifetime

/** This file's temporary directory (the fd child below imports this file and gets its own). */
const dir = tempDirOnDemand("netio-transfer-mutants-");

function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  return tempFileIn(dir(), name, bytes);
}

/** Reads until EOF or `limit` bytes. */
async function readAll(
  stream: TcpStream,
  limit = Number.POSITIVE_INFINITY,
): Promise<Uint8Array<ArrayBuffer>> {
  let buf = new Uint8Array(65536);
  let total = 0;
  while (total < limit) {
    if (total === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await stream.read(
      buf.subarray(total, Math.min(buf.length, limit)),
    );
    if (n === null) break;
    total += n;
  }
  return buf.slice(0, total);
}

/**
 * `n` one-byte round trips on a pair of its own: each one needs the reactor to take turns, so a
 * transfer that polls instead of waiting for an edge would count a wait on every one of them.
 */
async function roundTrips(n: number): Promise<void> {
  await using pair = await tcpPair();
  const one = new Uint8Array(1);
  for (let i = 0; i < n; i++) {
    await pair.client.writeAll(one);
    assert.equal(await pair.server.read(one), 1);
    await pair.server.writeAll(one);
    assert.equal(await pair.client.read(one), 1);
  }
}

/** Bytes waiting in `stream`'s receive queue (up to `buf.length`), without consuming them. */
function pending(stream: TcpStream, buf: Uint8Array<ArrayBuffer>): number {
  return sysRecv(stream.fd, buf, MSG_PEEK | MSG_DONTWAIT);
}

/** A TcpStream over a descriptor that is not a socket (splice refuses it: EINVAL). */
function eventfdStream(): TcpStream {
  const fd = sysEventfd(1, O_CLOEXEC | O_NONBLOCK);
  assert.ok(fd >= 0, `eventfd failed: ${fd}`);
  return new TcpStream(fd, Reactor.default());
}

/** Asserts `e` is an ErrnoError of `syscall` failing with `code`. */
function isErrno(e: unknown, syscall: string, code: string): true {
  assert.ok(e instanceof ErrnoError, `expected ErrnoError, got ${String(e)}`);
  assert.equal(e.syscall, syscall);
  assert.equal(e.code, code);
  return true;
}

/** Awaits a transfer that must fail on a reset peer; returns the ErrnoError. */
async function resetError(transfer: Promise<unknown>): Promise<ErrnoError> {
  try {
    await transfer;
  } catch (e) {
    assert.ok(e instanceof ErrnoError, `expected ErrnoError, got ${String(e)}`);
    assert.ok(
      ["EPIPE", "ECONNRESET"].includes(e.code),
      `unexpected code ${e.code}`,
    );
    return e;
  }
  throw new assert.AssertionError({
    message: "the transfer to a reset peer did not fail",
  });
}

// ---------------------------------------------------------------------------------------------
// sendFile

Deno.test("sendFile() names the bad argument in each error", async () => {
  const path = await tempFile("names.bin", new Uint8Array(1009));
  await using pair = await tcpPair();
  const s = pair.server;
  await assert.rejects(sendFile({} as TcpStream, path), {
    name: "TypeError",
    message: "sendFile: out must be a TcpStream",
  });
  await assert.rejects(
    sendFile(s, path, null as unknown as object),
    /^TypeError: sendFile options must be an object/,
  );
  await assert.rejects(
    sendFile(s, path, { offset: -1 }),
    /^RangeError: offset must be/,
  );
  await assert.rejects(
    sendFile(s, path, { length: 0.5 }),
    /^RangeError: length must be/,
  );
  await assert.rejects(
    sendFile(s, path, { onProgress: 1 as unknown as () => void }),
    /^TypeError: onProgress must be a function/,
  );
  await assert.rejects(sendFile(s, 7 as unknown as string), {
    name: "TypeError",
    message: "sendFile: file must be a path, a file URL or a FileHandle",
  });
  await assert.rejects(sendFile(s, path, { offset: 1010 }), {
    name: "RangeError",
    message: "offset 1010 is beyond the end of the file (1009 bytes)",
  });
  await assert.rejects(sendFile(s, path, { offset: 500, length: 510 }), {
    name: "RangeError",
    message: "offset 500 + length 510 is beyond the end of the file (1009 bytes)",
  });
});

Deno.test("sendFile() falls back to pread + send when sendfile(2) refuses the descriptor (EINVAL)", async () => {
  // sendfile(2) refuses a directory with EINVAL; pread then fails with EISDIR. So the error
  // tells which path ran: "pread" proves the fallback was taken (and counted), "sendfile" that
  // EINVAL was thrown instead.
  const sub = `${dir()}/a-directory`;
  await Deno.mkdir(sub);
  await Deno.writeFile(`${sub}/entry`, new Uint8Array(1));
  const size = (await Deno.stat(sub)).size;
  assert.ok(size > 0, "the directory reports no size");
  const fd = sysOpen(
    new TextEncoder().encode(`${sub}\0`),
    O_RDONLY | O_DIRECTORY | O_CLOEXEC,
  );
  assert.ok(fd >= 0);
  using handle = new FileHandle(fd, { size, mtimeMs: 0 }, sub);
  await using pair = await tcpPair();
  const before = transferStats();
  await assert.rejects(
    sendFile(pair.server, handle, { length: 1 }),
    (e) => isErrno(e, "pread", "EISDIR"),
  );
  const after = transferStats();
  assert.equal(after.sendFileCalls - before.sendFileCalls, 1);
  assert.equal(after.sendFileFallbacks - before.sendFileFallbacks, 1);
  assert.equal(after.sendFileBytes - before.sendFileBytes, 0);
  assert.equal(after.sendFileFallbackBytes - before.sendFileFallbackBytes, 0);
});

Deno.test("sendFile() to a reset peer fails as sendfile, with no fallback", async () => {
  const path = await tempFile("reset.bin", randomBytes(4 * 1024 * 1024));
  await using pair = await tcpPair();
  pair.client.setLinger(0);
  pair.client.close(); // RST
  await until(
    () => pair.server.tcpInfo().state !== "ESTABLISHED",
    "the reset to arrive",
  );
  const before = transferStats();
  const e = await resetError(sendFile(pair.server, path));
  assert.equal(e.syscall, "sendfile");
  assert.equal(transferStats().sendFileFallbacks - before.sendFileFallbacks, 0);
});

for (const zeroCopy of [true, false]) {
  for (const withSignal of [false, true]) {
    Deno.test(`sendFile() blocked on a full socket waits for an edge, not a poll (zeroCopy: ${zeroCopy}, signal: ${withSignal})`, async () => {
      // The peer reads nothing: the send buffer fills and the transfer waits. While other
      // connections take 20 round trips (many reactor turns), it must stay one wait.
      const path = await tempFile(
        `blocked-${zeroCopy}-${withSignal}.bin`,
        randomBytes(4 << 20),
      );
      await using pair = await tcpPair();
      pair.server.setSendBufferSize(4096);
      pair.client.setRecvBufferSize(4096);
      const controller = new AbortController();
      const before = transferStats().readinessWaits;
      const sending = sendFile(pair.server, path, {
        zeroCopy,
        ...(withSignal ? { signal: controller.signal } : {}),
      });
      sending.catch(() => {});
      await until(
        () => transferStats().readinessWaits > before,
        "the transfer to wait",
      );
      const waiting = transferStats().readinessWaits;
      await roundTrips(20);
      assert.equal(
        transferStats().readinessWaits,
        waiting,
        "the blocked transfer polled",
      );
      if (withSignal) {
        controller.abort(new Error("stop waiting"));
        await assert.rejects(sending, /stop waiting/);
      } else {
        pair.client.setLinger(0);
        pair.client.close();
        await resetError(sending);
      }
    });
  }
}

/** A listener, a client on the default reactor, and the accepted side on `reactor`. */
async function pairOn(reactor: Reactor): Promise<
  {
    client: TcpStream;
    server: TcpStream;
    [Symbol.asyncDispose](): Promise<void>;
  }
> {
  const listener = TcpListener.bind({
    hostname: "127.0.0.1",
    port: 0,
    reactor,
  });
  const client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await listener.accept();
  listener.close();
  return {
    client,
    server,
    [Symbol.asyncDispose](): Promise<void> {
      client.close();
      server.close();
      return Promise.resolve();
    },
  };
}

for (const zeroCopy of [true, false]) {
  Deno.test(`sendFile() charges partial steps to the turn budget, and a finished send nothing (zeroCopy: ${zeroCopy})`, async () => {
    await using reactor = new Reactor({ turnBudget: 1 });
    await using pair = await pairOn(reactor);
    // A one-step send (the whole file fits the socket) is never charged: three in a row, in one
    // turn, leave nothing deferred.
    const small = await tempFile(`one-step-${zeroCopy}.bin`, randomBytes(100));
    const s0 = reactor.stats().deferredOperations;
    for (let i = 0; i < 3; i++) {
      assert.equal(await sendFile(pair.server, small, { zeroCopy }), 100);
    }
    assert.equal(
      reactor.stats().deferredOperations,
      s0,
      "a finished send was charged",
    );
    assert.equal((await readAll(pair.client, 300)).length, 300);
    // A send cut in many steps is charged for each: with a budget of 1, steps wait for turns.
    const data = randomBytes(8 << 20);
    const big = await tempFile(`many-steps-${zeroCopy}.bin`, data);
    const reading = readAll(pair.client, data.length);
    const s1 = reactor.stats().deferredOperations;
    assert.equal(await sendFile(pair.server, big, { zeroCopy }), data.length);
    assert.equal(await sha256(await reading), await sha256(data));
    assert.ok(reactor.stats().deferredOperations > s1, "no step was charged");
  });

  Deno.test(`sendFile() of a file cut under it names the file offset where it ended (zeroCopy: ${zeroCopy})`, async () => {
    const path = await tempFile(
      `cut-${zeroCopy}.bin`,
      randomBytes(2 * 1024 * 1024),
    );
    await using pair = await tcpPair();
    pair.server.setSendBufferSize(4096);
    pair.client.setRecvBufferSize(32768);
    const offset = 1000;
    let last = -1;
    const sending = sendFile(pair.server, path, {
      offset,
      zeroCopy,
      onProgress: (sent) => {
        if (last < 0) Deno.truncateSync(path, 500); // below the offset: nothing more to send
        last = sent;
      },
    });
    const draining = readAll(pair.client);
    await assert.rejects(sending, (e) => {
      assert.ok(e instanceof Deno.errors.UnexpectedEof);
      assert.equal(
        e.message,
        `sendFile: ${path} ended at byte ${offset + last} while being sent (the file shrank)`,
      );
      return true;
    });
    pair.server.close();
    await draining;
  });
}

// ---------------------------------------------------------------------------------------------
// splice

Deno.test("splice() and proxy() name the bad argument in each error", async () => {
  await using pair = await tcpPair();
  const { client, server } = pair;
  await assert.rejects(splice({} as TcpStream, client), {
    name: "TypeError",
    message: "splice: from must be a TcpStream",
  });
  await assert.rejects(splice(server, {} as TcpStream), {
    name: "TypeError",
    message: "splice: to must be a TcpStream",
  });
  await assert.rejects(
    splice(server, client, null as unknown as object),
    /^TypeError: splice options must be an object/,
  );
  await assert.rejects(
    splice(server, client, { length: -1 }),
    /^RangeError: length must be/,
  );
  await assert.rejects(
    splice(server, client, { onProgress: 1 as unknown as () => void }),
    /^TypeError: onProgress must be a function/,
  );
  await assert.rejects(
    splice(server, client, { pipeSize: 1.5 }),
    /^RangeError: pipeSize must be/,
  );
  await assert.rejects(splice(server, client, { pipeSize: 4095 }), {
    name: "RangeError",
    message: `pipeSize must be in 4096..${MAX_IO}, got 4095`,
  });
  await assert.rejects(splice(server, client, { pipeSize: MAX_IO + 1 }), {
    name: "RangeError",
    message: `pipeSize must be in 4096..${MAX_IO}, got ${MAX_IO + 1}`,
  });
  await assert.rejects(proxy({} as TcpStream, client), {
    name: "TypeError",
    message: "proxy: a must be a TcpStream",
  });
  await assert.rejects(proxy(server, {} as TcpStream), {
    name: "TypeError",
    message: "proxy: b must be a TcpStream",
  });
  await assert.rejects(
    proxy(server, client, null as unknown as object),
    /^TypeError: proxy options must be an object/,
  );
  // proxy passes pipeSize on: a bad one fails as splice's would.
  await assert.rejects(
    proxy(server, client, { pipeSize: 100 }),
    /^RangeError: pipeSize must be/,
  );
  // Both bounds are allowed.
  for (const pipeSize of [4096, MAX_IO]) {
    await client.writeAll(new Uint8Array(10).fill(7));
    assert.equal(await splice(server, client, { pipeSize, length: 10 }), 10);
    assertSameBytes(await readAll(server, 10), new Uint8Array(10).fill(7));
  }
  closeIdlePipes();
});

Deno.test("splice() keeps at most 16 idle pipes, and counts each one created or reused", async () => {
  closeIdlePipes();
  const n = 17;
  const sources = await Promise.all(Array.from({ length: n }, () => tcpPair()));
  const sinks = await Promise.all(Array.from({ length: n }, () => tcpPair()));
  try {
    for (let i = 0; i < n; i++) {
      await sources[i]!.client.writeAll(new Uint8Array(10).fill(i));
    }
    const before = transferStats();
    // Every call takes its pipe before its first wait: 17 pipes in use at once.
    const moving = sources.map((s, i) => splice(s.server, sinks[i]!.client, { length: 10 }));
    for (const moved of await Promise.all(moving)) assert.equal(moved, 10);
    const after = transferStats();
    assert.equal(after.pipesCreated - before.pipesCreated, n);
    assert.equal(after.pipesReused - before.pipesReused, 0);
    for (let i = 0; i < n; i++) {
      assertSameBytes(
        await readAll(sinks[i]!.server, 10),
        new Uint8Array(10).fill(i),
      );
    }
    // One more call reuses a pooled pipe instead of creating one.
    await sources[0]!.client.writeAll(new Uint8Array(10));
    assert.equal(
      await splice(sources[0]!.server, sinks[0]!.client, { length: 10 }),
      10,
    );
    const last = transferStats();
    assert.equal(last.pipesCreated - after.pipesCreated, 0);
    assert.equal(last.pipesReused - after.pipesReused, 1);
    // Sixteen back in the pool (the reused one was returned too): counted as idle, then closed.
    assert.equal(last.pipesIdle, 16);
    assert.equal(closeIdlePipes(), 16);
    assert.equal(transferStats().pipesIdle, 0);
  } finally {
    for (const p of [...sources, ...sinks]) await p[Symbol.asyncDispose]();
  }
});

Deno.test("splice() resizes a reused pipe to the size asked for", async () => {
  closeIdlePipes();
  await using source = await tcpPair();
  await using sink = await tcpPair();
  sink.client.setSendBufferSize(1 << 20);
  sink.server.setRecvBufferSize(1 << 20);
  source.server.setRecvBufferSize(1 << 20);
  const steps = (into: number[]) => {
    let last = 0;
    return (moved: number) => {
      into.push(moved - last);
      last = moved;
    };
  };
  // A one-page pipe: no step moves more than 4096 bytes.
  const first = randomBytes(64 * 1024);
  await source.client.writeAll(first);
  const small: number[] = [];
  const reading1 = readAll(sink.server, first.length);
  assert.equal(
    await splice(source.server, sink.client, {
      pipeSize: 4096,
      length: first.length,
      onProgress: steps(small),
    }),
    first.length,
  );
  assertSameBytes(await reading1, first);
  assert.ok(
    Math.max(...small) <= 4096,
    `a step of ${Math.max(...small)} through a 4096-byte pipe`,
  );
  // The same pipe again, asked for 1 MiB, with 512 KiB waiting: some step moves more than the
  // kernel's 64 KiB default (a pipe left at 4096, or believed to be 64 KiB, could not).
  const second = randomBytes(512 * 1024);
  await source.client.writeAll(second);
  const peek = new Uint8Array(second.length);
  await until(
    () => pending(source.server, peek) === second.length,
    "the 512 KiB to reach the source socket",
  );
  const before = transferStats();
  const big: number[] = [];
  const reading2 = readAll(sink.server, second.length);
  assert.equal(
    await splice(source.server, sink.client, {
      pipeSize: 1 << 20,
      length: second.length,
      onProgress: steps(big),
    }),
    second.length,
  );
  assert.equal(await sha256(await reading2), await sha256(second));
  assert.equal(transferStats().pipesReused - before.pipesReused, 1);
  assert.ok(
    Math.max(...big) > 65536,
    `no step above 64 KiB: ${big.length} steps`,
  );
  closeIdlePipes();
});

Deno.test("splice() through a one-page pipe stops at a length that is not a multiple of it", async () => {
  // Many fills of at most 4096 bytes: the last one must ask for no more than the 1 byte left.
  await using source = await tcpPair();
  await using sink = await tcpPair();
  const data = randomBytes(70_000);
  await source.client.writeAll(data);
  const reading = readAll(sink.server, 65_537);
  assert.equal(
    await splice(source.server, sink.client, {
      pipeSize: 4096,
      length: 65_537,
    }),
    65_537,
  );
  assertSameBytes(await reading, data.subarray(0, 65_537), "sink");
  assertSameBytes(
    await readAll(source.server, 70_000 - 65_537),
    data.subarray(65_537),
    "source",
  );
  closeIdlePipes();
});

Deno.test("splice() with a full one-page pipe and a full sink keeps going until EOF", async () => {
  // The pipe fills (4096 of 4096 bytes) while the sink is full: the next fill must wait for room,
  // not ask for 0 bytes (which splice(2) answers with 0, read as EOF).
  await using source = await tcpPair();
  await using sink = await tcpPair();
  sink.client.setSendBufferSize(4096);
  sink.server.setRecvBufferSize(32768);
  const data = randomBytes(512 * 1024);
  const feeding = (async () => {
    await source.client.writeAll(data);
    source.client.closeWrite();
  })();
  const reading = readAll(sink.server);
  const moved = await splice(source.server, sink.client, { pipeSize: 4096 });
  sink.client.closeWrite();
  await feeding;
  assert.equal(moved, data.length);
  assert.equal(await sha256(await reading), await sha256(data));
  closeIdlePipes();
});

Deno.test("splice() charges the bytes of every step, in and out, to the sink's turn budget", async () => {
  // 256 KiB waiting, room for all of it, a one-page pipe: 64 steps of 4096 bytes in and 4096 out
  // (one unit each) that never wait. A budget of 8 units runs out every 8 steps.
  await using reactor = new Reactor({ turnBudget: 8 });
  await using source = await tcpPair();
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const to = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    reactor,
  });
  const sinkEnd = await listener.accept();
  listener.close();
  try {
    source.server.setRecvBufferSize(1 << 20);
    to.setSendBufferSize(1 << 20);
    sinkEnd.setRecvBufferSize(1 << 20);
    const data = randomBytes(256 * 1024);
    await source.client.writeAll(data);
    const peek = new Uint8Array(data.length);
    await until(
      () => pending(source.server, peek) === data.length,
      "the data in the source",
    );
    const before = reactor.stats().deferredOperations;
    const reading = readAll(sinkEnd, data.length);
    assert.equal(
      await splice(source.server, to, { pipeSize: 4096, length: data.length }),
      data.length,
    );
    assert.equal(await sha256(await reading), await sha256(data));
    assert.ok(
      reactor.stats().deferredOperations > before,
      "the steps were not charged",
    );
  } finally {
    to.close();
    sinkEnd.close();
  }
  closeIdlePipes();
});

Deno.test("splice() falls back to recv + send when the kernel refuses to splice from the source", async () => {
  // splice(2) from an eventfd fails with EINVAL; the fallback's recv on it then fails with
  // ENOTSOCK. So "recv" proves the fallback ran, "splice" that EINVAL was thrown instead.
  using from = eventfdStream();
  await using sink = await tcpPair();
  const before = transferStats();
  await assert.rejects(
    splice(from, sink.client),
    (e) => isErrno(e, "recv", "ENOTSOCK"),
  );
  const after = transferStats();
  assert.equal(after.spliceCalls - before.spliceCalls, 1);
  assert.equal(after.spliceFallbacks - before.spliceFallbacks, 1);
  closeIdlePipes();
});

Deno.test("splice() refused by the sink with bytes in the pipe fails as splice, and the pipe is not pooled", async () => {
  closeIdlePipes();
  await using source = await tcpPair();
  using to = eventfdStream();
  await source.client.writeAll(new Uint8Array(1000).fill(1));
  const before = transferStats();
  await assert.rejects(
    splice(source.server, to),
    (e) => isErrno(e, "splice", "EINVAL"),
  );
  assert.equal(transferStats().spliceFallbacks - before.spliceFallbacks, 0);
  // The pipe still held the bytes: closed, not kept for the next call (which would relay them).
  assert.equal(
    closeIdlePipes(),
    0,
    "a pipe holding bytes went back to the pool",
  );
});

Deno.test("splice() from a reset source fails as splice", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  source.client.setLinger(0);
  source.client.close();
  await until(
    () => source.server.tcpInfo().state !== "ESTABLISHED",
    "the reset to arrive",
  );
  const e = await resetError(splice(source.server, sink.client));
  assert.equal(e.syscall, "splice");
  closeIdlePipes();
});

Deno.test("splice() into a reset sink fails as splice", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  sink.server.setLinger(0);
  sink.server.close();
  await until(
    () => sink.client.tcpInfo().state !== "ESTABLISHED",
    "the reset to arrive",
  );
  await source.client.writeAll(new Uint8Array(1000));
  const e = await resetError(splice(source.server, sink.client));
  assert.equal(e.syscall, "splice");
  closeIdlePipes();
});

for (const zeroCopy of [true, false]) {
  Deno.test(`splice() blocked on either side waits for an edge, and an abort reaches it (zeroCopy: ${zeroCopy})`, async () => {
    await using source = await tcpPair();
    await using sink = await tcpPair();
    sink.client.setSendBufferSize(4096);
    sink.server.setRecvBufferSize(4096);
    // Nothing to read yet: the transfer waits on the source.
    const controller = new AbortController();
    const w0 = transferStats().readinessWaits;
    const moving = splice(source.server, sink.client, {
      zeroCopy,
      signal: controller.signal,
    });
    moving.catch(() => {});
    await until(
      () => transferStats().readinessWaits > w0,
      "a wait on the empty source",
    );
    const w1 = transferStats().readinessWaits;
    await roundTrips(20);
    assert.equal(
      transferStats().readinessWaits,
      w1,
      "the wait on the source polled",
    );
    // More than the sink takes: the transfer waits on the sink.
    await source.client.writeAll(randomBytes(1 << 20));
    await until(
      () => transferStats().readinessWaits > w1,
      "a wait on the full sink",
    );
    const w2 = transferStats().readinessWaits;
    await roundTrips(20);
    assert.equal(
      transferStats().readinessWaits,
      w2,
      "the wait on the sink polled",
    );
    controller.abort(new Error("stop"));
    await assert.rejects(moving, /stop/);
    closeIdlePipes();
  });
}

Deno.test("splice() recv+send path (zeroCopy: false) stops at the length and leaves the rest", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  const data = randomBytes(300_000);
  const feeding = source.client.writeAll(data);
  const before = transferStats();
  const reading = readAll(sink.server, 100_001);
  assert.equal(
    await splice(source.server, sink.client, {
      length: 100_001,
      zeroCopy: false,
    }),
    100_001,
  );
  assertSameBytes(await reading, data.subarray(0, 100_001), "sink");
  assertSameBytes(
    await readAll(source.server, 199_999),
    data.subarray(100_001),
    "source",
  );
  await feeding;
  assert.equal(
    transferStats().spliceFallbackBytes - before.spliceFallbackBytes,
    100_001,
  );
});

Deno.test("splice() recv+send path counts its waits on the source and on the sink", async () => {
  // Waits on the source only: a sink that takes everything, a source fed later.
  {
    await using source = await tcpPair();
    await using sink = await tcpPair();
    const before = transferStats().readinessWaits;
    const moving = splice(source.server, sink.client, {
      zeroCopy: false,
      length: 10,
    });
    await until(
      () => transferStats().readinessWaits > before,
      "a wait on the source",
    );
    await source.client.writeAll(new Uint8Array(10));
    assert.equal(await moving, 10);
    assert.ok(transferStats().readinessWaits > before);
  }
  // Waits on the sink only: everything and EOF are in the source before it starts.
  {
    await using source = await tcpPair();
    await using sink = await tcpPair();
    source.server.setRecvBufferSize(1 << 20);
    sink.client.setSendBufferSize(4096);
    sink.server.setRecvBufferSize(32768); // a few KiB would wait for delayed ACKs (40 ms each)
    const data = randomBytes(256 * 1024);
    await source.client.writeAll(data);
    source.client.closeWrite();
    const peek = new Uint8Array(data.length);
    await until(
      () => pending(source.server, peek) === data.length,
      "the data in the source",
    );
    const before = transferStats().readinessWaits;
    const reading = readAll(sink.server);
    const moved = await splice(source.server, sink.client, { zeroCopy: false });
    sink.client.closeWrite();
    assert.equal(moved, data.length);
    assert.equal(await sha256(await reading), await sha256(data));
    assert.ok(transferStats().readinessWaits > before, "the sink never filled");
  }
});

// ---------------------------------------------------------------------------------------------
// proxy

/** Two loopback pairs: `client` <-> [a ... b] <-> `upstream`. */
async function ends(): Promise<{
  client: TcpStream;
  a: TcpStream;
  b: TcpStream;
  upstream: TcpStream;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const front = await tcpPair();
  const back = await tcpPair();
  return {
    client: front.client,
    a: front.server,
    b: back.client,
    upstream: back.server,
    async [Symbol.asyncDispose](): Promise<void> {
      await front[Symbol.asyncDispose]();
      await back[Symbol.asyncDispose]();
    },
  };
}

Deno.test("proxy() stops the other direction when one fails, and rejects with that error", async () => {
  await using e = await ends();
  const relay = proxy(e.a, e.b);
  relay.catch(() => {});
  // The client stays silent: only the failure of b -> a can end the a -> b direction.
  e.upstream.setLinger(0);
  e.upstream.close();
  await assert.rejects(
    relay,
    (err) => err instanceof ErrnoError && err.code === "ECONNRESET",
  );
  closeIdlePipes();
});

Deno.test("proxy() aborted after both directions ended, before it settled, rejects with the reason", async () => {
  await using e = await ends();
  e.client.closeWrite();
  e.upstream.closeWrite();
  await until(
    () =>
      e.a.tcpInfo().state === "CLOSE_WAIT" &&
      e.b.tcpInfo().state === "CLOSE_WAIT",
    "both FINs to arrive",
  );
  const controller = new AbortController();
  const relay = proxy(e.a, e.b, { signal: controller.signal });
  controller.abort(new Error("late"));
  await assert.rejects(relay, /late/);
  closeIdlePipes();
});

Deno.test("proxy() removes its abort listener from the caller's signal when it settles", async () => {
  await using e = await ends();
  const { signal, added, removed } = trackedAbortSignal();
  const relay = proxy(e.a, e.b, { signal });
  e.client.closeWrite();
  e.upstream.closeWrite();
  assert.deepEqual(await relay, { aToB: 0, bToA: 0 });
  const mine = added.filter((fn) => removed.includes(fn));
  assert.ok(added.length >= 1, "proxy never listened to the signal");
  assert.equal(
    mine.length,
    added.length,
    "a listener was left on the caller's signal",
  );
  closeIdlePipes();
});

Deno.test("proxy() passes an EOF on to a side whose peer has reset since (ENOTCONN): nothing to tell", async () => {
  await using e = await ends();
  const relay = proxy(e.a, e.b);
  relay.catch(() => {});
  // b -> a ends first (the upstream's FIN reaches the client)...
  e.upstream.closeWrite();
  assert.equal(await e.client.read(new Uint8Array(1)), null);
  // ...then the upstream resets, and only then does the client finish: shutting b down fails
  // with ENOTCONN, which is no error (the peer is gone).
  e.upstream.setLinger(0);
  e.upstream.close();
  await until(() => e.b.tcpInfo().state === "CLOSE", "the reset to reach b");
  e.client.closeWrite();
  assert.deepEqual(await relay, { aToB: 0, bToA: 0 });
  closeIdlePipes();
});

Deno.test("proxy() passes an EOF on to a side already closed by its owner: nothing to tell", async () => {
  await using e = await ends();
  const relay = proxy(e.a, e.b);
  relay.catch(() => {});
  e.upstream.closeWrite();
  assert.equal(await e.client.read(new Uint8Array(1)), null);
  // b -> a is done; the owner closes b, then the client finishes.
  e.b.close();
  e.client.closeWrite();
  assert.deepEqual(await relay, { aToB: 0, bToA: 0 });
  closeIdlePipes();
});
