/**
 * sendFile, writev and splice over real loopback sockets: byte-exact transfers (SHA-256) under
 * forced partial writes, ranges, a sparse file past 4 GiB, a shrinking file, aborts, peer resets
 * (the process survives: SIGPIPE is ignored), fallbacks, and descriptor accounting.
 */
import assert from "node:assert/strict";
import {
  closeIdlePipes,
  ErrnoError,
  openFile,
  Reactor,
  sendFile,
  splice,
  TcpListener,
  type TcpStream,
  transferStats,
  writev,
} from "../mod.ts";
import { S_IFMT, S_IFREG, SIG_IGN, SIGPIPE } from "../ffi/constants.ts";
import { check, sysFstat, sysSigactionQuery } from "../ffi/libc.ts";
import { decodeStat, SIGACTION_SIZE, sigactionHandler, STAT_SIZE } from "../ffi/structs.ts";
import { ClosedError } from "../lib/net/fd.ts";
import { WritevCursor } from "../lib/net/write.ts";
import { MAX_IO } from "../ffi/libc.ts";
import {
  assertNoNewFd,
  assertSameBytes,
  randomBytes,
  sha256,
  tcpPair,
  tempDirOnDemand,
  tempFileIn,
} from "./helpers.ts";
import { formatBytes, progressLine } from "../examples/send_file.ts";

Reactor.default(); // owns its descriptors for the process lifetime: open it before the baseline
/** This file's temporary directory (the fd child below imports this file and gets its own). */
const dir = tempDirOnDemand("netio-transfer-");

// ---------------------------------------------------------------------------------------------
// helpers

function tempFile(name: string, bytes: Uint8Array): Promise<string> {
  return tempFileIn(dir(), name, bytes);
}

/**
 * A slow reader: small reads (16 KiB), so with {@linkcode smallBuffers} the sender keeps meeting
 * a full socket (it shares this thread: the reader only runs while the sender waits). Reads until
 * EOF or `limit` bytes.
 */
async function readSlowly(
  stream: TcpStream,
  limit = Number.POSITIVE_INFINITY,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(16384);
  while (total < limit) {
    const n = await stream.read(buf.subarray(0, Math.min(buf.length, limit - total)));
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reads until EOF or `limit` bytes, as fast as possible. */
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
    const n = await stream.read(buf.subarray(total, Math.min(buf.length, limit)));
    if (n === null) break;
    total += n;
  }
  return buf.slice(0, total);
}

/**
 * Shrinks the socket buffers of a sender/receiver pair so every transfer is cut in pieces. The
 * receive side stays at 32 KiB (64 KiB once doubled): a receive window of a few KiB makes Linux
 * wait for delayed ACKs (40 ms each) and the test crawl without testing anything more.
 */
function smallBuffers(sender: TcpStream, receiver: TcpStream): void {
  sender.setSendBufferSize(4096);
  receiver.setRecvBufferSize(32768);
}

/**
 * Open descriptors of this process on a regular file of exactly `size` bytes (fstat of every
 * number below 4096). Each test gives its file a size no other file has, which identifies it
 * without /proc/self/fd (Deno 2.9 wants --allow-all to read there).
 */
function fdsOnFileOfSize(size: number): number {
  let n = 0;
  const stat = new Uint8Array(STAT_SIZE);
  for (let fd = 0; fd < 4096; fd++) {
    if (sysFstat(fd, stat) < 0) continue;
    const { mode, size: s } = decodeStat(stat);
    if ((mode & S_IFMT) === S_IFREG && s === size) n++;
  }
  return n;
}

/** Resets the connection from this side: SO_LINGER 0, then close sends RST instead of FIN. */
function reset(stream: TcpStream): void {
  stream.setLinger(0);
  stream.close();
}

/**
 * Awaits a transfer expected to fail on a reset peer; returns its errno code (EPIPE or
 * ECONNRESET). The kernel raises SIGPIPE along with every EPIPE from sendfile, writev and splice
 * (none can pass MSG_NOSIGNAL): reaching the next line after one proves the process survives it.
 */
async function resetCode(transfer: Promise<unknown>): Promise<string> {
  try {
    await transfer;
  } catch (e) {
    assert(e instanceof ErrnoError, `expected ErrnoError, got ${String(e)}`);
    assert(["EPIPE", "ECONNRESET"].includes(e.code), `unexpected code ${e.code}`);
    return e.code;
  }
  throw new assert.AssertionError({ message: "the transfer to a reset peer did not fail" });
}

// ---------------------------------------------------------------------------------------------
// openFile

Deno.test("openFile() gives the size and a descriptor that is closed exactly once", async () => {
  const size = 13_577;
  const path = await tempFile("open.bin", new Uint8Array(size));
  const file = openFile(path);
  assert.equal(file.size, size);
  assert.equal(file.path, path);
  assert.equal(fdsOnFileOfSize(size), 1);
  assert(Number.isInteger(file.fd) && file.fd > 2);
  file.close();
  file.close();
  file[Symbol.dispose]();
  assert.equal(file.closed, true);
  assert.equal(fdsOnFileOfSize(size), 0);
  assert.throws(() => file.fd, ClosedError);
  {
    using _disposed = openFile(new URL(`file://${path}`));
    assert.equal(fdsOnFileOfSize(size), 1);
  }
  assert.equal(fdsOnFileOfSize(size), 0);
});

