/**
 * `serve()` against `Deno.serve`: the same raw request bytes, the same handler, and the two
 * answers compared after a strict HTTP/1.1 parse of each (RFC 9112 6.3 framing).
 *
 * What "equivalent" means here:
 * - the status code, the interim (1xx) statuses, and the body after removing the transfer
 *   coding are equal (bodies over 2 KiB by length and SHA-256);
 * - header fields are compared by lowercase name as lists of values (so several Set-Cookie
 *   stay a list, in order), without Date (a clock) and without the framing and connection
 *   fields (Content-Length, Transfer-Encoding, Connection, Keep-Alive), which are compared by
 *   what they mean instead:
 *   - Content-Length values must match wherever both servers send one, and on a response
 *     without a body (HEAD, 204, 304) its presence must match too (there it announces a
 *     length); a body that one side frames by Content-Length and the other by chunked coding
 *     is the same message (RFC 9112 6.3: both are complete framings; netio knows the length
 *     of a stream that ended after its first chunk, Deno.serve chunks every stream), but a
 *     close-delimited body must be close-delimited on both;
 *   - "persistent" (whether the client may send another request, RFC 9112 9.3, judged as a
 *     client of the request's version would) must match; on a persistent connection one more
 *     request follows and its answer must parse next (a stray byte after a HEAD answer fails
 *     it), and the connection must then close;
 * - the reason phrase is not compared (RFC 9112 4: a client ignores it), nor the response's
 *   HTTP version (RFC 9110 2.5: an HTTP/1.1 server may answer HTTP/1.0 with HTTP/1.1).
 *
 * A case may carry an allowed difference with its reason (`allowPersistence`, `denoCloses`), or
 * an intended one (`intended`) where netio's answer is asserted on its own. The table runs
 * twice: with netio reading static bodies from Deno's internal Response slots, and through the
 * public Response API (its fallback).
 *
 * @module
 */

import assert from "node:assert/strict";
import { serve, serveFile } from "../mod.ts";
import { setUseSlots } from "../lib/http/_serve_response.ts";
import { concatBytes, leakedFds, openFds, sha256 } from "./helpers.ts";

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();
const CR = 13;
const LF = 10;
/** Bodies up to this size are compared as text (a readable diff); larger ones by digest. */
const TEXT_COMPARE_LIMIT = 2048;
/** Every exchange must be done by then; past it the case fails (a hang, not a verdict). */
const CASE_DEADLINE_MS = 15_000;
const MIB = 1024 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** One response as read from the wire. */
interface WireResponse {
  status: number;
  /** Statuses of the 1xx responses before it. */
  interim: number[];
  /** Lowercase name -> values in order of appearance. */
  fields: Map<string, string[]>;
  framing: "length" | "chunked" | "close" | "none";
  body: Uint8Array;
}

/** One response, normalised for comparison. */
interface Seen {
  status: number;
  interim: number[];
  headers: Record<string, string[]>;
  contentLength: string | undefined;
  persistent: boolean;
  framing: WireResponse["framing"];
  body: string;
  bodyLength: number;
}

// ---------------------------------------------------------------------------------------------
// A strict HTTP/1.1 response reader over a Deno.TcpConn (independent of netio's parser).

