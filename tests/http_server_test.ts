import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import {
  FixedResponse,
  type HttpRequest,
  type HttpResponse,
  type HttpServer,
  Reactor,
  serveHttp,
  type ServeHttpOptions,
  TcpStream,
} from "../mod.ts";
import { openFds, readStrictResponse, until } from "./helpers.ts";
import { getOption } from "../lib/net/options.ts";
import { sockAddr } from "../lib/net/_sockaddr.ts";

Reactor.default(); // owns its fds for the process lifetime

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const enc = (s: string): Uint8Array => encoder.encode(s);
/** Bytes from a string of code points 0-255 (for NUL and other CTLs). */
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const TEXT = Object.freeze({ "Content-Type": "text/plain" });
const hello = new FixedResponse(200, { headers: TEXT, body: "Hello, World!" });

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

/**
 * 900 KiB: more than a fresh loopback connection whose client does not read takes at once (about
 * 128 KiB of receive buffer, 16 KiB of send buffer), less than the server's batch limit (1 MiB),
 * so the answers after it are parsed in the same batch and must queue behind it.
 */
const BIG = new Uint8Array(900 << 10).fill(98);

/** Routes: `/`, `/echo`, `/path/...` (echoes the target), `/slow`, `/throw`, `/big`. */
function testHandler(
  gate: { slow?: Deferred } = {},
): (r: HttpRequest) => HttpResponse | Promise<HttpResponse> {
  return (request) => {
    const path = request.path;
    if (path === "/") return hello;
    if (path === "/echo") return { body: request.body };
    if (path.startsWith("/path/")) return { headers: TEXT, body: request.target };
    if (path === "/slow") {
      const target = request.target; // the request view dies with the batch: copy first
      return (gate.slow?.promise ?? Promise.resolve()).then(() => ({ body: `slow ${target}` }));
    }
    if (path === "/throw") throw new Error("handler failure (expected by the test)");
    if (path === "/big") return { body: BIG };
    return { status: 404, body: "not found\n" };
  };
}

function start(options: Partial<ServeHttpOptions> = {}): HttpServer {
  return serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: testHandler(),
    onError: () => {},
    ...options,
  });
}