Deno.test("openFile() refuses directories, missing files and bad paths with typed errors", () => {
  assert.throws(() => openFile(dir()), (e) => e instanceof ErrnoError && e.code === "EISDIR");
  assert.throws(
    () => openFile(`${dir()}/missing`),
    (e) =>
      e instanceof ErrnoError && e.code === "ENOENT" && e.syscall === "open" &&
      e instanceof Deno.errors.NotFound && e.message.includes(`${dir()}/missing`),
  );
  assert.throws(() => openFile(""), TypeError);
  assert.throws(() => openFile("a\0b"), TypeError);
  assert.throws(() => openFile(42 as unknown as string), TypeError);
  assert.throws(() => openFile(new URL("http://example.com/x")), TypeError);
});

Deno.test("openFile() honours --allow-read: without it Deno's NotCapable error, no open", async () => {
  const target = await tempFile("secret.txt", new Uint8Array(3));
  const script = `${dir()}/no_read.ts`;
  await Deno.writeTextFile(
    script,
    `import { openFile } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    try { openFile(${JSON.stringify(target)}); console.log("opened"); }
    catch (e) { console.log(e instanceof Deno.errors.NotCapable ? "NotCapable" : String(e)); }`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-ffi", `--allow-read=${dir()}/elsewhere`, script],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(text, "NotCapable", new TextDecoder().decode(out.stderr));
});

// ---------------------------------------------------------------------------------------------
// sendFile

Deno.test("sendFile() sends a file byte-exact through forced partial writes", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const path = await tempFile("whole.bin", data);
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  let progressCalls = 0;
  let lastProgress = 0;
  const reading = readSlowly(pair.client, data.length);
  const sent = await sendFile(pair.server, path, {
    onProgress: (s, total) => {
      assert.equal(total, data.length);
      assert(s > lastProgress);
      lastProgress = s;
      progressCalls++;
    },
  });
  const received = await reading;
  assert.equal(sent, data.length);
  assert.equal(lastProgress, data.length);
  assert(progressCalls > 10, `expected many partial sends, got ${progressCalls}`);
  assert.equal(await sha256(received), await sha256(data));
  assert.equal(fdsOnFileOfSize(data.length), 0);
});

for (const zeroCopy of [true, false]) {
  Deno.test(`sendFile() resumes each partial write at offset + sent, inside the range, counted (zeroCopy: ${zeroCopy})`, async () => {
    // A range that starts and ends inside the file, cut into many partial writes: each resume
    // must start at the exact file offset and ask for no more than what is left of the range. On
    // the sendfile path a wrong (negative) offset would fail with EINVAL and be hidden by the
    // copy fallback, so no fallback may happen there.
    const data = randomBytes(3 * 1024 * 1024 + 29);
    const path = await tempFile(`range-${zeroCopy}.bin`, data);
    const offset = 12_345;
    const length = 2 * 1024 * 1024 + 7;
    await using pair = await tcpPair();
    smallBuffers(pair.server, pair.client);
    const before = transferStats();
    const reading = readSlowly(pair.client, length + 1); // one byte more than the range: EOF first
    const url = new URL(`file://${path}`); // a file URL works as well as a path
    assert.equal(await sendFile(pair.server, url, { offset, length, zeroCopy }), length);
    pair.server.closeWrite();
    const received = await reading;
    const after = transferStats();
    assert.equal(received.length, length, "more or fewer bytes than the range");
    assert.equal(await sha256(received), await sha256(data.subarray(offset, offset + length)));
    assert.equal(after.sendFileCalls - before.sendFileCalls, 1);
    assert.equal(after.sendFileFallbacks - before.sendFileFallbacks, zeroCopy ? 0 : 1);
    const bytes = zeroCopy
      ? after.sendFileBytes - before.sendFileBytes
      : after.sendFileFallbackBytes - before.sendFileFallbackBytes;
    assert.equal(bytes, length, "bytes counted on the path taken");
    assert.ok(after.readinessWaits > before.readinessWaits, "no partial write was forced");
  });
}

Deno.test("sendFile() pread+send path (zeroCopy: false) is byte-exact and counted", async () => {
  const data = randomBytes(1024 * 1024 + 3);
  const path = await tempFile("copy.bin", data);
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  const before = transferStats();
  const reading = readSlowly(pair.client, data.length);
  using file = openFile(path);
  const sent = await sendFile(pair.server, file, { zeroCopy: false });
  const after = transferStats();
  assert.equal(sent, data.length);
  assert.equal(await sha256(await reading), await sha256(data));
  assert(after.sendFileFallbacks > before.sendFileFallbacks);
  assert(after.sendFileFallbackBytes - before.sendFileFallbackBytes >= data.length);
  assert.equal(file.closed, false, "a handle passed in is left open");
});

