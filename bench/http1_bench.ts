/**
 * HTTP/1.1 parsing and serialization costs, per request: one wrk-style GET, a batch of 16
 * pipelined GETs (reported per batch; divide by 16), heads that arrive in pieces, a POST with a
 * body, a chunked POST, and response heads cached vs built.
 */
import {
  FixedResponse,
  httpDate,
  RequestParser,
  ResponseParser,
  writeResponseHead,
} from "../lib/http/mod.ts";

const encoder = new TextEncoder();
const WRK_GET = encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
const PIPELINED = encoder.encode(
  ("GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/plain\r\n" +
    "Connection: keep-alive\r\n\r\n").repeat(16),
);
const BROWSER_GET = encoder.encode(
  "GET /static/app.js?v=42 HTTP/1.1\r\n" +
    "Host: example.com\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
    "Accept: */*\r\n" +
    "Accept-Language: en-US,en;q=0.5\r\n" +
    "Accept-Encoding: gzip, deflate, br\r\n" +
    "Referer: https://example.com/\r\n" +
    "Connection: keep-alive\r\n" +
    "Sec-Fetch-Dest: script\r\n" +
    "Sec-Fetch-Mode: no-cors\r\n" +
    "Sec-Fetch-Site: same-origin\r\n\r\n",
);
const POST = encoder.encode(
  "POST /api HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n" +
    '{"hello":"x"}',
);
const CHUNKED_POST = encoder.encode(
  "POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
);
const RESPONSE = encoder.encode(
  "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/plain\r\n" +
    "Content-Length: 13\r\n\r\nHello, World!",
);

const parser = new RequestParser();
const responseParser = new ResponseParser();
let sink = 0;

Deno.bench("RequestParser: wrk GET, 1 request", { group: "parse", baseline: true }, () => {
  sink += parser.parse(WRK_GET, 0, WRK_GET.length);
  sink += parser.method.length + (parser.keepAlive ? 1 : 0);
});

Deno.bench("RequestParser: wrk GET with target and Host lookup", { group: "parse" }, () => {
  sink += parser.parse(WRK_GET, 0, WRK_GET.length);
  sink += parser.target.length + (parser.header("host")?.length ?? 0);
});

Deno.bench("RequestParser: browser GET, 11 fields", { group: "parse" }, () => {
  sink += parser.parse(BROWSER_GET, 0, BROWSER_GET.length);
});

Deno.bench("RequestParser: 16 pipelined GETs (whole batch)", { group: "parse" }, () => {
  let start = 0;
  while (start < PIPELINED.length) {
    const n = parser.parse(PIPELINED, start, PIPELINED.length);
    if (n <= 0) throw new Error("pipelined batch did not parse");
    start += n;
  }
  sink += start;
});

// An unfinished head is checked byte by byte as it arrives (early rejection); a whole head in one
// read skips that. These two rows price the partial path.
const BROWSER_HALF = BROWSER_GET.length >> 1;
Deno.bench("RequestParser: browser GET in two reads (first half checked early)", {
  group: "parse",
}, () => {
  if (parser.parse(BROWSER_GET, 0, BROWSER_HALF) !== 0) throw new Error("half a head parsed");
  sink += parser.parse(BROWSER_GET, 0, BROWSER_GET.length);
});

Deno.bench("RequestParser: wrk GET fed one byte per read", { group: "parse" }, () => {
  for (let end = 1; end < WRK_GET.length; end++) sink += parser.parse(WRK_GET, 0, end);
  sink += parser.parse(WRK_GET, 0, WRK_GET.length);
});

Deno.bench("RequestParser: POST with 13-byte Content-Length body", { group: "parse" }, () => {
  sink += parser.parse(POST, 0, POST.length) + parser.body.length;
});

Deno.bench("RequestParser: chunked POST, 2 chunks", { group: "parse" }, () => {
  sink += parser.parse(CHUNKED_POST, 0, CHUNKED_POST.length) + parser.body.length;
});

Deno.bench("ResponseParser: 200 with 13-byte body", { group: "parse" }, () => {
  sink += responseParser.parse(RESPONSE, 0, RESPONSE.length) + responseParser.status;
});

const frozenHeaders = Object.freeze({ "Content-Type": "text/plain" });
const mutableHeaders = { "Content-Type": "text/plain" };
const hello = new FixedResponse(200, { headers: frozenHeaders, body: "Hello, World!" });

Deno.bench("FixedResponse.bytes (head and body precomputed)", { group: "serialize" }, () => {
  sink += hello.bytes(true).length;
});

Deno.bench(
  "writeResponseHead, frozen headers (cached)",
  { group: "serialize", baseline: true },
  () => {
    sink += writeResponseHead(200, frozenHeaders, 13, true).length;
  },
);

Deno.bench("writeResponseHead, mutable headers (built each time)", { group: "serialize" }, () => {
  sink += writeResponseHead(200, mutableHeaders, 13, true).length;
});

Deno.bench("httpDate (cached per second)", { group: "serialize" }, () => {
  sink += httpDate().length;
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