/** A raw client: writes bytes and reads responses with {@linkcode readStrictResponse}. */
class Client {
  conn: Deno.TcpConn;
  #buf = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(server: HttpServer): Promise<Client> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    conn.setNoDelay(true);
    return new Client(conn);
  }

  async write(data: Uint8Array | string): Promise<void> {
    const b = typeof data === "string" ? enc(data) : data;
    let at = 0;
    while (at < b.length) at += await this.conn.write(b.subarray(at));
  }

  /** Writes one byte at a time, giving the server's reactor a turn between bytes. */
  async writeBytewise(data: Uint8Array | string): Promise<void> {
    const b = typeof data === "string" ? enc(data) : data;
    for (let i = 0; i < b.length; i++) {
      await this.write(b.subarray(i, i + 1));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async #fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(this.#buf.length * 2);
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = grown;
    }
    let n: number | null;
    try {
      n = await this.conn.read(this.#buf.subarray(this.#end));
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return false;
      throw error;
    }
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Reads one response; null when the connection ends first. */
  async response(
    options: { head?: boolean } = {},
  ): Promise<{ status: number; headers: Map<string, string>; body: string } | null> {
    for (;;) {
      const r = readStrictResponse(this.#buf, this.#start, this.#end, options.head ?? false);
      if (r !== 0) {
        const result = { status: r.status, headers: r.headers, body: decoder.decode(r.body) };
        this.#start += r.consumed;
        return result;
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** True when the server closes the connection (EOF or reset) without sending anything more. */
  async closedByServer(): Promise<boolean> {
    if (this.#end > this.#start) return false;
    return !(await this.#fill());
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

const GET = (target: string, extra = ""): string =>
  `GET ${target} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;

// ---------------------------------------------------------------------------------------------
// Keep-alive and pipelining

Deno.test("16 pipelined requests in one write are answered in order on one connection", async () => {
  await using server = start();
  const client = await Client.connect(server);
  try {
    let batch = "";
    for (let i = 0; i < 16; i++) batch += GET(`/path/${i}`);
    await client.write(batch);
    for (let i = 0; i < 16; i++) {
      const r = await client.response();
      assert.equal(r?.status, 200);
      assert.equal(r?.body, `/path/${i}`);
      assert.equal(r?.headers.get("connection"), "keep-alive");
    }
    assert.equal(server.stats().accepted, 1);
    assert.equal(server.stats().requests, 16);
  } finally {
    client.close();
  }
});

Deno.test("keep-alive: one connection serves request after request", async () => {
  await using server = start();
  const client = await Client.connect(server);
  try {
    for (let i = 0; i < 20; i++) {
      await client.write(
        i % 2 ? GET("/") : "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
      );
      const r = await client.response();
      assert.equal(r?.status, 200);
      assert.equal(r?.body, i % 2 ? "Hello, World!" : "abc");
    }
    assert.equal(server.stats().accepted, 1);
  } finally {
    client.close();
  }
});

Deno.test("pipelined responses stay in order around an async handler", async () => {
  const gate = { slow: deferred() };
  await using server = start({ handler: testHandler(gate) });
  const client = await Client.connect(server);
  try {
    await client.write(GET("/slow?1") + GET("/path/2") + GET("/slow?3") + GET("/path/4"));
    await until(() => server.stats().pendingHandlers === 1, "the async handler");
    gate.slow.resolve();
    assert.equal((await client.response())?.body, "slow /slow?1");
    assert.equal((await client.response())?.body, "/path/2");
    assert.equal((await client.response())?.body, "slow /slow?3");
    assert.equal((await client.response())?.body, "/path/4");
  } finally {
    client.close();
  }
});

Deno.test("an answer too big for the socket buffer, then async answers, then a close: all in order", async () => {
  const gate = { slow: deferred() };
  await using server = start({ handler: testHandler(gate) });
  const client = await Client.connect(server);
  try {
    await client.write(GET("/big") + GET("/slow?1") + GET("/path/2", "Connection: close\r\n"));
    await until(() => server.stats().pendingHandlers === 1, "the async handler");
    gate.slow.resolve(); // answered while the big body still waits for the client to read
    await until(() => server.stats().pendingHandlers === 0, "the async handler to finish");
    const big = await client.response();
    assert.equal(big?.body.length, BIG.length);
    assert.equal((await client.response())?.body, "slow /slow?1");
    const last = await client.response();
    assert.equal(last?.body, "/path/2");
    assert.equal(last?.headers.get("connection"), "close");
    assert.equal(await client.closedByServer(), true);
  } finally {
    client.close();
  }
});

Deno.test("an async answer to a Connection: close request is sent before the close", async () => {
  const gate = { slow: deferred() };
  await using server = start({ handler: testHandler(gate) });
  const client = await Client.connect(server);
  try {
    await client.write(GET("/slow", "Connection: close\r\n") + GET("/path/never"));
    await until(() => server.stats().pendingHandlers === 1, "the async handler");
    gate.slow.resolve();
    const r = await client.response();
    assert.equal(r?.body, "slow /slow");
    assert.equal(r?.headers.get("connection"), "close");
    assert.equal(await client.closedByServer(), true);
    assert.equal(server.stats().requests, 1);
  } finally {
    client.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Bodies

Deno.test("Content-Length and chunked request bodies are echoed, also when fed byte by byte", async () => {
  await using server = start();
  const requests = [
    ["POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world", "hello world"],
    [
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n",
      "hello world",
    ],
    ["GET /path/x?y=1 HTTP/1.1\r\nHost: t\r\n\r\n", "/path/x?y=1"],
    ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "Hello, World!"],
  ];
  for (const bytewise of [false, true]) {
    const client = await Client.connect(server);
    try {
      for (const [request, body] of requests) {
        await (bytewise ? client.writeBytewise(request!) : client.write(request!));
        const r = await client.response();
        assert.equal(r?.status, 200, request);
        assert.equal(r?.body, body);
      }
    } finally {
      client.close();
    }
  }
});

Deno.test("a 3 MiB body and a 3 MiB answer cross intact (buffer growth, partial writes)", async () => {
  const size = 3 << 20;
  await using server = start({ maxBodyBytes: 4 << 20 });
  const client = await Client.connect(server);
  try {
    const body = new Uint8Array(size);
    for (let i = 0; i < size; i++) body[i] = 97 + (i % 26);
    const head = enc(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
    const writing = client.write(new Uint8Array([...head, ...body]));
    const r = await client.response();
    await writing;
    assert.equal(r?.status, 200);
    assert.equal(r?.body.length, size);
    assert.equal(r?.body, decoder.decode(body));
    // The connection is still usable.
    await client.write(GET("/"));
    assert.equal((await client.response())?.body, "Hello, World!");
  } finally {
    client.close();
  }
});

Deno.test("HEAD gets the head without the body; Expect: 100-continue gets 100 first", async () => {
  await using server = start();
  const client = await Client.connect(server);
  try {
    await client.write("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    const head = await client.response({ head: true });
    assert.equal(head?.status, 200);
    assert.equal(head?.headers.get("content-length"), "13");
    assert.equal(head?.body, "");
    await client.write(GET("/"));
    assert.equal((await client.response())?.body, "Hello, World!");

    await client.write(
      "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    assert.equal((await client.response())?.status, 100);
    await client.write("ping");
    const r = await client.response();
    assert.equal(r?.status, 200);
    assert.equal(r?.body, "ping");
  } finally {
    client.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Rejections

const LIMITS = { maxHeaderBytes: 512, maxUrlBytes: 128, maxBodyBytes: 1024 };

const rejections: [string, string | Uint8Array, number][] = [
  [
    "header block over the limit",
    `GET / HTTP/1.1\r\nHost: t\r\nX: ${"a".repeat(600)}\r\n\r\n`,
    431,
  ],
  ["target over the limit", `GET /${"a".repeat(200)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414],
  ["NUL in a header value", bytes("GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n"), 400],
  ["CTL in the target", bytes("GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n"), 400],
  ["malformed request line", "GET/ HTTP/1.1\r\nHost: t\r\n\r\n", 400],
  ["missing Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400],
  [
    "whitespace before a colon",
    "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n",
    400,
  ],
  [
    "Content-Length with Transfer-Encoding",
    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  [
    "two Content-Length fields",
    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    400,
  ],
  ["malformed Content-Length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\na", 400],
  ["body over the limit", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413],
  [
    "unimplemented transfer coding",
    "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    501,
  ],
  [
    "chunked not last",
    "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    400,
  ],
  ["bad chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
  ["HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505],
];

for (const [name, request, status] of rejections) {
  Deno.test(`rejects ${name} with ${status} and closes, whole or byte by byte`, async () => {
    await using server = start(LIMITS);
    for (const bytewise of [false, true]) {
      const client = await Client.connect(server);
      try {
        await (bytewise ? client.writeBytewise(request) : client.write(request));
        const r = await client.response();
        assert.equal(r?.status, status);
        assert.equal(r?.headers.get("connection"), "close");
        assert.equal(await client.closedByServer(), true);
      } finally {
        client.close();
      }
    }
    assert.equal(server.stats().rejectedByStatus[status], 2);
  });
}

Deno.test("smuggling: a request hidden in a CL+TE body or after a framing error is never answered", async () => {
  await using server = start();
  const attempts = [
    // CL.TE: a front end using Content-Length would forward the GET as a second request.
    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 42\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "0\r\n\r\nGET /path/smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
    // Conflicting lengths, then a pipelined request.
    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 44\r\n\r\nabc" +
    GET("/path/smuggled"),
    // Transfer-Encoding with a comma list hiding chunked behind an unknown coding.
    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" +
    GET("/path/smuggled"),
  ];
  for (const attempt of attempts) {
    const client = await Client.connect(server);
    try {
      await client.write(attempt);
      const r = await client.response();
      assert.equal(r?.status, 400, attempt);
      assert.equal(await client.closedByServer(), true);
    } finally {
      client.close();
    }
  }
  assert.equal(server.stats().requests, 0);
});

Deno.test("a handler that throws gets a 500 and the connection closes", async () => {
  await using server = start();
  const client = await Client.connect(server);
  try {
    await client.write(GET("/throw") + GET("/"));
    const r = await client.response();
    assert.equal(r?.status, 500);
    assert.equal(r?.headers.get("connection"), "close");
    assert.equal(await client.closedByServer(), true);
  } finally {
    client.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Connection lifecycle

Deno.test("half-close: a client that shuts its write side after a request still gets the answer", async () => {
  await using server = start();
  const client = await Client.connect(server);
  try {
    await client.write(GET("/path/a") + GET("/path/b"));
    await client.conn.closeWrite();
    assert.equal((await client.response())?.body, "/path/a");
    assert.equal((await client.response())?.body, "/path/b");
    assert.equal(await client.closedByServer(), true);
  } finally {
    client.close();
  }
  await until(() => server.stats().connections === 0, "the server to close its side");
});

Deno.test("a storm of 100 clients resetting (linger 0) leaves the server healthy", async () => {
  await using server = start();
  const streams = await Promise.all(
    Array.from(
      { length: 100 },
      () => TcpStream.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    ),
  );
  for (const [i, stream] of streams.entries()) {
    // Some reset with nothing sent, some mid-request, some with a whole request unanswered.
    if (i % 3 === 1) await stream.writeAll(enc("GET / HTTP/1.1\r\nHo"));
    if (i % 3 === 2) await stream.writeAll(enc(GET("/") + GET("/")));
  }
  await until(() => server.stats().accepted === 100, "every connection accepted");
  for (const stream of streams) {
    stream.setLinger(0);
    stream.close();
  }
  await until(() => server.stats().connections === 0, "every reset connection closed");
  const client = await Client.connect(server);
  try {
    await client.write(GET("/"));
    assert.equal((await client.response())?.body, "Hello, World!");
  } finally {
    client.close();
  }
});

Deno.test("at the connection cap, new clients wait in the backlog and are served once one closes", async () => {
  await using server = start({ maxConnections: 2 });
  const a = await Client.connect(server);
  const b = await Client.connect(server);
  let c: Client | undefined;
  try {
    for (const client of [a, b]) {
      await client.write(GET("/"));
      assert.equal((await client.response())?.status, 200);
    }
    c = await Client.connect(server); // completes in the kernel's backlog
    await c.write(GET("/path/third"));
    const answer = c.response();
    await until(() => server.stats().acceptPaused, "accepting to pause");
    assert.equal(server.stats().connections, 2);
    assert.equal(server.stats().accepted, 2);
    a.close();
    assert.equal((await answer)?.body, "/path/third");
    assert.equal(server.stats().accepted, 3);
    await until(() => !server.stats().acceptPaused || server.stats().connections === 2, "resume");
  } finally {
    a.close();
    b.close();
    c?.close();
  }
});

Deno.test("graceful shutdown: idle connections close, the request in flight completes, new ones are refused", async () => {
  const gate = { slow: deferred() };
  const server = start({ handler: testHandler(gate) });
  const port = server.addr.port;
  const busy = await Client.connect(server);
  const idle = await Client.connect(server);
  try {
    await idle.write(GET("/"));
    assert.equal((await idle.response())?.status, 200);
    await busy.write(GET("/slow"));
    await until(() => server.stats().pendingHandlers === 1, "the request in flight");
    const done = server.shutdown();
    assert.equal(server.stats().shuttingDown, true);
    assert.equal(await idle.closedByServer(), true);
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
    gate.slow.resolve();
    const r = await busy.response();
    assert.equal(r?.body, "slow /slow");
    assert.equal(r?.headers.get("connection"), "close");
    assert.equal(await busy.closedByServer(), true);
    await done;
    assert.equal(server.stats().connections, 0);
  } finally {
    busy.close();
    idle.close();
    await server.shutdown();
  }
});

Deno.test("an idle keep-alive connection is closed after the idle timeout", async () => {
  await using server = start({ idleTimeoutMs: 50 });
  const client = await Client.connect(server);
  try {
    await client.write(GET("/"));
    assert.equal((await client.response())?.status, 200);
    assert.equal(await client.closedByServer(), true);
    assert.equal(server.stats().idleTimeouts, 1);
  } finally {
    client.close();
  }
});

Deno.test("header timeout: a slow head gets 408 and a close; a silent connection just closes", async () => {
  await using server = start({ headerTimeoutMs: 400 });
  const slow = await Client.connect(server);
  const silent = await Client.connect(server);
  try {
    await slow.write("GET / HTTP/1.1\r\nHo");
    const r = await slow.response();
    assert.equal(r?.status, 408);
    assert.equal(await slow.closedByServer(), true);
    assert.equal(await silent.closedByServer(), true);
    assert.equal(server.stats().headerTimeouts, 2);
  } finally {
    slow.close();
    silent.close();
  }
});

Deno.test("the header deadline of a later request starts at its first byte, not at the connection's start", async () => {
  await using server = start({ headerTimeoutMs: 200 });
  const client = await Client.connect(server);
  try {
    // Requests keep arriving, each complete: the connection lives well past one header timeout.
    for (let i = 0; i < 6; i++) {
      await client.write(GET("/"));
      assert.equal((await client.response())?.status, 200);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    assert.equal(server.stats().headerTimeouts, 0);
  } finally {
    client.close();
  }
});

Deno.test("aborting the signal option shuts the server down", async () => {
  const controller = new AbortController();
  const server = start({ signal: controller.signal });
  const client = await Client.connect(server);
  try {
    await client.write(GET("/"));
    assert.equal((await client.response())?.status, 200);
    controller.abort();
    assert.equal(server.stats().shuttingDown, true);
    assert.equal(await client.closedByServer(), true);
    await server.finished;
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("the access log gets one line per answer, rejections included", async () => {
  const lines: string[] = [];
  await using server = start({ accessLog: (line) => lines.push(line) });
  const client = await Client.connect(server);
  try {
    await client.write(GET("/path/logged?x=1") + "BAD REQUEST LINE\r\n\r\n");
    assert.equal((await client.response())?.status, 200);
    assert.equal((await client.response())?.status, 400);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^127\.0\.0\.1:\d+ "GET \/path\/logged\?x=1 HTTP\/1\.1" 200 \d+$/);
    assert.match(lines[1]!, /^127\.0\.0\.1:\d+ - 400 \d+$/);
  } finally {
    client.close();
  }
});

Deno.test("bad options throw before anything is bound", () => {
  assert.throws(() => serveHttp({} as ServeHttpOptions), TypeError);
  assert.throws(() => start({ maxConnections: 0 }), RangeError);
  assert.throws(() => start({ idleTimeoutMs: -1 }), RangeError);
  assert.throws(() => start({ maxHeaderBytes: 0 }), RangeError);
});

// ---------------------------------------------------------------------------------------------
// The process as a whole, in subprocesses (test files share this process's fd table)

const FD_SCRIPT = `
import { Reactor, serveHttp, TcpStream } from "__MOD__";
import { fdCount } from "__HELPERS__";
Reactor.default();
const enc = (s) => new TextEncoder().encode(s);
const cycle = async (headerTimeoutMs) => {
  const server = serveHttp({ port: 0, headerTimeoutMs, onError: () => {}, handler: () => ({ body: "ok" }) });
  const port = server.addr.port;
  const clients = [];
  for (let i = 0; i < 50; i++) {
    const c = await TcpStream.connect({ hostname: "127.0.0.1", port });
    if (i % 5 === 0) await c.writeAll(enc("GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"));
    if (i % 5 === 1) await c.writeAll(enc("GET / HTTP/1.1\\r\\nHo"));
    if (i % 5 === 2) await c.writeAll(enc("BAD\\r\\n\\r\\n"));
    if (i % 5 === 3) { c.setLinger(0); c.close(); continue; }
    clients.push(c);
  }
  while (server.stats().accepted < 50) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  for (const c of clients) c.close();
  await server.shutdown();
};
// Warm up: Deno opens descriptors of its own once (a socket pair about half a second after the
// process starts, measured with strace): take the baseline after that.
await cycle(20);
await new Promise((r) => setTimeout(r, Math.max(100, 1500 - performance.now())));
const before = fdCount();
for (let i = 0; i < 3; i++) await cycle(i === 1 ? 20 : 10_000);
await new Promise((r) => setTimeout(r, 100));
console.log(JSON.stringify({ before, after: fdCount() }));
`;

Deno.test("the process's fd count is back at its baseline after servers, clients, errors and timeouts", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      file,
      FD_SCRIPT.replace("__MOD__", new URL("../mod.ts", import.meta.url).href)
        .replace("__HELPERS__", new URL("./helpers.ts", import.meta.url).href),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", file],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    const result = JSON.parse(decoder.decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(result.after, result.before, "descriptors leaked");
  } finally {
    await Deno.remove(file);
  }
});

const EXAMPLE = new URL("../examples/http_server.ts", import.meta.url).pathname;
const EXAMPLE_FLAGS = ["run", "--allow-ffi", "--allow-net", "--allow-read", "--allow-env"];

Deno.test("examples/http_server.ts --help describes its flags", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...EXAMPLE_FLAGS, EXAMPLE, "--help"],
    stdin: "null",
  }).output();
  assert.equal(out.code, 0);
  const text = decoder.decode(out.stdout);
  for (const flag of ["--host", "--port", "--max-connections", "--idle-timeout-ms", "--workers"]) {
    assert.ok(text.includes(flag), flag);
  }
});

for (const workers of [1, 2]) {
  Deno.test(`examples/http_server.ts --workers ${workers} serves its routes and exits on SIGTERM`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [...EXAMPLE_FLAGS, EXAMPLE, "--port", "0", "--workers", String(workers)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const errors: string[] = [];
    const draining = (async () => {
      for (let r = await stderr.read(); !r.done; r = await stderr.read()) errors.push(r.value);
    })();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let text = "";
      while (!/listening on \d+\n/.test(text)) {
        const r = await lines.read();
        assert.ok(!r.done, `exited before listening: ${errors.join("")}`);
        text += r.value;
      }
      const port = Number(/listening on (\d+)/.exec(text)![1]);
      const get = async (path: string, init?: RequestInit): Promise<[number, string]> => {
        const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
        return [response.status, await response.text()];
      };
      assert.deepEqual(await get("/"), [200, "Hello, World!"]);
      assert.deepEqual(await get("/echo", { method: "POST", body: "echo me" }), [200, "echo me"]);
      assert.deepEqual(await get("/nope"), [404, "Not Found\n"]);
      // Every thread serves: new connections (SO_REUSEPORT spreads them by their 4-tuple) until
      // each thread has answered at least once. 64 connections miss one of 2 workers with
      // probability 2^-63.
      const expected = workers === 1
        ? ["main"]
        : Array.from({ length: workers }, (_, i) => `worker ${i + 1}`);
      const seen = new Set<string>();
      for (let i = 0; i < 64 && seen.size < expected.length; i++) {
        const response = await fetch(`http://127.0.0.1:${port}/thread`, {
          headers: { Connection: "close" },
        });
        seen.add(await response.text());
      }
      assert.deepEqual([...seen].sort(), expected, "threads that answered");
      child.kill("SIGTERM");
      const status = await child.status;
      assert.equal(status.code, 0, errors.join(""));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
      await lines.cancel();
      await draining;
    }
  });
}

/** The server side of `client`'s connection to `server`: its fd, found among this process's. */
function serverSideFd(server: HttpServer, client: Deno.TcpConn): number {
  const port = (client.localAddr as Deno.NetAddr).port;
  for (const fd of openFds().keys()) {
    try {
      if (sockAddr(fd, false).port !== server.addr.port) continue;
      if (sockAddr(fd, true).port === port) return fd;
    } catch {
      // not a connected socket
    }
  }
  throw new Error("the server's side of the connection was not found");
}

Deno.test("accepted connections have TCP_NODELAY unless noDelay is false", async () => {
  for (const noDelay of [true, false, undefined]) {
    await using server = start(noDelay === undefined ? {} : { noDelay });
    for (let i = 0; i < 3; i++) {
      const client = await Client.connect(server);
      try {
        await client.write(GET("/"));
        assert.equal((await client.response())?.status, 200);
        const fd = serverSideFd(server, client.conn);
        assert.equal(getOption(fd, "noDelay"), noDelay ?? true, `noDelay ${noDelay}, ${i}`);
      } finally {
        client.close();
      }
    }
  }
});