Deno.test("sendFile() of an empty file sends nothing and resolves 0", async () => {
  const path = await tempFile("empty.bin", new Uint8Array(0));
  await using pair = await tcpPair();
  assert.equal(await sendFile(pair.server, path), 0);
  pair.server.closeWrite();
  assert.equal(await pair.client.read(new Uint8Array(16)), null);
});

Deno.test("sendFile() sends exactly the range given by offset and length", async () => {
  const data = randomBytes(200_000);
  const path = await tempFile("range.bin", data);
  using file = openFile(path);
  const cases: [number | undefined, number | undefined][] = [
    [0, 1],
    [1, 0],
    [199_999, 1],
    [200_000, undefined], // offset at EOF: nothing
    [12_345, 100_000],
    [150_000, undefined],
    [undefined, 65_537],
  ];
  for (const [offset, length] of cases) {
    await using pair = await tcpPair();
    const options: { offset?: number; length?: number } = {};
    if (offset !== undefined) options.offset = offset;
    if (length !== undefined) options.length = length;
    const from = offset ?? 0;
    const expected = data.subarray(from, length === undefined ? data.length : from + length);
    const reading = readAll(pair.client);
    const sent = await sendFile(pair.server, file, options);
    pair.server.closeWrite();
    const got = await reading;
    assert.equal(sent, expected.length, `offset ${offset} length ${length}`);
    assertSameBytes(got, expected, `offset ${offset} length ${length}`);
  }
});

Deno.test("sendFile() rejects bad ranges and arguments before any syscall", async () => {
  const path = await tempFile("bad.bin", new Uint8Array(1009));
  await using pair = await tcpPair();
  const closed = pair.client;
  closed.close(); // a closed stream would give ClosedError: a RangeError proves we stopped earlier
  await assert.rejects(sendFile(closed, path, { offset: 1010 }), RangeError);
  await assert.rejects(sendFile(closed, path, { offset: 500, length: 510 }), RangeError);
  await assert.rejects(sendFile(closed, path, { offset: -1 }), RangeError);
  await assert.rejects(sendFile(closed, path, { length: 1.5 }), RangeError);
  await assert.rejects(sendFile(closed, path, { offset: "1" as unknown as number }), RangeError);
  await assert.rejects(sendFile({} as TcpStream, path), TypeError);
  await assert.rejects(sendFile(pair.server, 7 as unknown as string), TypeError);
  await assert.rejects(
    sendFile(pair.server, path, { onProgress: 1 as unknown as () => void }),
    TypeError,
  );
  await assert.rejects(sendFile(closed, path), ClosedError);
  const file = openFile(path);
  file.close();
  await assert.rejects(sendFile(pair.server, file), ClosedError);
  assert.equal(fdsOnFileOfSize(1009), 0);
});

for (const zeroCopy of [true, false]) {
  Deno.test(`sendFile() reaches past 4 GiB in a sparse file (64-bit offsets, zeroCopy: ${zeroCopy})`, async () => {
    const path = `${dir()}/sparse-${zeroCopy}.bin`;
    const fourGiB = 2 ** 32;
    const size = fourGiB + 1024 * 1024;
    Deno.writeFileSync(path, new Uint8Array(0));
    Deno.truncateSync(path, size); // sparse: no data blocks until the pattern below
    const pattern = randomBytes(70_000);
    const at = fourGiB + 4321;
    {
      using f = await Deno.open(path, { write: true });
      await f.seek(at, Deno.SeekMode.Start);
      let written = 0;
      while (written < pattern.length) written += await f.write(pattern.subarray(written));
    }
    using file = openFile(path);
    assert.equal(file.size, size);
    // A window starting in the zeros just before the pattern and ending inside it.
    const offset = at - 1000;
    const length = 50_000;
    const expected = new Uint8Array(length);
    expected.set(pattern.subarray(0, length - 1000), 1000);
    await using pair = await tcpPair();
    const reading = readAll(pair.client, length);
    const fallbacksBefore = transferStats().sendFileFallbacks;
    assert.equal(await sendFile(pair.server, file, { offset, length, zeroCopy }), length);
    assertSameBytes(await reading, expected, "the window past 4 GiB");
    // The path under test really ran: the copy path counts a fallback, sendfile does not.
    assert.equal(transferStats().sendFileFallbacks - fallbacksBefore, zeroCopy ? 0 : 1);
    // And the very end of the file, past 2^32 + 2^20 - 10.
    await using pair2 = await tcpPair();
    const tail = readAll(pair2.client, 10);
    assert.equal(await sendFile(pair2.server, file, { offset: size - 10, zeroCopy }), 10);
    assertSameBytes(await tail, new Uint8Array(10), "the last 10 bytes");
    file.close();
    await Deno.remove(path);
  });
}