class RawClient {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;
  #eof = false;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.#conn.write(bytes.subarray(at));
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Reads more; false at EOF. A reset is an error: bytes may have been lost. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const size = this.#end - this.#start > this.#buf.length / 2
        ? this.#buf.length * 2
        : this.#buf.length;
      const grown = new Uint8Array(size);
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = grown;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** One CRLF-terminated line (without the CRLF); a bare CR or LF is an error. */
  async #line(limit: number): Promise<string> {
    for (;;) {
      for (let i = this.#start; i < this.#end; i++) {
        const b = this.#buf[i];
        if (b === LF) throw new Error("a bare LF in a response line");
        if (b === CR) {
          if (i + 1 === this.#end) break;
          if (this.#buf[i + 1] !== LF) throw new Error("a bare CR in a response line");
          const line = latin1.decode(this.#buf.subarray(this.#start, i));
          this.#start = i + 2;
          return line;
        }
      }
      if (this.#end - this.#start > limit) throw new Error(`a response line over ${limit} bytes`);
      if (!(await this.#fill())) throw new Error("the connection ended inside a response head");
    }
  }

  async #exactly(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill())) {
        throw new Error(`the connection ended inside a body (${this.#end - this.#start} of ${n})`);
      }
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  async #untilEof(): Promise<Uint8Array> {
    while (await this.#fill());
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  /** Whether the server closes the connection now, having sent nothing more. */
  async closesNow(): Promise<boolean> {
    if (this.#end > this.#start) return false;
    try {
      return !(await this.#fill());
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return true;
      throw error;
    }
  }

  /** A head: status line and fields. */
  async #head(): Promise<{ status: number; fields: Map<string, string[]> }> {
    const statusLine = await this.#line(MAX_HEAD_BYTES);
    const m = /^HTTP\/1\.[01] ([1-9]\d{2}) [\t !-~\x80-\xff]*$/.exec(statusLine);
    if (m === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const fields = new Map<string, string[]>();
    for (let count = 0;; count++) {
      if (count > 200) throw new Error("more than 200 header fields");
      const line = await this.#line(MAX_HEAD_BYTES);
      if (line === "") break;
      const h = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
      if (h === null) throw new Error(`bad header line ${JSON.stringify(line)}`);
      // deno-lint-ignore no-control-regex
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(h[2]!)) throw new Error(`a CTL in ${h[1]}`);
      const name = h[1]!.toLowerCase();
      const list = fields.get(name);
      if (list === undefined) fields.set(name, [h[2]!]);
      else list.push(h[2]!);
    }
    return { status: Number(m[1]), fields };
  }

  async #chunked(): Promise<Uint8Array> {
    const pieces: Uint8Array[] = [];
    let total = 0;
    for (let chunks = 0;; chunks++) {
      if (chunks > 1_000_000) throw new Error("over a million chunks");
      const line = await this.#line(1024);
      const m = /^([0-9A-Fa-f]{1,8})(;.*)?$/.exec(line);
      if (m === null) throw new Error(`bad chunk size line ${JSON.stringify(line)}`);
      const size = parseInt(m[1]!, 16);
      if (size === 0) break;
      pieces.push(await this.#exactly(size));
      total += size;
      const crlf = await this.#exactly(2);
      if (crlf[0] !== CR || crlf[1] !== LF) throw new Error("no CRLF after chunk data");
    }
    // Trailer section.
    for (let count = 0;; count++) {
      if (count > 100) throw new Error("more than 100 trailer fields");
      const line = await this.#line(MAX_HEAD_BYTES);
      if (line === "") break;
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(line)) {
        throw new Error(`bad trailer line ${JSON.stringify(line)}`);
      }
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  /**
   * One response with its interim ones, framed as RFC 9112 6.3 says; `head` when it answers a
   * HEAD request. With `stopAtInterim`, returns right after the first 1xx.
   */
  async response(head: boolean, stopAtInterim = false): Promise<WireResponse> {
    const interim: number[] = [];
    for (;;) {
      const { status, fields } = await this.#head();
      if (status < 200) {
        if (status === 101) throw new Error("an unexpected 101");
        if (fields.has("content-length") || fields.has("transfer-encoding")) {
          throw new Error(`framing fields on a ${status}`);
        }
        interim.push(status);
        if (interim.length > 10) throw new Error("more than 10 interim responses");
        if (stopAtInterim) {
          return { status, interim, fields, framing: "none", body: new Uint8Array() };
        }
        continue;
      }
      const te = fields.get("transfer-encoding");
      const cl = fields.get("content-length");
      if (te !== undefined && cl !== undefined) {
        throw new Error("both Transfer-Encoding and Content-Length");
      }
      if (cl !== undefined && (cl.length !== 1 || !/^\d{1,15}$/.test(cl[0]!))) {
        throw new Error(`bad Content-Length ${JSON.stringify(cl)}`);
      }
      if (status === 204 && (cl !== undefined || te !== undefined)) {
        throw new Error("framing fields on a 204 (RFC 9110 8.6, 6.1)");
      }
      if (head || status === 204 || status === 304) {
        return { status, interim, fields, framing: "none", body: new Uint8Array() };
      }
      if (te !== undefined) {
        const codings = te.join(",").split(",").map((s) => s.trim().toLowerCase());
        if (codings.length !== 1 || codings[0] !== "chunked") {
          throw new Error(`unexpected Transfer-Encoding ${JSON.stringify(te)}`);
        }
        return { status, interim, fields, framing: "chunked", body: await this.#chunked() };
      }
      if (cl !== undefined) {
        return {
          status,
          interim,
          fields,
          framing: "length",
          body: await this.#exactly(Number(cl[0])),
        };
      }
      return { status, interim, fields, framing: "close", body: await this.#untilEof() };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cases.

/** A raw request: head lines joined with CRLF, and a body. */
function req(
  method: string,
  target: string,
  fields: string[] = [],
  body: Uint8Array | string = "",
  version = "HTTP/1.1",
): Uint8Array {
  const head = `${method} ${target} ${version}\r\n` +
    (version === "HTTP/1.1" && fields.every((f) => !/^host:/i.test(f))
      ? "Host: compat.test\r\n"
      : "") +
    fields.map((f) => f + "\r\n").join("") + "\r\n";
  const b = typeof body === "string" ? encoder.encode(body) : body;
  const out = new Uint8Array(head.length + b.length);
  out.set(encoder.encode(head));
  out.set(b, head.length);
  return out;
}

/** A stream of the given chunks, each on its own macrotask (so it really streams). */
function slowStream(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(controller): Promise<void> {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (i === chunks.length) {
        controller.close();
        return;
      }
      const c = chunks[i++]!;
      controller.enqueue(typeof c === "string" ? encoder.encode(c) : c);
    },
  });
}

/** A stream whose chunks are all there at once. */
function eagerStream(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller): void {
      for (const c of chunks) controller.enqueue(typeof c === "string" ? encoder.encode(c) : c);
      controller.close();
    },
  });
}

function patternBytes(n: number, seed = 7): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const BIG = patternBytes(MIB);
/** A file for the serveFile cases (100 KiB, so it streams under Deno.serve). */
const FILE = await Deno.makeTempFile({ prefix: "serve_compat_", suffix: ".txt" });
const FILE_BYTES = patternBytes(100 * 1024, 3);
await Deno.writeFile(FILE, FILE_BYTES);
const fileEtag = (): string =>
  serveFile(new Request("http://x/", { method: "HEAD" }), FILE)
    .headers.get("etag")!;
const BIG_UPLOAD = patternBytes(512 * 1024, 11);
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

/** A summary of a request, as handlers echo it. */
async function describe(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const body = await request.text();
  return Response.json({
    method: request.method,
    url: request.url,
    pathname: url.pathname,
    search: url.search,
    body,
    contentType: request.headers.get("content-type"),
  });
}

interface Case {
  name: string;
  /** The request bytes (several requests for pipelining). */
  request: Uint8Array;
  handler: Handler;
  /** Per response expected on the connection: whether it answers HEAD (default: one GET). */
  responses?: boolean[];
  /** Send the head, wait for `100 Continue`, then send this body. */
  continueBody?: Uint8Array;
  /** The handler fails on purpose: both servers' error logs are silenced. */
  quiet?: boolean;
  /** Allowed persistence difference, with its reason. */
  allowPersistence?: string;
  /** Deno.serve closes a connection it announced as kept (its bug): no request after it there. */
  denoCloses?: string;
  /** An intended difference: netio's answers asserted here instead of equality. */
  intended?: { reason: string; netio: (seen: Seen[]) => void };
  /** Made equal before comparing (a random multipart boundary). */
  normalise?: (seen: Seen) => void;
  /** Further assertions, on both servers' answers. */
  check?: (seen: Seen[]) => void;
}

/** The version of a request (for judging persistence as its client would). */
function requestVersion(bytes: Uint8Array): string {
  const line = latin1.decode(bytes.subarray(0, Math.min(bytes.length, 8192))).split("\r\n")[0]!;
  return line.endsWith("HTTP/1.0") ? "1.0" : "1.1";
}

function tokens(values: string[] | undefined): string[] {
  return (values ?? []).join(",").split(",").map((s) => s.trim().toLowerCase()).filter((s) =>
    s !== ""
  );
}

const FRAMING_FIELDS = new Set([
  "date",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

async function normalise(r: WireResponse, version: string): Promise<Seen> {
  const headers: Record<string, string[]> = {};
  for (const name of [...r.fields.keys()].sort()) {
    if (!FRAMING_FIELDS.has(name)) headers[name] = r.fields.get(name)!;
  }
  const connection = tokens(r.fields.get("connection"));
  const persistent = r.framing !== "close" && !connection.includes("close") &&
    (version === "1.1" || connection.includes("keep-alive"));
  const body = r.body.length <= TEXT_COMPARE_LIMIT
    ? latin1.decode(r.body)
    : `${r.body.length} bytes, sha256 ${await sha256(r.body as Uint8Array<ArrayBuffer>)}`;
  return {
    status: r.status,
    interim: r.interim,
    headers,
    contentLength: r.fields.get("content-length")?.[0],
    persistent,
    framing: r.framing,
    body,
    bodyLength: r.body.length,
  };
}

/** Sends a case's request to one server and reads its answers. */
async function exchange(port: number, c: Case, server: string): Promise<Seen[]> {
  try {
    return await exchangeOnce(port, c, server === "netio serve()" || c.denoCloses === undefined);
  } catch (error) {
    throw new Error(`${c.name}: ${server}: ${(error as Error).message}`, { cause: error });
  }
}

async function exchangeOnce(port: number, c: Case, followUp: boolean): Promise<Seen[]> {
  const client = await RawClient.connect(port);
  const timer = setTimeout(() => client.close(), CASE_DEADLINE_MS);
  try {
    const version = requestVersion(c.request);
    const seen: Seen[] = [];
    const heads = c.responses ?? [false];
    if (c.continueBody !== undefined) {
      await client.write(c.request);
      const interim = await client.response(false, true);
      assert.equal(interim.status, 100, "the first answer to Expect: 100-continue");
      await client.write(c.continueBody);
      const final = await client.response(false);
      final.interim.unshift(100);
      seen.push(await normalise(final, version));
    } else {
      await client.write(c.request);
      for (const head of heads) seen.push(await normalise(await client.response(head), version));
    }
    const last = seen[seen.length - 1]!;
    if (!followUp) return seen;
    if (last.persistent) {
      // One more request on the connection: its answer must come next, so a stray byte after
      // the responses above (a HEAD body, a miscounted length) fails its parse.
      await client.write(
        version === "1.0"
          ? req("GET", END_PATH, ["Host: compat.test"], "", "HTTP/1.0")
          : req("GET", END_PATH, ["Connection: close"]),
      );
      const end = await client.response(false);
      assert.equal(latin1.decode(end.body), "end", "the answer to the request after the case");
    }
    assert.ok(await client.closesNow(), "the server closes the connection after Connection: close");
    return seen;
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

const TEXT_PLAIN = "text/plain;charset=UTF-8";
/** The request sent after each case on a connection kept open. */
const END_PATH = "/__compat_end";
const ACCEPT_GZIP = "Accept-Encoding: gzip, deflate, br";

const cases: Case[] = [
  // --- Response body kinds, GET and HEAD.
  { name: "GET string body", request: req("GET", "/"), handler: () => new Response("hello") },
  {
    name: "HEAD string body",
    request: req("HEAD", "/"),
    responses: [true],
    handler: () => new Response("hello"),
  },
  {
    name: "GET Uint8Array body (no Content-Type by default)",
    request: req("GET", "/"),
    handler: () => new Response(ALL_BYTES),
    check: (seen) => assert.equal(seen[0]!.headers["content-type"], undefined),
  },
  {
    name: "HEAD Uint8Array body",
    request: req("HEAD", "/"),
    responses: [true],
    handler: () => new Response(ALL_BYTES),
  },
  { name: "GET null body", request: req("GET", "/"), handler: () => new Response(null) },
  {
    name: "HEAD null body",
    request: req("HEAD", "/"),
    responses: [true],
    handler: () => new Response(null),
  },
  {
    name: "GET Blob body with its type",
    request: req("GET", "/"),
    handler: () => new Response(new Blob(["<b>blob</b>"], { type: "text/html" })),
  },
  {
    name: "HEAD Blob body",
    request: req("HEAD", "/"),
    responses: [true],
    handler: () => new Response(new Blob(["<b>blob</b>"], { type: "text/html" })),
  },
  {
    name: "GET URLSearchParams body",
    request: req("GET", "/"),
    handler: () => new Response(new URLSearchParams({ a: "1", b: "x y&z" })),
  },
  {
    name: "GET FormData body (boundary normalised)",
    request: req("GET", "/"),
    handler: () => {
      const form = new FormData();
      form.append("field", "value");
      form.append("file", new Blob(["content"], { type: "text/plain" }), "a.txt");
      return new Response(form);
    },
    normalise: (seen) => {
      const type = seen.headers["content-type"]?.[0] ?? "";
      const boundary = /boundary=(.+)$/.exec(type)?.[1];
      if (boundary === undefined) return;
      seen.headers["content-type"] = [type.replace(boundary, "BOUNDARY")];
      seen.body = seen.body.replaceAll(boundary, "BOUNDARY");
    },
  },
  {
    name: "GET ReadableStream body of three slow chunks",
    request: req("GET", "/"),
    handler: () => new Response(slowStream(["one,", "two,", "three"])),
    check: (seen) => assert.equal(seen[0]!.body, "one,two,three"),
  },
  {
    name: "HEAD ReadableStream body",
    request: req("HEAD", "/"),
    responses: [true],
    handler: () => new Response(slowStream(["one,", "two,", "three"])),
  },
  {
    name: "GET ReadableStream body of one chunk",
    request: req("GET", "/"),
    handler: () => new Response(eagerStream(["only"])),
  },
  {
    name: "GET empty ReadableStream body",
    request: req("GET", "/"),
    handler: () => new Response(eagerStream([])),
  },
  {
    name: "GET ReadableStream of 2000 chunks",
    request: req("GET", "/"),
    handler: () => {
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(controller): Promise<void> {
            if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
            if (i === 2000) controller.close();
            else controller.enqueue(encoder.encode(`chunk ${i++};`));
          },
        }),
      );
    },
  },
  {
    name: "GET 1 MiB bytes body",
    request: req("GET", "/big"),
    handler: () => new Response(BIG),
    check: (seen) => assert.equal(seen[0]!.bodyLength, MIB),
  },
  {
    name: "HEAD 1 MiB bytes body",
    request: req("HEAD", "/big"),
    responses: [true],
    handler: () => new Response(BIG),
  },
  {
    name: "GET 1 MiB streamed in 64 KiB chunks",
    request: req("GET", "/big"),
    handler: () => {
      const pieces: Uint8Array[] = [];
      for (let at = 0; at < BIG.length; at += 65536) pieces.push(BIG.subarray(at, at + 65536));
      return new Response(slowStream(pieces));
    },
    check: (seen) => assert.equal(seen[0]!.bodyLength, MIB),
  },
  // --- Response helpers and statuses.
  {
    name: "Response.json",
    request: req("GET", "/"),
    handler: () => Response.json({ a: [1, "x"] }),
  },
  {
    name: "HEAD Response.json",
    request: req("HEAD", "/"),
    responses: [true],
    handler: () => Response.json({ a: [1, "x"] }),
  },
  {
    name: "Response.json with status and headers",
    request: req("GET", "/"),
    handler: () => Response.json({ error: "nope" }, { status: 422, headers: { "x-why": "test" } }),
  },
  ...[301, 302, 303, 307, 308].map((status): Case => ({
    name: `Response.redirect ${status}`,
    request: req("GET", "/old"),
    handler: () => Response.redirect("http://compat.test/new?x=1", status),
  })),
  {
    name: "Response.error()",
    request: req("GET", "/"),
    handler: () => Response.error(),
    quiet: true,
  },
  {
    name: "status 201 with Location",
    request: req("POST", "/items", ["Content-Length: 0"]),
    handler: () => new Response("made", { status: 201, headers: { location: "/items/1" } }),
  },
  {
    name: "status 204",
    request: req("DELETE", "/items/1"),
    handler: () => new Response(null, { status: 204, headers: { "x-deleted": "1" } }),
  },
  {
    name: "status 204 on GET",
    request: req("GET", "/"),
    handler: () => new Response(null, { status: 204 }),
  },
  {
    name: "status 304 with ETag",
    request: req("GET", "/", ['If-None-Match: "v1"']),
    handler: () =>
      new Response(null, { status: 304, headers: { etag: '"v1"', "cache-control": "max-age=60" } }),
  },
  {
    name: "status 404 text",
    request: req("GET", "/missing"),
    handler: () => new Response("not found", { status: 404 }),
  },
  {
    name: "status 500 text",
    request: req("GET", "/"),
    handler: () => new Response("broken", { status: 500 }),
  },
  {
    name: "status 418 with a custom reason (not compared)",
    request: req("GET", "/"),
    handler: () => new Response("teapot", { status: 418, statusText: "Short And Stout" }),
  },
  // --- Headers.
  {
    name: "custom headers, appended values combined",
    request: req("GET", "/"),
    handler: () => {
      const headers = new Headers({ "X-One": "1", "cache-control": "no-store" });
      headers.append("x-multi", "a");
      headers.append("x-multi", "b");
      return new Response("h", { headers });
    },
  },
  {
    name: "several Set-Cookie kept apart",
    request: req("GET", "/"),
    handler: () => {
      const headers = new Headers();
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; HttpOnly");
      headers.append("set-cookie", "c=3, with comma; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
      return new Response("cookies", { headers });
    },
    check: (seen) => assert.equal(seen[0]!.headers["set-cookie"]?.length, 3),
  },
  {
    name: "Set-Cookie on a streamed body",
    request: req("GET", "/"),
    handler: () => {
      const headers = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"]]);
      return new Response(slowStream(["x", "y"]), { headers });
    },
  },
  {
    name: "Content-Type given by the handler wins over the default",
    request: req("GET", "/"),
    handler: () => new Response("{}", { headers: { "content-type": "application/json" } }),
  },
  {
    name: "Uint8Array body with only a Content-Type in the init",
    request: req("GET", "/"),
    handler: () =>
      new Response(ALL_BYTES.slice(0, 8), { headers: { "content-type": "application/x-test" } }),
  },
  {
    name: "Content-Type default of a string body",
    request: req("GET", "/"),
    handler: () => new Response("text"),
    check: (seen) => assert.deepEqual(seen[0]!.headers["content-type"], [TEXT_PLAIN]),
  },
  {
    name: "a user Content-Length that matches the body",
    request: req("GET", "/"),
    handler: () => new Response("12345", { headers: { "content-length": "5" } }),
  },
  {
    name: "a user Content-Length on a streamed body",
    request: req("GET", "/"),
    handler: () => new Response(slowStream(["12", "345"]), { headers: { "content-length": "5" } }),
    check: (seen) => assert.equal(seen[0]!.framing, "length"),
  },
  {
    name: "HEAD answered with a user Content-Length and no body",
    request: req("HEAD", "/file"),
    responses: [true],
    handler: () => new Response(null, { headers: { "content-length": "1234" } }),
    check: (seen) => assert.equal(seen[0]!.contentLength, "1234"),
  },
  {
    name: "HEAD of a slow stream with a user Content-Length",
    request: req("HEAD", "/file"),
    responses: [true],
    handler: () => new Response(slowStream(["12", "345"]), { headers: { "content-length": "5" } }),
    check: (seen) => assert.equal(seen[0]!.contentLength, "5"),
  },
  {
    name: "HTTP/1.0 keep-alive, stream with a user Content-Length",
    request: req("GET", "/", ["Host: compat.test", "Connection: keep-alive"], "", "HTTP/1.0"),
    handler: () => new Response(slowStream(["12", "345"]), { headers: { "content-length": "5" } }),
    denoCloses: "Deno.serve answers `Connection: keep-alive` to this HTTP/1.0 request, then closes",
  },
  {
    name: "304 with the Content-Length a 200 would have",
    request: req("GET", "/", ['If-None-Match: "v1"']),
    handler: () =>
      new Response(null, { status: 304, headers: { etag: '"v1"', "content-length": "1234" } }),
  },
  {
    name: "a user Content-Length that disagrees with a static body",
    request: req("GET", "/"),
    handler: () => new Response("hello", { headers: { "content-length": "3" } }),
  },
  {
    // Keep-Alive and Transfer-Encoding are the server's (hop-by-hop, RFC 9110 7.6.1): Deno.serve
    // passes the handler's Keep-Alive on, netio drops it; neither is compared.
    name: "user Keep-Alive and Transfer-Encoding on a static body",
    request: req("GET", "/"),
    handler: () =>
      new Response("abc", {
        headers: { "transfer-encoding": "chunked", "keep-alive": "timeout=5" },
      }),
  },
  {
    name: "headers set on the Response after it was made",
    request: req("GET", "/"),
    handler: () => {
      const response = new Response("late");
      response.headers.set("x-late", "1");
      response.headers.set("content-type", "text/x-late");
      return response;
    },
  },
  {
    name: "a latin1 header value",
    request: req("GET", "/"),
    handler: () => new Response("v", { headers: { "x-latin": "caf\u00e9" } }),
  },
  {
    name: "UTF-8 string body",
    request: req("GET", "/"),
    handler: () => new Response("h\u00e9llo \u2713"),
  },
  {
    name: "empty string body",
    request: req("GET", "/"),
    handler: () => new Response(""),
  },
  {
    name: "a Uint8Array view into a larger buffer",
    request: req("GET", "/"),
    handler: () => new Response(BIG.subarray(10, 30)),
  },
  {
    name: "ArrayBuffer and DataView bodies",
    request: concatBytes(req("GET", "/ab"), req("GET", "/dv")),
    responses: [false, false],
    handler: (request) =>
      new URL(request.url).pathname === "/ab"
        ? new Response(ALL_BYTES.slice(0, 16).buffer)
        : new Response(new DataView(ALL_BYTES.buffer, 16, 16)),
  },
  {
    name: "ReadableStream.from an async generator",
    request: req("GET", "/"),
    handler: () =>
      new Response(
        ReadableStream.from((async function* (): AsyncGenerator<Uint8Array> {
          yield encoder.encode("gen1,");
          yield encoder.encode("gen2");
        })()),
      ),
  },
  {
    name: "HEAD of a 404 with a body",
    request: req("HEAD", "/missing"),
    responses: [true],
    handler: () => new Response("not found", { status: 404 }),
  },
  {
    // Deno.serve 2.9 does not compress a Response either; netio never does.
    name: "Accept-Encoding: gzip and a large text body (identity both)",
    request: req("GET", "/", [ACCEPT_GZIP]),
    handler: () => new Response("compressible text ".repeat(200)),
  },
  // --- serveFile: a file by sendfile under netio, by its pread stream under Deno.serve.
  {
    name: "serveFile GET",
    request: req("GET", "/file.txt"),
    handler: (request) => serveFile(request, FILE),
    check: (seen) => assert.equal(seen[0]!.bodyLength, FILE_BYTES.length),
  },
  {
    name: "serveFile HEAD",
    request: req("HEAD", "/file.txt"),
    responses: [true],
    handler: (request) => serveFile(request, FILE),
  },
  {
    name: "serveFile Range 206",
    request: req("GET", "/file.txt", ["Range: bytes=100-199"]),
    handler: (request) => serveFile(request, FILE),
    check: (seen) => assert.equal(seen[0]!.bodyLength, 100),
  },
  {
    name: "serveFile Range unsatisfiable 416",
    request: req("GET", "/file.txt", ["Range: bytes=999999-"]),
    handler: (request) => serveFile(request, FILE),
  },
  {
    name: "serveFile If-None-Match 304",
    request: req("GET", "/file.txt", [`If-None-Match: ${fileEtag()}`]),
    handler: (request) => serveFile(request, FILE),
    check: (seen) => assert.equal(seen[0]!.status, 304),
  },
  {
    name: "serveFile of a missing file 404",
    request: req("GET", "/missing.txt"),
    handler: (request) => serveFile(request, FILE + ".missing"),
  },
  // --- Requests: method, URL, headers, body.
  ...["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"].map((method): Case => ({
    name: `request.method ${method}`,
    request: req(
      method,
      "/m",
      method === "GET" || method === "OPTIONS" ? [] : ["Content-Length: 0"],
    ),
    handler: (request) => new Response(request.method, { headers: { allow: "GET, POST" } }),
  })),
  {
    name: "request.url with a query",
    request: req("GET", "/search?q=a+b&x=%2F&empty="),
    handler: describe,
  },
  {
    name: "request.url from an absolute-form target",
    request: req("GET", "http://compat.test/abs/path?k=v"),
    handler: describe,
  },
  {
    name: "request.url of a percent-encoded path",
    request: req("GET", "/a%20b/%E2%9C%93/c%2Fd?q=%E2%9C%93"),
    handler: describe,
  },
  {
    name: "request.headers round trip",
    request: req("GET", "/", ["X-Echo: Some Value", "User-Agent: compat/1"]),
    handler: (request) =>
      new Response(`${request.headers.get("x-echo")}|${request.headers.get("user-agent")}`),
  },
  {
    name: "duplicate request headers combined",
    request: req("GET", "/", ["X-Dup: a", "X-Dup: b", "Accept: text/html", "accept: */*"]),
    handler: (request) =>
      new Response(`${request.headers.get("x-dup")}|${request.headers.get("accept")}`),
  },
  {
    name: "request.headers iteration",
    request: req("GET", "/", ["X-B: 2", "X-A: 1"]),
    handler: (request) =>
      new Response(
        [...request.headers].filter(([n]) => n.startsWith("x-")).map(([n, v]) => `${n}=${v}`)
          .join(";"),
      ),
  },
  {
    name: "POST text body echo",
    request: req(
      "POST",
      "/echo",
      ["Content-Type: text/plain", "Content-Length: 11"],
      "hello world",
    ),
    handler: describe,
  },
  {
    name: "POST JSON body echo",
    request: req(
      "POST",
      "/json",
      ["Content-Type: application/json", "Content-Length: 17"],
      '{"a":1,"b":[2,3]}',
    ),
    handler: async (request) => Response.json({ got: await request.json() }),
  },
  {
    name: "PUT bytes body echo",
    request: req("PUT", "/bytes", ["Content-Length: 256"], ALL_BYTES),
    handler: async (request) =>
      new Response(await request.bytes(), {
        headers: { "content-type": "application/octet-stream" },
      }),
  },
  {
    name: "POST chunked request body echo",
    request: req(
      "POST",
      "/chunked",
      ["Transfer-Encoding: chunked"],
      "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
    ),
    handler: describe,
  },
  {
    name: "POST chunked request body with trailers (dropped)",
    request: req(
      "POST",
      "/trailers",
      ["Transfer-Encoding: chunked", "Trailer: X-Sum"],
      "3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n",
    ),
    handler: async (request) =>
      new Response(`${await request.text()}|${request.headers.get("x-sum")}`),
  },
  {
    name: "request.url from an absolute-form target naming another host",
    request: req("GET", "http://other.test:8080/p?q", ["Host: compat.test"]),
    handler: describe,
  },
  {
    name: "request.url with a port in Host",
    request: req("GET", "/p", ["Host: compat.test:8443"]),
    handler: describe,
  },
  {
    name: "OPTIONS *",
    request: req("OPTIONS", "*"),
    handler: (request) => new Response(request.url),
  },
  {
    name: "POST empty body",
    request: req("POST", "/empty", ["Content-Length: 0"]),
    handler: async (request) => new Response(`[${await request.text()}]`),
  },
  {
    name: "POST body not read by the handler, then a pipelined GET",
    request: concatBytes(
      req("POST", "/ignored", ["Content-Length: 5"], "xxxxx"),
      req("GET", "/after"),
    ),
    responses: [false, false],
    handler: (request) => new Response(new URL(request.url).pathname),
  },
  {
    name: "POST 512 KiB body echoed by stream",
    request: req("POST", "/upload", [`Content-Length: ${BIG_UPLOAD.length}`], BIG_UPLOAD),
    handler: (request) => new Response(request.body),
    check: (seen) => assert.equal(seen[0]!.bodyLength, BIG_UPLOAD.length),
    allowPersistence: "Deno.serve closes when it answers before reading the whole request " +
      "body; netio reads the rest and keeps the connection (RFC 9112 9.3 allows both)",
  },
  {
    name: "Expect: 100-continue answered before the body",
    request: req("POST", "/continue", ["Expect: 100-continue", "Content-Length: 9"]),
    continueBody: encoder.encode("continued"),
    handler: async (request) => new Response(`got ${await request.text()}`),
  },
  {
    name: "request.signal not aborted while the client waits",
    request: req("GET", "/"),
    handler: (request) => new Response(String(request.signal.aborted)),
  },
  {
    name: "info.remoteAddr",
    request: req("GET", "/"),
    handler: (_request, info) => new Response(`${(info.remoteAddr as Deno.NetAddr).hostname}`),
  },
  // --- Connections.
  {
    name: "keep-alive pipelining of two requests",
    request: concatBytes(req("GET", "/first"), req("GET", "/second?x")),
    responses: [false, false],
    handler: (request) => new Response(new URL(request.url).pathname),
  },
  {
    name: "pipelined GET then HEAD of a stream",
    request: concatBytes(req("GET", "/s"), req("HEAD", "/s")),
    responses: [false, true],
    handler: () => new Response(slowStream(["a", "b"])),
  },
  {
    name: "Connection: close from the client",
    request: req("GET", "/", ["Connection: close"]),
    handler: () => new Response("bye"),
  },
  {
    name: "HTTP/1.0 without keep-alive, fixed body",
    request: req("GET", "/", ["Host: compat.test"], "", "HTTP/1.0"),
    handler: () => new Response("ten"),
  },
  {
    name: "HTTP/1.0 with keep-alive, fixed body",
    request: req("GET", "/", ["Host: compat.test", "Connection: keep-alive"], "", "HTTP/1.0"),
    handler: () => new Response("ten"),
  },
  {
    name: "HTTP/1.0 without keep-alive, streamed body (close-delimited)",
    request: req("GET", "/", ["Host: compat.test"], "", "HTTP/1.0"),
    handler: () => new Response(slowStream(["a", "b", "c"])),
  },
  {
    name: "HTTP/1.0 with keep-alive, streamed body (close-delimited)",
    request: req("GET", "/", ["Host: compat.test", "Connection: keep-alive"], "", "HTTP/1.0"),
    handler: () => new Response(slowStream(["a", "b", "c"])),
  },
  {
    name: "HTTP/1.0 without Host",
    request: req("GET", "/nohost", [], "", "HTTP/1.0"),
    handler: (request) => new Response(new URL(request.url).pathname),
  },
  // --- Handlers.
  {
    name: "async handler",
    request: req("GET", "/"),
    handler: async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return new Response("later");
    },
  },
  {
    name: "handler throwing",
    request: req("GET", "/"),
    handler: () => {
      throw new Error("thrown on purpose by serve_compat_test");
    },
    quiet: true,
  },
  {
    name: "async handler rejecting",
    request: req("GET", "/"),
    handler: () => Promise.reject(new Error("rejected on purpose by serve_compat_test")),
    quiet: true,
  },
  {
    name: "Upgrade: websocket not taken by the handler",
    request: req("GET", "/ws", [
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
    ]),
    handler: () => new Response("not a websocket"),
    intended: {
      reason: "netio answers 501 to a websocket upgrade the handler does not take (issue 14.7)",
      netio: (seen) => assert.equal(seen[0]!.status, 501),
    },
  },
];

// ---------------------------------------------------------------------------------------------

function compare(c: Case, deno: Seen[], netio: Seen[]): void {
  const where = (i: number, what: string): string =>
    `${c.name}${deno.length > 1 ? ` (response ${i + 1})` : ""}: ${what}`;
  assert.equal(netio.length, deno.length, `${c.name}: number of responses`);
  for (let i = 0; i < deno.length; i++) {
    const d = deno[i]!;
    const n = netio[i]!;
    c.normalise?.(d);
    c.normalise?.(n);
    assert.equal(n.status, d.status, where(i, "status"));
    assert.deepEqual(n.interim, d.interim, where(i, "interim responses"));
    assert.deepEqual(n.headers, d.headers, where(i, "headers"));
    // Without a body (HEAD, 204, 304) Content-Length announces a length: it must agree,
    // present or not. With a body, chunked and Content-Length framings are equivalent.
    if (
      (d.framing === "none" && n.framing === "none") ||
      (d.contentLength !== undefined && n.contentLength !== undefined)
    ) {
      assert.equal(n.contentLength, d.contentLength, where(i, "Content-Length"));
    }
    const kind = (s: Seen): string =>
      s.framing === "chunked" || s.framing === "length" ? "delimited" : s.framing;
    assert.equal(kind(n), kind(d), where(i, `framing (netio ${n.framing}, Deno ${d.framing})`));
    if (c.allowPersistence === undefined) {
      assert.equal(n.persistent, d.persistent, where(i, "persistence"));
    }
    assert.equal(n.body, d.body, where(i, "body"));
  }
}

/**
 * One exchange with a fresh server of each kind, both shut down: what lives as long as the
 * process (netio's default reactor, its epoll and eventfd; Deno's own pollers) exists before the
 * descriptors are counted.
 */
async function warmUp(): Promise<void> {
  const options = { hostname: "127.0.0.1", port: 0, onListen(): void {} };
  const denoServer = Deno.serve(options, () => new Response("warm"));
  const netioServer = serve(options, () => new Response("warm"));
  try {
    for (const port of [denoServer.addr.port, netioServer.addr.port]) {
      const client = await RawClient.connect(port);
      try {
        await client.write(req("GET", "/", ["Connection: close"]));
        assert.equal(utf8.decode((await client.response(false)).body), "warm");
      } finally {
        client.close();
      }
    }
  } finally {
    await denoServer.shutdown();
    await netioServer.shutdown();
  }
}

/** Runs every case on both servers and compares. */
async function runCases(
  t: Deno.TestContext,
  ports: { deno: number; netio: number },
  setHandler: (handler: Handler) => void,
): Promise<void> {
  const quiet = console.error;
  for (const c of cases) {
    await t.step(c.name, async () => {
      setHandler(c.handler);
      // A failing handler is logged by both servers; keep the test output to the verdicts.
      if (c.quiet) console.error = (): void => {};
      let deno: Seen[];
      let netio: Seen[];
      try {
        deno = await exchange(ports.deno, c, "Deno.serve");
        netio = await exchange(ports.netio, c, "netio serve()");
      } finally {
        console.error = quiet;
      }
      if (Deno.env.get("COMPAT_DUMP") !== undefined) {
        console.log(c.name, JSON.stringify({ deno, netio }, null, 1));
      }
      for (const [server, seen] of [["Deno.serve", deno], ["netio serve()", netio]] as const) {
        try {
          c.check?.(seen);
          if (server === "netio serve()") c.intended?.netio(seen);
        } catch (error) {
          throw new Error(`${c.name}: ${server}: ${(error as Error).message}`, { cause: error });
        }
      }
      if (c.intended !== undefined) return;
      compare(c, deno, netio);
    });
  }
}

Deno.test("serve() answers as Deno.serve does, case by case", async (t) => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  await warmUp();
  const fdsBefore = openFds();
  let current: Handler = () => new Response("no case");
  const handler: Handler = (request, info) =>
    request.url.endsWith(END_PATH) ? new Response("end") : current(request, info);
  const options = { hostname: "127.0.0.1", port: 0, onListen(): void {} };
  const denoServer = Deno.serve(options, handler);
  const netioServer = serve(options, handler);
  const ports = { deno: denoServer.addr.port, netio: netioServer.addr.port };
  const setHandler = (h: Handler): void => {
    current = h;
  };
  try {
    // netio reads string and bytes bodies from Deno's internal slots where they work, and
    // through the public Response API otherwise: both must answer the same.
    await t.step("bodies read from Deno's internal slots", async (t) => {
      setUseSlots(true);
      await runCases(t, ports, setHandler);
    });
    await t.step("bodies read through the public Response API", async (t) => {
      setUseSlots(false);
      try {
        await runCases(t, ports, setHandler);
      } finally {
        setUseSlots(true);
      }
    });
  } finally {
    await denoServer.shutdown();
    await netioServer.shutdown();
    await Deno.remove(FILE);
  }
  const leaked = await leakedFds(fdsBefore);
  assert.deepEqual(leaked, [], `descriptors left open: ${leaked.join(", ")}`);
});
