/**
 * The server refuses a bad request head at its first bad byte: a client that trickles a head
 * which can never become valid gets its 400/414/431/505 at once, while the blank line that would
 * end the head is never sent and the header deadline is a minute away.
 */
import assert from "node:assert/strict";
import { type HttpServer, Reactor, serveHttp } from "../mod.ts";

Reactor.default(); // owns its fds for the process lifetime

const encoder = new TextEncoder();
/** Bytes from a string of code points 0-255 (for NUL, CTLs and obs-text). */
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Long enough that an answer which waits for the header deadline never comes in the test. */
const HEADER_TIMEOUT_MS = 60_000;
/** How long a test waits for the early answer before it fails (it comes in milliseconds). */
const ANSWER_WAIT_MS = 10_000;
const LIMITS = { maxHeaderBytes: 512, maxUrlBytes: 128, maxBodyBytes: 1024, maxHeaders: 4 };
const HOST = "Host: t\r\n";

function start(): HttpServer {
  return serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: () => ({ body: "ok" }),
    onError: () => {},
    headerTimeoutMs: HEADER_TIMEOUT_MS,
    ...LIMITS,
  });
}

/** [what, bad prefix (never holding the blank line), status]. */
const EARLY: [string, string, number][] = [
  ["a bare CR in the request line", "GET / HTTP/1.1\rX", 400],
  ["a bare CR in a field value", `GET / HTTP/1.1\r\n${HOST}X: a\rb`, 400],
  ["a bare CR where the blank line goes", `GET / HTTP/1.1\r\n${HOST}\rX`, 400],
  ["whitespace before the first field", "GET / HTTP/1.1\r\n Host: t", 400],
  ["obs-fold", `GET / HTTP/1.1\r\n${HOST}X: a\r\n\tb`, 400],
  ["an invalid method byte", "G(T / HTTP/1.1", 400],
  ["a CTL in the target", "GET /a\x01b HTTP/1.1", 400],
  ["a target over maxUrlBytes", `GET /${"a".repeat(200)}`, 414],
  ["HTTX/1.1", "GET / HTTX/1.1", 400],
  ["HTTP/2.0", "GET / HTTP/2.0", 505],
  ["HTTP/1.2", "GET / HTTP/1.2", 505],
  ["a Content-Length that overflows", `POST / HTTP/1.1\r\n${HOST}Content-Length: 99999999999`, 413],
  ["a malformed Content-Length", `POST / HTTP/1.1\r\n${HOST}Content-Length: 1x`, 400],
  [
    "a duplicate Content-Length that disagrees",
    `POST / HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 6`,
    400,
  ],
  ["a CTL in a field name", `GET / HTTP/1.1\r\n${HOST}X\x00Y: a`, 400],
  ["a CTL in a field value", `GET / HTTP/1.1\r\n${HOST}X: a\x7fb`, 400],
  ["a field over maxHeaders", `GET / HTTP/1.1\r\n${HOST}A: 1\r\nB: 2\r\nC: 3\r\nD: 4`, 431],
  ["a header section over maxHeaderBytes", `GET / HTTP/1.1\r\n${HOST}X: ${"a".repeat(600)}`, 431],
];

/** Reads until the peer closes: everything it sent. */
async function readToEnd(conn: Deno.TcpConn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) break;
      throw error;
    }
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder("latin1").decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

/** `promise`, or a rejection with `message` after `ms` (the timer never outlives the test). */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

for (const [what, prefix, status] of EARLY) {
  Deno.test(`${what}, sent one byte per write, gets ${status} before the blank line`, async () => {
    const input = bytes(prefix);
    assert.equal(prefix.includes("\r\n\r\n"), false);
    await using server = start();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      conn.setNoDelay(true);
      // Reading starts first: the answer may come while the prefix is still being written.
      const answer = readToEnd(conn);
      answer.catch(() => {}); // awaited below; a read cut short by a failed test's close is moot
      try {
        for (let i = 0; i < input.length; i++) await conn.write(input.subarray(i, i + 1));
      } catch (error) {
        // A write after the server refused and closed: the answer is already on its way.
        const closed = error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.BrokenPipe;
        if (!closed) throw error;
      }
      const response = await within(
        answer,
        ANSWER_WAIT_MS,
        `no early rejection of ${what}: nothing within ${ANSWER_WAIT_MS} ms`,
      );
      assert.match(response, new RegExp(`^HTTP/1\\.1 ${status} `), JSON.stringify(response));
      assert.match(response, /\r\nconnection: close\r\n/i);
      assert.equal(server.stats().rejectedByStatus[status], 1);
      assert.equal(server.stats().headerTimeouts, 0);
    } finally {
      conn.close();
    }
  });
}

Deno.test("two pipelined valid requests sent one byte per write are both answered", async () => {
  await using server = start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    conn.setNoDelay(true);
    const head = encoder.encode(
      `POST / HTTP/1.1\r\n${HOST}Content-Length:\t 2 \r\nX: \xe9\r\n\r\nhi` +
        `GET / HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
    );
    const answer = readToEnd(conn);
    for (let i = 0; i < head.length; i++) await conn.write(head.subarray(i, i + 1));
    const response = await within(answer, ANSWER_WAIT_MS, "no answer to a valid request");
    assert.equal(response.match(/HTTP\/1\.1 200 /g)?.length, 2, JSON.stringify(response));
    assert.equal(server.stats().requests, 2);
  } finally {
    conn.close();
  }
});