Deno.test("sendFile() of a file that shrinks mid-send rejects instead of spinning", async () => {
  for (const zeroCopy of [true, false]) {
    const path = await tempFile(`shrink-${zeroCopy}.bin`, randomBytes(2 * 1024 * 1024));
    await using pair = await tcpPair();
    smallBuffers(pair.server, pair.client);
    let sentSoFar = 0;
    const waitsBefore = transferStats().readinessWaits;
    const sending = sendFile(pair.server, path, {
      zeroCopy,
      onProgress: (s) => {
        sentSoFar = s;
      },
    });
    // Nobody reads yet: the send stops on a full socket and waits for room (2 MiB cannot fit in
    // the small buffers). Wait for that wait, then cut the file where the send stopped.
    for (let i = 0; transferStats().readinessWaits === waitsBefore; i++) {
      assert.ok(i < 5000, "the send never waited for room in 5 s");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.ok(sentSoFar < 2 * 1024 * 1024, "the whole file fit: nothing to shrink under it");
    Deno.truncateSync(path, sentSoFar);
    const draining = readAll(pair.client); // makes room: the next send finds the file too short
    await assert.rejects(sending, Deno.errors.UnexpectedEof);
    pair.server.close();
    await draining;
    assert.equal(fdsOnFileOfSize(sentSoFar), 0);
  }
});

Deno.test("sendFile() aborted mid-transfer rejects with the reason and leaves no fd open", async () => {
  const size = 2 * 1024 * 1024 + 31;
  const path = await tempFile("abort.bin", randomBytes(size));
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  const controller = new AbortController();
  const reason = new Error("stop");
  const sending = sendFile(pair.server, path, {
    signal: controller.signal,
    onProgress: () => controller.abort(reason),
  });
  await assert.rejects(sending, (e) => e === reason);
  assert.equal(fdsOnFileOfSize(size), 0);
  // The stream itself stays usable.
  await pair.server.writeAll(new Uint8Array([1]));
  const aborted = AbortSignal.abort(new Error("already"));
  await assert.rejects(sendFile(pair.server, path, { signal: aborted }), /already/);
  assert.equal(fdsOnFileOfSize(size), 0);
});

// ---------------------------------------------------------------------------------------------
// SIGPIPE and peer resets

Deno.test("this process ignores SIGPIPE, so EPIPE from sendfile/writev/splice is survivable", () => {
  // Read in this very process, through netio's libc (sigaction with a NULL act only queries).
  const old = new Uint8Array(SIGACTION_SIZE);
  check(sysSigactionQuery(SIGPIPE, old), "sigaction");
  assert.equal(sigactionHandler(old), SIG_IGN, "SIGPIPE is not ignored: EPIPE would kill us");
});

Deno.test("a peer reset during sendFile() rejects with EPIPE/ECONNRESET and the process lives", async () => {
  const size = 4 * 1024 * 1024 + 41;
  const path = await tempFile("reset.bin", randomBytes(size));
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  let resetDone = false;
  const sending = sendFile(pair.server, path, {
    onProgress: () => {
      if (!resetDone) {
        resetDone = true;
        reset(pair.client);
      }
    },
  });
  const first = await resetCode(sending);
  // A second transfer on the dead socket gets EPIPE (and SIGPIPE, ignored).
  const second = await resetCode(sendFile(pair.server, path));
  assert([first, second].includes("EPIPE"));
  assert.equal(fdsOnFileOfSize(size), 0);
});

Deno.test("a peer reset during writev() rejects with EPIPE/ECONNRESET and the process lives", async () => {
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  const bufs = Array.from({ length: 64 }, () => new Uint8Array(64 * 1024));
  const writing = writev(pair.server, bufs);
  await new Promise((resolve) => setTimeout(resolve, 1));
  reset(pair.client);
  const first = await resetCode(writing);
  const second = await resetCode(writev(pair.server, [new Uint8Array(10)]));
  assert([first, second].includes("EPIPE"));
});

Deno.test("a peer reset during splice() rejects with EPIPE/ECONNRESET and the process lives", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  smallBuffers(sink.client, sink.server);
  const feeding = source.client.writeAll(new Uint8Array(4 * 1024 * 1024)).catch(() => {});
  let resetDone = false;
  const relaying = splice(source.server, sink.client, {
    onProgress: () => {
      if (!resetDone) {
        resetDone = true;
        reset(sink.server);
      }
    },
  });
  const first = await resetCode(relaying);
  const second = await resetCode(splice(source.server, sink.client));
  assert([first, second].includes("EPIPE"));
  source.client.close();
  await feeding;
  closeIdlePipes();
});

// ---------------------------------------------------------------------------------------------
// writev

