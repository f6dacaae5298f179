/**
 * serve(): streaming both ways, backpressure, client aborts, 100-continue, body limits,
 * upgrades, file responses by sendfile, and descriptors, on real loopback sockets.
 */
import assert from "node:assert/strict";
import { Reactor, serve, serveFile, transferStats, upgrade } from "../mod.ts";
import type { HttpServer, ServeHandler, ServeOptions } from "../mod.ts";
import { leakedFds, openFds, randomBytes, sha256, until } from "./helpers.ts";

// The reactor's own descriptors exist before any test counts descriptors.
Reactor.default();

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(handler: ServeHandler, options: ServeOptions = {}): HttpServer {
  return serve({ hostname: "127.0.0.1", port: 0, onListen(): void {}, ...options }, handler);
}

/** Reads from a raw connection until `done(text so far)` holds or EOF; bounded. */
async function readUntil(
  conn: Deno.Conn,
  done: (text: string) => boolean,
  limit = 1 << 24,
): Promise<string> {
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  while (!done(text) && text.length < limit) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("serve: a string body gets Content-Length, HEAD and 204 send no body, Set-Cookie stays apart", async () => {
  await using server = start((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/none") return new Response(null, { status: 204 });
    const headers = new Headers();
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2; Path=/");
    return new Response("hello", { headers });
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode(
    "GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  ));
  const text = await readUntil(conn, () => false);
  conn.close();
  const responses = text.split("HTTP/1.1 ").slice(1);
  assert.equal(responses.length, 3, text);
  assert.match(responses[0]!, /^200 OK\r\n/);
  assert.match(responses[0]!, /\r\ncontent-length: 5\r\n|\r\nContent-Length: 5\r\n/i);
  assert.equal((responses[0]!.match(/set-cookie: /gi) ?? []).length, 2, responses[0]);
  assert.ok(responses[0]!.endsWith("\r\n\r\nhello"), responses[0]);
  // HEAD: the same head, no body (the next response starts right after the blank line).
  assert.match(responses[1]!, /^200 OK\r\n/);
  assert.ok(responses[1]!.endsWith("\r\n\r\n"), JSON.stringify(responses[1]));
  assert.match(responses[2]!, /^204 No Content\r\n/);
  assert.ok(responses[2]!.endsWith("\r\n\r\n"), JSON.stringify(responses[2]));
  assert.doesNotMatch(responses[2]!, /content-length/i);
});

Deno.test("serve: a streamed response is chunked for HTTP/1.1 and close-delimited for HTTP/1.0", async () => {
  await using server = start(() => {
    let i = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller): void {
          if (i < 3) controller.enqueue(encoder.encode(`part${i++};`));
          else controller.close();
        },
      }),
    );
  });
  const eleven = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  assert.equal(eleven.headers.get("transfer-encoding"), "chunked");
  assert.equal(await eleven.text(), "part0;part1;part2;");

  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode("GET / HTTP/1.0\r\n\r\n"));
  const text = await readUntil(conn, () => false); // to EOF: the body ends with the connection
  conn.close();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(text, /transfer-encoding/i);
  assert.match(text, /\r\nConnection: close\r\n/i);
  assert.ok(text.endsWith("\r\n\r\npart0;part1;part2;"), text);
});

Deno.test("serve: a slow reader stops the pulls (backpressure): pulled minus received stays bounded", async () => {
  const total = 64 * 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024);
  let pulled = 0;
  let received = 0;
  let worstGap = 0;
  await using server = start(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller): void {
          if (pulled >= total) {
            controller.close();
            return;
          }
          pulled += chunk.length;
          worstGap = Math.max(worstGap, pulled - received);
          controller.enqueue(chunk.slice());
        },
      }, { highWaterMark: 1 }),
    )
  );
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
  const reader = response.body!.getReader();
  for (let i = 0; i < 1_000_000; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.length;
    // A slow client: one macrotask per read.
    if (i % 4 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal(received, total);
  // Kernel socket buffers on loopback hold a few MiB; without backpressure the whole 64 MiB
  // would be pulled ahead of the reader.
  assert.ok(worstGap < 24 * 1024 * 1024, `pulled ran ${worstGap} bytes ahead of the reader`);
});

Deno.test("serve: a client that goes away mid-stream cancels the body stream and aborts request.signal", async () => {
  let cancelled: unknown = undefined;
  let aborted = false;
  let started = false;
  await using server = start((request) => {
    request.signal.addEventListener("abort", () => aborted = true);
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller): void {
          started = true;
          controller.enqueue(new Uint8Array(16 * 1024));
        },
        cancel(reason): void {
          cancelled = reason ?? "cancelled";
        },
      }, { highWaterMark: 1 }),
    );
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const buf = new Uint8Array(1024);
  assert.ok((await conn.read(buf))! > 0);
  await until(() => started, "the stream to be pulled");
  conn.close();
  await until(() => cancelled !== undefined, "the body stream to be cancelled");
  await until(() => aborted, "request.signal to abort");
  await until(() => server.stats().connections === 0, "the connection to close");
});

