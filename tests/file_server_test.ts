/**
 * examples/file_server.ts, run in-process and spoken to over raw loopback sockets (a URL-based
 * client would normalise the `..` segments this file is about): GET, HEAD, ranges, 404, 405, and
 * every way out of the root we could think of answered 403.
 */
import assert from "node:assert/strict";
import { INCOMPLETE, PARSE_ERROR, ResponseParser } from "../lib/http/mod.ts";
import { Reactor, TcpStream } from "../mod.ts";
import { serveFiles } from "../examples/file_server.ts";
import { parseRange } from "../lib/http/serve_file.ts";
import { assertSameBytes, leakedFds, openFds } from "./helpers.ts";

Reactor.default();

// A root with a few files, a subdirectory, symlinks in and out, and a secret beside the root.
const base = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "netio-files-" }));
// Removed when the process unloads: clean-up is not a test.
globalThis.addEventListener("unload", () => Deno.removeSync(base, { recursive: true }));
const root = `${base}/root`;
const big = new Uint8Array(1024 * 1024 + 7);
for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
Deno.mkdirSync(`${root}/sub`, { recursive: true });
Deno.writeTextFileSync(`${root}/hello.txt`, "hello, world\n");
Deno.writeTextFileSync(`${root}/sub/index.html`, "<p>index</p>");
Deno.writeTextFileSync(`${root}/empty.txt`, "");
Deno.writeFileSync(`${root}/big.bin`, big);
Deno.writeTextFileSync(`${base}/secret.txt`, "do not serve");
Deno.symlinkSync(`${base}/secret.txt`, `${root}/escape.txt`);
Deno.symlinkSync(base, `${root}/escape-dir`);
// Relative links that stay inside are served; absolute ones are refused even when they point
// inside (RESOLVE_BENEATH resolves them from "/", which is outside the root).
Deno.symlinkSync("hello.txt", `${root}/inside.txt`);
Deno.symlinkSync(`${root}/hello.txt`, `${root}/absolute-inside.txt`);

interface Response {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

/**
 * Sends `raw` (one or several pipelined requests) on a fresh connection and parses `count`
 * responses; `heads[i]` marks the i-th as an answer to HEAD.
 */
async function exchange(
  port: number,
  raw: string,
  count = 1,
  heads: boolean[] = [],
): Promise<Response[]> {
  using conn = await TcpStream.connect({ hostname: "127.0.0.1", port });
  await conn.writeAll(new TextEncoder().encode(raw));
  const parser = new ResponseParser();
  let buf = new Uint8Array(65536);
  let start = 0;
  let end = 0;
  const out: Response[] = [];
  while (out.length < count) {
    parser.headRequest = heads[out.length] ?? false;
    const n = start < end ? parser.parse(buf, start, end) : INCOMPLETE;
    assert.notEqual(n, PARSE_ERROR, parser.errorReason);
    if (n !== INCOMPLETE) {
      out.push({
        status: parser.status,
        headers: new Map(parser.headers().map(([k, v]) => [k.toLowerCase(), v])),
        body: parser.body.slice(),
      });
      start += n;
      continue;
    }
    if (end === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const r = await conn.read(buf.subarray(end));
    if (r === null) throw new Error(`connection closed after ${out.length} responses`);
    end += r;
  }
  return out;
}

async function get(port: number, path: string, extra = "", method = "GET"): Promise<Response> {
  const raw = `${method} ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
  return (await exchange(port, raw, 1, [method === "HEAD"]))[0]!;
}

const text = (r: Response): string => new TextDecoder().decode(r.body);

Deno.test("parseRange() reads single byte ranges and ignores what it may ignore", () => {
  assert.deepEqual(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-1000", 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange("bytes=50-1000", 100), { start: 50, end: 99 });
  assert.equal(parseRange("bytes=100-", 100), "unsatisfiable");
  assert.equal(parseRange("bytes=-0", 100), "unsatisfiable");
  assert.equal(parseRange("bytes=0-0", 0), "unsatisfiable");
  assert.equal(parseRange("bytes=5-1", 100), null);
  assert.equal(parseRange("bytes=0-1,5-6", 100), null);
  assert.equal(parseRange("items=0-1", 100), null);
  assert.equal(parseRange("bytes=-", 100), null);
});

Deno.test("file server: GET, HEAD, Range, 404, 405 and keep-alive pipelining", async () => {
  const server = await serveFiles({ root, port: 0 });
  try {
    const hello = await get(server.port, "/hello.txt");
    assert.equal(hello.status, 200);
    assert.equal(text(hello), "hello, world\n");
    assert.equal(hello.headers.get("content-length"), "13");
    assert.equal(hello.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(hello.headers.get("accept-ranges"), "bytes");

    const head = await get(server.port, "/big.bin", "", "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(big.length));
    assert.equal(head.body.length, 0);

    const whole = await get(server.port, "/big.bin");
    assertSameBytes(whole.body, big, "the whole file");

    const part = await get(server.port, "/big.bin", "Range: bytes=1000-70999\r\n");
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 1000-70999/${big.length}`);
    assertSameBytes(part.body, big.subarray(1000, 71000), "the range");

    const suffix = await get(server.port, "/big.bin", "Range: bytes=-5\r\n");
    assert.equal(suffix.status, 206);
    assert.deepEqual(suffix.body, big.slice(-5));

    const unsatisfiable = await get(server.port, "/hello.txt", "Range: bytes=13-\r\n");
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get("content-range"), "bytes */13");