Deno.test("writev() resumes partial writes at the exact byte across more than IOV_MAX buffers", async () => {
  // 2,500 buffers of irregular sizes, empty ones included: at least three batches of 1024.
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const bufs: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (let i = 0; i < 2500; i++) {
    const n = next() % 7 === 0 ? 0 : next() % 3000;
    const b = randomBytes(n);
    bufs.push(b);
    total += n;
  }
  const joined = new Uint8Array(total);
  let at = 0;
  for (const b of bufs) {
    joined.set(b, at);
    at += b.length;
  }
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  const before = transferStats();
  const reading = readSlowly(pair.client, total);
  assert.equal(await pair.server.writev(bufs), total); // the TcpStream method delegates
  const after = transferStats();
  assert.equal(await sha256(await reading), await sha256(joined));
  assert(after.writevPartialWrites > before.writevPartialWrites, "no partial write was forced");
  assert(after.writevSyscalls - before.writevSyscalls >= 3);
});

Deno.test("writev() writes small buffers whole in one call, and handles empty input", async () => {
  await using pair = await tcpPair();
  const enc = new TextEncoder();
  const parts = ["HTTP/1.1 200 OK\r\n", "Content-Length: 2\r\n\r\n", "", "hi"].map((s) =>
    enc.encode(s)
  );
  const total = parts.reduce((n, p) => n + p.length, 0);
  const syscallsBefore = transferStats().writevSyscalls;
  const partialBefore = transferStats().writevPartialWrites;
  assert.equal(await writev(pair.server, parts), total);
  assert.equal(transferStats().writevSyscalls - syscallsBefore, 1, "more than one writev(2)");
  assert.equal(transferStats().writevPartialWrites, partialBefore, "a whole write counted partial");
  assert.equal(
    new TextDecoder().decode(await readAll(pair.client, total)),
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
  );
  assert.equal(await writev(pair.server, []), 0);
  assert.equal(await writev(pair.server, [new Uint8Array(0)]), 0);
});

Deno.test("writev() resumes inside one buffer across many partial writes (checked by digest)", async () => {
  await using pair = await tcpPair();
  smallBuffers(pair.server, pair.client);
  // A small buffer first, then one large buffer that the small send buffer must split many times:
  // every resume after the first lands inside the large buffer, at an offset built up step by step.
  const head = randomBytes(100);
  const body = randomBytes(4 * 1024 * 1024 + 17);
  const whole = new Uint8Array(head.length + body.length);
  whole.set(head);
  whole.set(body, head.length);
  const partialBefore = transferStats().writevPartialWrites;
  const reading = readAll(pair.client, whole.length);
  assert.equal(await writev(pair.server, [head, body]), whole.length);
  const got = await reading;
  const partial = transferStats().writevPartialWrites - partialBefore;
  assert.ok(partial >= 3, `only ${partial} partial writes: the body was never split twice`);
  assert.equal(got.length, whole.length);
  assert.equal(await sha256(got), await sha256(whole), "the bytes received differ from those sent");
});

Deno.test("writev() rejects bad input with TypeError and a closed stream with ClosedError", async () => {
  await using pair = await tcpPair();
  await assert.rejects(writev(pair.server, "x" as unknown as Uint8Array[]), TypeError);
  await assert.rejects(writev(pair.server, [new Uint8Array(1), "x" as never]), TypeError);
  await assert.rejects(writev(null as unknown as TcpStream, []), TypeError);
  pair.server.close();
  await assert.rejects(writev(pair.server, [new Uint8Array(1)]), ClosedError);
  await assert.rejects(writev(pair.server, []), ClosedError);
});

Deno.test("writev() names the bad argument in its TypeError, and wants a stream to write to", async () => {
  await using pair = await tcpPair();
  const one = [new Uint8Array(1)];
  // An object that is not a stream: refused even with nothing to write (it has no waitWritable).
  for (
    const notStream of [
      { fd: pair.server.fd },
      null,
      // Callable, with the methods of a stream: still not one.
      Object.assign(() => {}, { fd: pair.server.fd, waitWritable: () => Promise.resolve() }),
    ]
  ) {
    await assert.rejects(writev(notStream as unknown as TcpStream, [new Uint8Array(1)]), {
      name: "TypeError",
      message: "writev: out must be a TcpStream",
    });
  }
  // An array-like is not an array: refused before anything is written.
  const arrayLike = { length: 1, 0: new Uint8Array(1) } as unknown as Uint8Array[];
  await assert.rejects(writev(pair.server, arrayLike), {
    name: "TypeError",
    message: "writev expects an array of Uint8Array",
  });
  await assert.rejects(writev(pair.server, one, "x" as never), {
    name: "TypeError",
    message: /^writev options must be an object/,
  });
  await assert.rejects(writev(pair.server, [new Uint8Array(1), "x" as never]), {
    name: "TypeError",
    message: /^writev: bufs\[1\] must be a Uint8Array/,
  });
  // None of the refused calls wrote a byte: the next one is all the peer sees.
  assert.equal(await writev(pair.server, [new TextEncoder().encode("ok")]), 2);
  pair.server.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(pair.client)), "ok");
});