Deno.test("serve: request.signal is not aborted by a keep-alive connection serving on", async () => {
  const signals: AbortSignal[] = [];
  await using server = start((request) => {
    signals.push(request.signal);
    return new Response("ok");
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  await readUntil(conn, (t) => t.endsWith("ok"));
  await conn.write(encoder.encode("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  await readUntil(conn, (t) => t.endsWith("ok"));
  assert.equal(signals.length, 2);
  assert.deepEqual(signals.map((s) => s.aborted), [false, false]);
  conn.close();
});

Deno.test("serve: an async handler's request.signal aborts when the client closes while it runs", async () => {
  let aborted = false;
  let entered = false;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using server = start(async (request) => {
    entered = true;
    request.signal.addEventListener("abort", () => aborted = true);
    await gate;
    return new Response("late");
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await until(() => entered, "the handler to run");
  conn.close();
  await until(() => aborted, "request.signal to abort");
  release();
  await until(() => server.stats().connections === 0, "the connection to close");
});

Deno.test("serve: a streamed request body arrives whole (chunked and Content-Length), checked by digest", async () => {
  await using server = start(async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return new Response(`${bytes.length} ${await sha256(bytes)}`);
  }, { maxBodyBytes: 32 * 1024 * 1024 });
  const body = randomBytes(8 * 1024 * 1024 + 13);
  const digest = await sha256(body);
  const fixed = await fetch(`http://127.0.0.1:${server.addr.port}/`, { method: "POST", body });
  assert.equal(await fixed.text(), `${body.length} ${digest}`);
  let at = 0;
  const chunked = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
    method: "POST",
    body: new ReadableStream<Uint8Array>({
      pull(controller): void {
        if (at >= body.length) return controller.close();
        const n = Math.min(100_003, body.length - at);
        controller.enqueue(body.slice(at, at + n));
        at += n;
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(await chunked.text(), `${body.length} ${digest}`);
});

Deno.test("serve: a body over maxBodyBytes is refused: 413 for Content-Length at once, and for a streamed chunked body when read", async () => {
  let errors = 0;
  let entered = false;
  await using server = start(async (request) => {
    entered = true;
    try {
      await request.arrayBuffer();
    } catch {
      errors++;
      throw new Error("the body failed");
    }
    return new Response("read");
  }, { maxBodyBytes: 1000, onError: () => new Response("handler error", { status: 500 }) });
  const port = server.addr.port;
  const big = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "x".repeat(1001) });
  assert.equal(big.status, 413);
  await big.body?.cancel();
  assert.equal(entered, false, "the handler ran for a Content-Length over the limit");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // The head alone first: the handler runs with the body still to come, and streams it.
  await conn.write(
    encoder.encode("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
  );
  await until(() => entered, "the handler to run on the head");
  await conn.write(encoder.encode("3e8\r\n" + "y".repeat(1000) + "\r\n5\r\nzzzzz\r\n0\r\n\r\n"));
  const text = await readUntil(conn, () => false);
  conn.close();
  assert.match(text, /^HTTP\/1\.1 413 /);
  assert.equal(errors, 1, "the handler's body read did not fail");
  const small = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    body: "x".repeat(1000),
  });
  assert.equal(await small.text(), "read");
});

Deno.test("serve: Expect: 100-continue is answered when the handler starts reading the body", async () => {
  let reading = false;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using server = start(async (request) => {
    await gate;
    reading = true;
    return new Response(`got ${await request.text()}`);
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
  ));
  const buf = new Uint8Array(1024);
  const first = conn.read(buf);
  release();
  const n = await first;
  const interim = decoder.decode(buf.subarray(0, n!));
  assert.equal(reading, true, "100 Continue was sent before the handler read the body");
  assert.equal(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  await conn.write(encoder.encode("hello"));
  const text = await readUntil(conn, (t) => t.endsWith("got hello"));
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  conn.close();
});

Deno.test("serve: info.completed resolves once the response is written, for static and streamed bodies", async () => {
  const completions: Promise<void>[] = [];
  await using server = start((request, info) => {
    completions.push(info.completed);
    if (new URL(request.url).pathname === "/stream") {
      return new Response(new Blob(["a", "b"]).stream().pipeThrough(new TransformStream()));
    }
    return new Response("static");
  });
  const port = server.addr.port;
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "static");
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/stream`)).text(), "ab");
  await Promise.all(completions);
  assert.equal(completions.length, 2);
});

Deno.test("serve: upgrade() hands the raw connection over after 101; an untaken websocket request gets 501", async () => {
  await using server = start((request) => {
    if (request.headers.get("upgrade") === "echo") {
      const { response, connection } = upgrade(request);
      connection.then(async (stream) => {
        const buf = new Uint8Array(64);
        const n = await stream.read(buf);
        await stream.writeAll(buf.subarray(0, n!));
        stream.close();
      });
      return response;
    }
    return new Response("plain");
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await conn.write(encoder.encode(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
  ));
  const head = await readUntil(conn, (t) => t.includes("\r\n\r\n"));
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(head, /\r\nUpgrade: echo\r\n/);
  await conn.write(encoder.encode("ping over the raw stream"));
  assert.equal(await readUntil(conn, () => false), "ping over the raw stream");
  conn.close();

  const ws = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await ws.write(encoder.encode(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  ));
  assert.match(await readUntil(ws, (t) => t.includes("\r\n\r\n")), /^HTTP\/1\.1 501 /);
  ws.close();
});

Deno.test("serve: serveFile answers by sendfile, with Range (206, 416), ETag (304) and HEAD", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/data.bin`;
  const data = randomBytes(300_000);
  await Deno.writeFile(path, data);
  try {
    await using server = start((request) => serveFile(request, path));
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const before = transferStats().sendFileCalls;
    const whole = await fetch(url);
    const body = new Uint8Array(await whole.arrayBuffer());
    assert.equal(await sha256(body), await sha256(data));
    assert.equal(whole.headers.get("content-type"), "application/octet-stream");
    assert.ok(transferStats().sendFileCalls > before, "the body did not go by sendfile");
    const part = await fetch(url, { headers: { range: "bytes=1000-1999" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 1000-1999/${data.length}`);
    assert.equal(
      await sha256(new Uint8Array(await part.arrayBuffer())),
      await sha256(data.slice(1000, 2000)),
    );
    const beyond = await fetch(url, { headers: { range: `bytes=${data.length}-` } });
    assert.equal(beyond.status, 416);
    await beyond.body?.cancel();
    const etag = whole.headers.get("etag")!;
    const cached = await fetch(url, { headers: { "if-none-match": etag } });
    assert.equal(cached.status, 304);
    assert.equal((await cached.arrayBuffer()).byteLength, 0);
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(data.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const missing = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
      headers: { "x-nothing": "1" },
    });
    await missing.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: streaming 1 GiB keeps RSS bounded and leaves no descriptor behind", async () => {
  const before = openFds();
  const total = 1024 * 1024 * 1024;
  const chunk = new Uint8Array(256 * 1024);
  let sent = 0;
  let peak = 0;
  const base = Deno.memoryUsage().rss;
  {
    await using server = start(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller): void {
            if (sent >= total) return controller.close();
            sent += chunk.length;
            controller.enqueue(chunk.slice());
          },
        }, { highWaterMark: 1 }),
      )
    );
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const reader = response.body!.getReader();
    let received = 0;
    for (let i = 0; i < 10_000_000; i++) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      if (i % 256 === 0) peak = Math.max(peak, Deno.memoryUsage().rss - base);
    }
    assert.equal(received, total);
  }
  assert.ok(peak < 128 * 1024 * 1024, `RSS grew by ${peak} bytes while streaming 1 GiB`);
  assert.deepEqual(await leakedFds(before), []);
});

Deno.test("serve: without Deno's internal slots (the public path) static bodies still get Content-Length and streams still stream", async () => {
  const { setUseSlots, useSlots } = await import("../lib/http/_serve_response.ts");
  const was = useSlots;
  setUseSlots(false);
  try {
    await using server = start((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/json") return Response.json({ a: [1, 2] });
      if (path === "/bytes") return new Response(new Uint8Array([1, 2, 3]));
      if (path === "/stream") {
        let i = 0;
        return new Response(
          new ReadableStream<Uint8Array>({
            async pull(controller): Promise<void> {
              // Each chunk comes a macrotask later: the body cannot be taken for a static one.
              await new Promise((r) => setTimeout(r, 0));
              if (i < 3) controller.enqueue(encoder.encode(`s${i++}`));
              else controller.close();
            },
          }),
        );
      }
      return new Response("plain text");
    });
    const base = `http://127.0.0.1:${server.addr.port}`;
    const text = await fetch(`${base}/`);
    assert.equal(text.headers.get("content-length"), "10");
    assert.equal(text.headers.get("content-type"), "text/plain;charset=UTF-8");
    assert.equal(await text.text(), "plain text");
    const json = await fetch(`${base}/json`);
    assert.equal(json.headers.get("content-type"), "application/json");
    assert.deepEqual(await json.json(), { a: [1, 2] });
    const bytes = await fetch(`${base}/bytes`);
    assert.equal(bytes.headers.get("content-length"), "3");
    assert.deepEqual([...new Uint8Array(await bytes.arrayBuffer())], [1, 2, 3]);
    const stream = await fetch(`${base}/stream`);
    assert.equal(stream.headers.get("transfer-encoding"), "chunked");
    assert.equal(await stream.text(), "s0s1s2");
  } finally {
    setUseSlots(was);
  }
});