    const empty = await get(server.port, "/empty.txt");
    assert.equal(empty.status, 200);
    assert.equal(empty.body.length, 0);

    assert.equal((await get(server.port, "/missing.txt")).status, 404);
    const bare = await get(server.port, "/sub?x=1");
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get("location"), "/sub/?x=1");
    assert.equal(text(await get(server.port, "/sub/")), "<p>index</p>");
    assert.equal(text(await get(server.port, "/inside.txt")), "hello, world\n");
    assert.equal((await get(server.port, "/absolute-inside.txt")).status, 403);
    const post = await get(server.port, "/hello.txt", "Content-Length: 0\r\n", "POST");
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");

    // Three pipelined requests on one connection, answered in order.
    const [a, b, c] = await exchange(
      server.port,
      "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
        "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /sub/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      3,
      [false, true, false],
    );
    assert.equal(text(a!), "hello, world\n");
    assert.equal(b!.headers.get("content-length"), String(big.length));
    assert.equal(text(c!), "<p>index</p>");
    assert.equal(c!.headers.get("connection"), "close");
  } finally {
    await server.close();
  }
});

Deno.test("file server: a directory without index.html is listed (names escaped); ETag gives 304", async () => {
  Deno.mkdirSync(`${root}/list`, { recursive: true });
  Deno.writeTextFileSync(`${root}/list/a <b>.txt`, "a");
  Deno.mkdirSync(`${root}/list/inner`, { recursive: true });
  const server = await serveFiles({ root, port: 0 });
  try {
    const page = await get(server.port, "/list/");
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    const html = text(page);
    assert.match(html, /<a href="a%20%3Cb%3E\.txt">a &#60;b&#62;\.txt<\/a>/);
    assert.match(html, /<a href="inner\/">inner\/<\/a>/);
    assert.doesNotMatch(html, /<b>/);
    const first = await get(server.port, "/hello.txt");
    const etag = first.headers.get("etag")!;
    assert.ok(etag, "no ETag");
    const again = await get(server.port, "/hello.txt", `If-None-Match: ${etag}\r\n`);
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(server.stats().open, "openat2");
  } finally {
    await server.close();
  }
});

for (const method of ["openat2", "walk"] as const) {
  Deno.test(`file server (${method}): every way out of the root is 403, never the file`, async () => {
    const server = await serveFiles({ root, port: 0, method });
    assert.equal(server.stats().open, method);
    await assertNoWayOut(server.port).finally(() => server.close());
  });
}

async function assertNoWayOut(port: number): Promise<void> {
  const server = { port };
  {
    const attempts = [
      "/../secret.txt",
      "/sub/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/.%2e/secret.txt",
      "/sub/%2e%2e/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/sub%2f..%2f..%2fsecret.txt",
      "/escape.txt", // a symlink to a file outside the root
      "/escape-dir/secret.txt", // through a symlinked directory outside the root
    ];
    for (const path of attempts) {
      const r = await get(server.port, path);
      assert.equal(r.status, 403, `${path} gave ${r.status}`);
      assert(!text(r).includes("do not serve"), path);
    }
    // Encoded once is decoded once: %252e%252e is a literal file name, which does not exist.
    assert.equal((await get(server.port, "/%252e%252e/secret.txt")).status, 404);
    assert.equal((await get(server.port, "/%zz")).status, 400);
    assert.equal((await get(server.port, "/a%00b")).status, 400);
  }
}

Deno.test("file server: a malformed request gets the parser's error and the connection closes", async () => {
  const server = await serveFiles({ root, port: 0 });
  try {
    using conn = await TcpStream.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.writeAll(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")); // no Host
    const buf = new Uint8Array(4096);
    let got = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(got, /^HTTP\/1\.1 400 /);
  } finally {
    await server.close();
  }
});

Deno.test("file server: clients leaving mid-body cost nothing and leave no fd open", async () => {
  const before = openFds();
  {
    const server = await serveFiles({ root, port: 0 });
    try {
      for (let i = 0; i < 3; i++) {
        const conn = await TcpStream.connect({ hostname: "127.0.0.1", port: server.port });
        conn.setRecvBufferSize(4096);
        await conn.writeAll(new TextEncoder().encode("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
        await conn.read(new Uint8Array(1024));
        conn.setLinger(0);
        conn.close(); // reset: the server's sendFile fails with ECONNRESET/EPIPE
      }
      // The server still answers.
      assert.equal((await get(server.port, "/hello.txt")).status, 200);
    } finally {
      await server.close(); // resolves once every connection is closed
    }
  }
  assert.deepEqual(await leakedFds(before), []);
});

Deno.test("file server: --help prints the usage and exits 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("../examples/file_server.ts", import.meta.url).pathname, "--help"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stdout), /--root DIR/);
});