Deno.test("writev() skips empty buffers, even a run of them longer than IOV_MAX", async () => {
  await using pair = await tcpPair();
  const a = randomBytes(1000);
  const b = randomBytes(3000);
  const empty = (n: number): Uint8Array<ArrayBuffer>[] =>
    Array.from({ length: n }, () => new Uint8Array(0));
  // 1,100 empty buffers first: a batch made only of them would write 0 bytes forever.
  const bufs = [...empty(1100), a, ...empty(5), b, ...empty(3)];
  const syscallsBefore = transferStats().writevSyscalls;
  assert.equal(await writev(pair.server, bufs), 4000);
  assert.equal(transferStats().writevSyscalls - syscallsBefore, 1, "more than one writev(2)");
  // One empty buffer first, then data.
  assert.equal(await writev(pair.server, [new Uint8Array(0), b]), 3000);
  pair.server.closeWrite();
  const got = await readAll(pair.client);
  const expected = new Uint8Array(7000);
  expected.set(a);
  expected.set(b, 1000);
  expected.set(b, 4000);
  assertSameBytes(got, expected, "bytes after the empty buffers");
});

Deno.test("writev() of a MAX_IO (1 GiB) buffer sends its first bytes exactly, until a reset", async () => {
  // A writev(2) result is read back as i32, so a buffer of MAX_IO bytes or more goes out in
  // capped steps. The buffer is zero-filled memory the kernel maps lazily, random in its first
  // 4 MiB; those are compared with what arrives, then the peer resets: moving all of it over
  // loopback would take seconds and prove nothing more about the first, capped step.
  const checked = 4 << 20;
  const big = new Uint8Array(MAX_IO);
  big.set(randomBytes(checked), 0);
  await using pair = await tcpPair();
  const syscallsBefore = transferStats().writevSyscalls;
  const writing = writev(pair.server, [big, new Uint8Array(10)]);
  const got = new Uint8Array(checked);
  let filled = 0;
  while (filled < checked) {
    const n = await pair.client.read(got.subarray(filled));
    assert.ok(n !== null, `EOF after ${filled} bytes`);
    filled += n;
  }
  assertSameBytes(got, big.subarray(0, checked), "the first 4 MiB of the 1 GiB buffer");
  reset(pair.client);
  await resetCode(writing);
  assert.ok(transferStats().writevSyscalls - syscallsBefore >= 1);
});

for (const withSignal of [false, true]) {
  Deno.test(`writev() waits for an edge after a would-block, never retries blindly (signal: ${withSignal})`, async () => {
    // Each would-block is followed by a wait for the next writability edge, and the kernel sends
    // that edge only once there is room: so every wait ends in a write that moves bytes. A writev
    // that retried without waiting would count many would-blocks per successful call.
    await using pair = await tcpPair();
    smallBuffers(pair.server, pair.client);
    const data = randomBytes(2 * 1024 * 1024 + 3);
    const before = transferStats();
    const reading = readSlowly(pair.client, data.length);
    const options = withSignal ? { signal: new AbortController().signal } : {};
    assert.equal(
      await writev(pair.server, [data.subarray(0, 10), data.subarray(10)], options),
      data.length,
    );
    const after = transferStats();
    assert.equal(await sha256(await reading), await sha256(data));
    const waits = after.readinessWaits - before.readinessWaits;
    const calls = after.writevSyscalls - before.writevSyscalls;
    assert.ok(waits > 0, "the small send buffer never filled: nothing was tested");
    assert.ok(
      waits <= calls - waits,
      `${waits} would-blocks for ${calls - waits} writes that moved bytes: it retried blindly`,
    );
  });
}

Deno.test("writev() to a reset peer fails as writev with EPIPE, counting no partial write", async () => {
  await using pair = await tcpPair();
  reset(pair.client);
  // The RST arrives at once over loopback; the first write after it may still be accepted.
  let error: unknown;
  for (let i = 0; i < 100 && error === undefined; i++) {
    const before = transferStats().writevPartialWrites;
    try {
      await writev(pair.server, [new Uint8Array(10), new Uint8Array(20)]);
    } catch (e) {
      error = e;
      assert.equal(transferStats().writevPartialWrites, before, "a failed call counted partial");
    }
  }
  assert.ok(error instanceof ErrnoError, `expected ErrnoError, got ${String(error)}`);
  assert.ok(["EPIPE", "ECONNRESET"].includes(error.code), error.code);
  assert.equal(error.syscall, "writev");
});

Deno.test("WritevCursor.reset() starts the next list from its first byte", async () => {
  await using pair = await tcpPair();
  const enc = new TextEncoder();
  const cursor = new WritevCursor();
  const first = [enc.encode("abc"), enc.encode("de")];
  assert.equal(cursor.step(pair.server.fd, first), 5);
  assert.deepEqual([cursor.index, cursor.skip], [2, 0]);
  cursor.reset();
  assert.deepEqual([cursor.index, cursor.skip], [0, 0]);
  assert.equal(cursor.step(pair.server.fd, [enc.encode("XY"), enc.encode("Z")]), 3);
  // advance() moves into a buffer where a write stopped, then past whole ones.
  cursor.reset();
  const list = [new Uint8Array(4), new Uint8Array(0), new Uint8Array(6)];
  cursor.advance(list, 3);
  assert.deepEqual([cursor.index, cursor.skip], [0, 3]);
  cursor.advance(list, 3);
  assert.deepEqual([cursor.index, cursor.skip], [2, 2]);
  pair.server.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(pair.client)), "abcdeXYZ");
});

// ---------------------------------------------------------------------------------------------
// splice

Deno.test("splice() relays byte-exact until EOF through a small pipe and a slow reader", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 5);
  await using source = await tcpPair();
  await using sink = await tcpPair();
  smallBuffers(sink.client, sink.server);
  const feeding = (async () => {
    await source.client.writeAll(data);
    source.client.closeWrite();
  })();
  const reading = readSlowly(sink.server, data.length);
  let progress = 0;
  const before = transferStats();
  const moved = await splice(source.server, sink.client, {
    pipeSize: 16384,
    onProgress: (n) => {
      assert(n > progress);
      progress = n;
    },
  });
  const after = transferStats();
  await feeding;
  assert.equal(moved, data.length);
  assert.equal(progress, data.length);
  assert.equal(await sha256(await reading), await sha256(data));
  // Counted: one call, every byte once, no fallback, and waits on a full sink or empty source.
  assert.equal(after.spliceCalls - before.spliceCalls, 1);
  assert.equal(after.spliceBytes - before.spliceBytes, data.length);
  assert.equal(after.spliceFallbacks - before.spliceFallbacks, 0);
  assert.equal(
    after.pipesCreated + after.pipesReused - before.pipesCreated - before.pipesReused,
    1,
  );
  assert.ok(
    after.readinessWaits > before.readinessWaits,
    "the small pipe and buffers never filled",
  );
  closeIdlePipes();
});

Deno.test("splice() with a length stops there and leaves the rest in the source", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  const data = randomBytes(300_000);
  const feeding = source.client.writeAll(data);
  assert.equal(await splice(source.server, sink.client, { length: 100_001 }), 100_001);
  assertSameBytes(await readAll(sink.server, 100_001), data.subarray(0, 100_001), "sink");
  assertSameBytes(await readAll(source.server, 199_999), data.subarray(100_001), "source");
  await feeding;
  // EOF before the length: resolves with what moved.
  source.client.closeWrite();
  assert.equal(await splice(source.server, sink.client, { length: 10 }), 0);
  closeIdlePipes();
});

Deno.test("splice() reuses pooled pipes instead of creating one per call", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  const before = transferStats();
  for (let i = 0; i < 5; i++) {
    const feeding = source.client.writeAll(new Uint8Array(1000).fill(i));
    assert.equal(await splice(source.server, sink.client, { length: 1000 }), 1000);
    assert.deepEqual(await readAll(sink.server, 1000), new Uint8Array(1000).fill(i));
    await feeding;
  }
  const after = transferStats();
  // Other test files share the pool (--parallel): with five calls, at least one reuse is ours.
  assert(after.pipesReused - before.pipesReused >= 1, "a pooled pipe should have been reused");
  closeIdlePipes();
});

Deno.test("splice() recv+send path (zeroCopy: false) is byte-exact and counted", async () => {
  const data = randomBytes(1024 * 1024);
  await using source = await tcpPair();
  await using sink = await tcpPair();
  const feeding = (async () => {
    await source.client.writeAll(data);
    source.client.closeWrite();
  })();
  const before = transferStats();
  const reading = readAll(sink.server, data.length);
  assert.equal(await splice(source.server, sink.client, { zeroCopy: false }), data.length);
  await feeding;
  assert.equal(await sha256(await reading), await sha256(data));
  const after = transferStats();
  assert(after.spliceFallbacks > before.spliceFallbacks);
  assert(after.spliceFallbackBytes - before.spliceFallbackBytes >= data.length);
});

Deno.test("splice() aborted while waiting rejects with the reason and holds no pipe", async () => {
  await using source = await tcpPair();
  await using sink = await tcpPair();
  const controller = new AbortController();
  const relaying = splice(source.server, sink.client, { signal: controller.signal });
  await source.client.writeAll(new Uint8Array(100));
  assert.deepEqual(await readAll(sink.server, 100), new Uint8Array(100));
  controller.abort(new Error("enough"));
  await assert.rejects(relaying, /enough/);
  closeIdlePipes();
});

Deno.test("splice() rejects bad arguments before taking a pipe", async () => {
  await using pair = await tcpPair();
  await assert.rejects(splice(pair.server, pair.client, { pipeSize: 100 }), RangeError);
  await assert.rejects(splice(pair.server, pair.client, { length: -1 }), RangeError);
  await assert.rejects(splice(pair.server, {} as TcpStream), TypeError);
  pair.client.close();
  await assert.rejects(splice(pair.server, pair.client), ClosedError);
});

// ---------------------------------------------------------------------------------------------

/** One of everything: transfers that end well, aborted ones, and ones hitting a reset peer. */
async function transferCycle(data: Uint8Array<ArrayBuffer>, path: string): Promise<void> {
  {
    await using pair = await tcpPair();
    const reading = readAll(pair.client, data.length);
    await sendFile(pair.server, path);
    await reading;
    await writev(pair.server, [data.subarray(0, 10), data.subarray(10, 20)]);
    await readAll(pair.client, 20);
    const controller = new AbortController();
    smallBuffers(pair.server, pair.client);
    await assert.rejects(
      sendFile(pair.server, path, {
        signal: controller.signal,
        onProgress: () => controller.abort(),
      }),
    );
    reset(pair.client);
    await assert.rejects(sendFile(pair.server, path));
  }
  {
    await using source = await tcpPair();
    await using sink = await tcpPair();
    const feeding = source.client.writeAll(data.subarray(0, 100_000));
    const reading = readAll(sink.server, 100_000);
    assert.equal(await splice(source.server, sink.client, { length: 100_000 }), 100_000);
    await feeding;
    await reading;
    const controller = new AbortController();
    const relaying = splice(source.server, sink.client, { signal: controller.signal });
    await source.client.writeAll(data.subarray(0, 1000));
    await readAll(sink.server, 1000);
    controller.abort();
    await assert.rejects(relaying);
    const failing = splice(source.server, sink.client);
    reset(sink.server);
    await source.client.writeAll(data.subarray(0, 1000));
    await assert.rejects(failing);
  }
}

Deno.test("sendFile, writev and splice, finished, aborted or reset, leave no fd open", async () => {
  const data = randomBytes(512 * 1024);
  const path = await tempFile("cycle.bin", data);
  await assertNoNewFd(() => transferCycle(data, path));
});

Deno.test("200 transfer cycles in a process of their own end with the exact fd count they began with", async () => {
  // In this process other test files open and close descriptors at the same time; a child
  // process runs the cycle alone, so its count is exact.
  const script = `${dir()}/fd_cycles.ts`;
  const self = JSON.stringify(import.meta.url);
  await Deno.writeTextFile(
    script,
    `import { transferCycleForChild } from ${self};
     await transferCycleForChild(${JSON.stringify(`${dir()}/child.bin`)}, 200);`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", script],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(60_000), // a bound, not a measure: the run takes about a second
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  assert.equal(result.cycles, 200);
  assert.equal(result.after, result.before, `fds leaked: ${JSON.stringify(result)}`);
});

/**
 * Descriptors of the kinds netio's transfers open: TCP sockets, pipes, and the file at `path`.
 * The child runs with -A, so it may read /proc/self/fd. Counting by kind keeps out the Deno
 * runtime's own lazily created descriptors (a Unix socketpair appears once, some time into a
 * busy run, with nothing of netio's involved).
 */
function transferFds(path: string): number {
  const tcp = new Set<string>();
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode !== undefined) tcp.add(inode);
    }
  }
  let n = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let link: string;
    try {
      link = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // the directory's own descriptor, closed by now
    }
    const socket = /^socket:\[(\d+)\]$/.exec(link);
    if (link.startsWith("pipe:") || link === path || (socket && tcp.has(socket[1]!))) n++;
  }
  return n;
}

/**
 * The child side of the test above: warm up (the reactor opens its descriptors once), count,
 * run `cycles` transfer cycles, close the idle pipes, count again.
 */
export async function transferCycleForChild(path: string, cycles: number): Promise<void> {
  const data = randomBytes(256 * 1024); // transferCycle() splices 100,000 bytes of it
  await Deno.writeFile(path, data);
  await transferCycle(data, path);
  closeIdlePipes();
  const before = transferFds(path);
  for (let i = 0; i < cycles; i++) await transferCycle(data, path);
  closeIdlePipes();
  const after = transferFds(path);
  console.log(JSON.stringify({ cycles, before, after, stats: transferStats() }));
}

// ---------------------------------------------------------------------------------------------
// examples/send_file.ts

Deno.test("send_file example: sends the file byte-exact; no progress bar when stdout is a pipe", async () => {
  const data = randomBytes(9 * 1024 * 1024 + 1); // over the bar's 8 MiB threshold
  const path = await tempFile("example.bin", data);
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      new URL("../examples/send_file.ts", import.meta.url).pathname,
      "--to",
      `127.0.0.1:${listener.addr.port}`,
      path,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  using conn = await listener.accept();
  const [received, out] = await Promise.all([readAll(conn), child.output()]);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(await sha256(received), await sha256(data));
  assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^sent ${data.length} bytes in `));
  assert.equal(new TextDecoder().decode(out.stderr), "");
});

Deno.test("send_file example: progressLine() draws the bar, the percentage and the sizes", () => {
  assert.equal(
    progressLine(5 * 1024 * 1024, 10 * 1024 * 1024, 2, 10),
    "[#####-----]  50%  5.0 MiB / 10.0 MiB  2.5 MiB/s",
  );
  assert.equal(progressLine(0, 0, 0, 4), "[####] 100%  0 B / 0 B  ");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
});
