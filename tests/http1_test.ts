import assert from "node:assert/strict";
import {
  CONTINUE_RESPONSE,
  errorResponse,
  FixedResponse,
  httpDate,
  INCOMPLETE,
  PARSE_ERROR,
  RequestParser,
  type RequestParserOptions,
  ResponseParser,
  statusText,
  writeResponseHead,
} from "../lib/http/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const enc = (s: string): Uint8Array => encoder.encode(s);
/** Bytes from a string of code points 0-255 (for NUL, CTLs and obs-text). */
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface Snapshot {
  length: number;
  method: string;
  target: string;
  path: string;
  query: string;
  version: number;
  keepAlive: boolean;
  chunked: boolean;
  contentLength: number;
  expectContinue: boolean;
  headers: [string, string][];
  body: string;
}

function snapshot(parser: RequestParser, length: number): Snapshot {
  return {
    length,
    method: parser.method,
    target: parser.target,
    path: parser.path,
    query: parser.query,
    version: parser.version,
    keepAlive: parser.keepAlive,
    chunked: parser.chunked,
    contentLength: parser.contentLength,
    expectContinue: parser.expectContinue,
    headers: parser.headers(),
    body: decoder.decode(parser.body),
  };
}

interface Outcome {
  requests: Snapshot[];
  errorStatus?: number;
  /** Bytes left unconsumed at the end. */
  rest: number;
}

/** Parses everything in `input` at once, as one read. */
function parseAtOnce(input: Uint8Array, parser = new RequestParser()): Outcome {
  const requests: Snapshot[] = [];
  let start = 0;
  for (;;) {
    const n = parser.parse(input, start, input.length);
    if (n === PARSE_ERROR) {
      return { requests, errorStatus: parser.errorStatus, rest: input.length - start };
    }
    if (n === INCOMPLETE) return { requests, rest: input.length - start };
    requests.push(snapshot(parser, n));
    start += n;
  }
}

/**
 * Feeds `input` one byte per read, like a connection: the unconsumed tail is re-presented each
 * time, and moved to the front of a fresh buffer after every read, so nothing may depend on
 * absolute offsets.
 */
function parseBytewise(input: Uint8Array, parser = new RequestParser()): Outcome {
  const requests: Snapshot[] = [];
  let buf = new Uint8Array(0);
  for (let i = 0; i < input.length; i++) {
    const grown = new Uint8Array(buf.length + 1 + 3);
    grown.set(buf, 3); // the window starts at 3: start need not be 0
    grown[3 + buf.length] = input[i]!;
    let start = 3;
    const end = 3 + buf.length + 1;
    for (;;) {
      const n = parser.parse(grown, start, end);
      if (n === PARSE_ERROR) {
        return { requests, errorStatus: parser.errorStatus, rest: input.length - i - 1 };
      }
      if (n === INCOMPLETE) break;
      requests.push(snapshot(parser, n));
      start += n;
    }
    buf = grown.slice(start, end);
  }
  return { requests, rest: buf.length };
}

function statusOf(raw: string | Uint8Array, parser = new RequestParser()): number {
  const input = typeof raw === "string" ? enc(raw) : raw;
  const outcome = parseAtOnce(input, parser);
  return outcome.errorStatus ?? (outcome.requests.length > 0 ? 200 : 0);
}

const SIMPLE = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

Deno.test("RequestParser parses a wrk GET", () => {
  const { requests, rest } = parseAtOnce(enc(SIMPLE));
  assert.equal(rest, 0);
  assert.deepEqual(requests, [{
    length: SIMPLE.length,
    method: "GET",
    target: "/",
    path: "/",
    query: "",
    version: 1.1,
    keepAlive: true,
    chunked: false,
    contentLength: -1,
    expectContinue: false,
    headers: [["Host", "127.0.0.1:8080"]],
    body: "",
  }]);
});

const MIXED_BATCH = [
  "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
  "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
  "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nT: v\r\n\r\n",
  "HEAD /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "DELETE /e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
  "PATCH /f HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nGET / HTTP/",
  "GET /g HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
  "BREW /h HTTP/1.1\r\nHost: h\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  "GET http://h/i HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Spaces:  a b  \r\n\r\n",
  "TRACE /j HTTP/1.1\r\nHost: h\r\n\r\n",
  "POST /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "GET /l HTTP/1.1\r\nhost: h\r\nCONNECTION: Keep-Alive\r\n\r\n",
  "GET /m HTTP/1.1\r\nHost: h\r\nx-obs: caf\u00e9\r\n\r\n",
  "GET /n HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

Deno.test("RequestParser parses a pipelined batch of 16 requests in order", () => {
  assert.equal(MIXED_BATCH.length, 16);
  const input = bytes(MIXED_BATCH.join(""));
  const { requests, errorStatus, rest } = parseAtOnce(input);
  assert.equal(errorStatus, undefined);
  assert.equal(rest, 0);
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.target}`),
    [
      "GET /a?x=1",
      "POST /b",
      "PUT /c",
      "HEAD /d",
      "DELETE /e",
      "OPTIONS *",
      "PATCH /f",
      "GET /g",
      "BREW /h",
      "CONNECT example.com:443",
      "GET http://h/i",
      "TRACE /j",
      "POST /k",
      "GET /l",
      "GET /m",
      "GET /n",
    ],
  );
  assert.deepEqual(requests.map((r) => r.length), MIXED_BATCH.map((r) => r.length));
  const [a, b, c, d, , , f, g, , , i, , k, , m, n] = requests;
  assert.deepEqual([a!.path, a!.query], ["/a", "x=1"]);
  assert.deepEqual([b!.body, b!.contentLength, b!.chunked], ["hello", 5, false]);
  assert.deepEqual([c!.body, c!.chunked, c!.contentLength], ["abc", true, -1]);
  assert.deepEqual([d!.version, d!.keepAlive], [1, true]);
  assert.equal(f!.body, "GET / HTTP/");
  assert.equal(g!.expectContinue, true);
  assert.deepEqual(i!.headers, [["Host", "h"], ["X-Empty", ""], ["X-Spaces", "a b"]]);
  assert.deepEqual([k!.body, k!.chunked], ["", true]);
  assert.deepEqual(m!.headers[1], ["x-obs", "caf\u00e9"]);
  assert.equal(n!.keepAlive, false);
});

Deno.test("RequestParser gives the same result when fed one byte per read", () => {
  const input = bytes(MIXED_BATCH.join(""));
  assert.deepEqual(parseBytewise(input), parseAtOnce(input));
});

Deno.test("RequestParser completes a request split at any byte offset", () => {
  for (const raw of MIXED_BATCH) {
    const input = bytes(raw);
    const whole = parseAtOnce(input);
    for (let split = 0; split < input.length; split++) {
      const parser = new RequestParser();
      assert.equal(parser.parse(input, 0, split), INCOMPLETE, `split ${split} of ${raw}`);
      const n = parser.parse(input, 0, input.length);
      assert.equal(n, input.length, `split ${split} of ${JSON.stringify(raw)}`);
      assert.deepEqual(snapshot(parser, n), whole.requests[0]);
    }
  }
});

Deno.test("RequestParser reports errors identically when fed one byte per read", () => {
  for (const raw of [...REJECTIONS.map(([, r]) => r), ...SMUGGLING.map(([, r]) => r)]) {
    const input = typeof raw === "string" ? enc(raw) : raw;
    const whole = parseAtOnce(input);
    const bytewise = parseBytewise(input);
    assert.equal(bytewise.errorStatus, whole.errorStatus, JSON.stringify(decoder.decode(input)));
  }
});

Deno.test("RequestParser ignores empty lines before the request line", () => {
  const { requests } = parseAtOnce(enc("\r\n\r\n" + SIMPLE));
  assert.equal(requests[0]?.length, SIMPLE.length + 4);
  assert.equal(requests[0]?.target, "/");
});

Deno.test("RequestParser looks headers up by lowercase name and keeps the raw list", () => {
  const parser = new RequestParser();
  const input = enc(
    "GET / HTTP/1.1\r\nHost: h\r\nX-Multi: 1\r\nx-multi: 2\r\nUser-Agent:\tcurl/8 \t\r\n\r\n",
  );
  assert.equal(parser.parse(input, 0, input.length), input.length);
  assert.equal(parser.header("x-multi"), "1");
  assert.equal(parser.header("user-agent"), "curl/8");
  assert.equal(parser.header("missing"), undefined);
  assert.equal(parser.headerCount, 4);
  assert.equal(parser.headerName(2), "x-multi");
  assert.equal(parser.headerValue(2), "2");
  assert.throws(() => parser.headerName(4), RangeError);
  assert.deepEqual(parser.headers(), [
    ["Host", "h"],
    ["X-Multi", "1"],
    ["x-multi", "2"],
    ["User-Agent", "curl/8"],
  ]);
});

Deno.test("RequestParser returns shared strings for standard methods and repeated targets", () => {
  const parser = new RequestParser();
  const input = enc("GET /same HTTP/1.1\r\nHost: h\r\n\r\n".repeat(2));
  const first = parser.parse(input, 0, input.length);
  const target = parser.target;
  assert.equal(parser.parse(input, first, input.length), first);
  assert.equal(parser.target, target);
  assert.equal(parser.method, "GET");
});

Deno.test("RequestParser body is a view of the caller's buffer for Content-Length", () => {
  const parser = new RequestParser();
  const input = enc("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
  parser.parse(input, 0, input.length);
  assert.equal(parser.body.buffer, input.buffer);
  assert.equal(decoder.decode(parser.body), "abc");
});

Deno.test("RequestParser reports bytesNeeded for a Content-Length body", () => {
  const parser = new RequestParser();
  const input = enc("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  assert.equal(parser.parse(input, 0, input.length), INCOMPLETE);
  assert.equal(parser.headComplete, true);
  assert.equal(parser.bytesNeeded, input.length + 7);
});

Deno.test("RequestParser signals Expect: 100-continue once the head is parsed", () => {
  const parser = new RequestParser();
  const head = enc(
    "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n",
  );
  assert.equal(parser.parse(head, 0, head.length), INCOMPLETE);
  assert.equal(parser.headComplete, true);
  assert.equal(parser.expectContinue, true);
  assert.equal(decoder.decode(CONTINUE_RESPONSE), "HTTP/1.1 100 Continue\r\n\r\n");
  const http10 = new RequestParser();
  const old = enc("PUT /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  assert.equal(http10.parse(old, 0, old.length), INCOMPLETE);
  assert.equal(http10.expectContinue, false);
});

Deno.test("RequestParser applies the keep-alive rules of HTTP/1.0 and HTTP/1.1", () => {
  const cases: [string, string, boolean][] = [
    ["1.1", "", true],
    ["1.1", "Connection: close\r\n", false],
    ["1.1", "Connection: CLOSE\r\n", false],
    ["1.1", "Connection: keep-alive, close\r\n", false],
    ["1.1", "Connection: upgrade\r\nConnection: close\r\n", false],
    ["1.1", "Connection: keep-alive\r\n", true],
    ["1.1", "Connection: closed\r\n", true],
    ["1.0", "", false],
    ["1.0", "Connection: keep-alive\r\n", true],
    ["1.0", "Connection: Keep-Alive\r\n", true],
    ["1.0", "Connection: keep-alive, close\r\n", false],
    ["1.0", "Connection: close\r\n", false],
  ];
  for (const [version, fields, keepAlive] of cases) {
    const parser = new RequestParser();
    const input = enc(`GET / HTTP/${version}\r\nHost: h\r\n${fields}\r\n`);
    assert.equal(parser.parse(input, 0, input.length), input.length);
    assert.equal(parser.keepAlive, keepAlive, `HTTP/${version} ${JSON.stringify(fields)}`);
  }
});

const host = "Host: h\r\n";
const LONG_TARGET = "/" + "a".repeat(8192);
const MANY_FIELDS = Array.from({ length: 100 }, (_, i) => `X-${i}: v\r\n`).join("");
const BIG_FIELD = `X-Big: ${"b".repeat(16384)}\r\n`;

/** [what, raw request, status]. */
const REJECTIONS: [string, string | Uint8Array, number][] = [
  ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400],
  ["two Host fields", `GET / HTTP/1.1\r\n${host}${host}\r\n`, 400],
  ["double space in request line", `GET  / HTTP/1.1\r\n${host}\r\n`, 400],
  ["leading space in request line", ` GET / HTTP/1.1\r\n${host}\r\n`, 400],
  ["HTTP/0.9 request line", `GET /\r\n${host}\r\n`, 400],
  ["invalid method byte", `G@T / HTTP/1.1\r\n${host}\r\n`, 400],
  ["NUL in target", bytes(`GET /a\x00b HTTP/1.1\r\n${host}\r\n`), 400],
  ["DEL in target", bytes(`GET /a\x7fb HTTP/1.1\r\n${host}\r\n`), 400],
  ["obs-text in target", bytes(`GET /caf\xe9 HTTP/1.1\r\n${host}\r\n`), 400],
  ["lowercase version", `GET / http/1.1\r\n${host}\r\n`, 400],
  ["space after version", `GET / HTTP/1.1 \r\n${host}\r\n`, 400],
  ["short version", `GET / HTTP/1\r\n${host}\r\n`, 400],
  ["non-digit version", `GET / HTTP/1.x\r\n${host}\r\n`, 400],
  ["NUL in field value", bytes(`GET / HTTP/1.1\r\n${host}X: a\x00b\r\n\r\n`), 400],
  ["CTL in field value", bytes(`GET / HTTP/1.1\r\n${host}X: a\x01b\r\n\r\n`), 400],
  ["bare CR in field value", `GET / HTTP/1.1\r\n${host}X: a\rb\r\n\r\n`, 400],
  ["bare LF line ends", "GET / HTTP/1.1\nHost: h\n\n", 400],
  ["bare LF after a field", `GET / HTTP/1.1\r\nHost: h\n\r\n`, 400],
  ["obs-fold", `GET / HTTP/1.1\r\n${host}X: a\r\n b\r\n\r\n`, 400],
  ["whitespace before the first field", `GET / HTTP/1.1\r\n ${host}\r\n`, 400],
  ["space before colon", `GET / HTTP/1.1\r\n${host}X : a\r\n\r\n`, 400],
  ["invalid name byte", `GET / HTTP/1.1\r\n${host}X(y): a\r\n\r\n`, 400],
  ["empty field name", `GET / HTTP/1.1\r\n${host}: a\r\n\r\n`, 400],
  ["field line without colon", `GET / HTTP/1.1\r\n${host}NoColon\r\n\r\n`, 400],
  ["Content-Length with letters", `POST / HTTP/1.1\r\n${host}Content-Length: 1a\r\n\r\n`, 400],
  ["empty Content-Length", `POST / HTTP/1.1\r\n${host}Content-Length:\r\n\r\n`, 400],
  ["negative Content-Length", `POST / HTTP/1.1\r\n${host}Content-Length: -1\r\n\r\n`, 400],
  ["TE gzip alone", `POST / HTTP/1.1\r\n${host}Transfer-Encoding: gzip\r\n\r\n`, 400],
  [
    "TE chunked twice",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked, chunked\r\n\r\n`,
    400,
  ],
  ["TE empty", `POST / HTTP/1.1\r\n${host}Transfer-Encoding: ,\r\n\r\n`, 400],
  [
    "TE gzip before chunked",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    501,
  ],
  ["target over maxUrlBytes", `GET ${LONG_TARGET} HTTP/1.1\r\n${host}\r\n`, 414],
  ["101 fields", `GET / HTTP/1.1\r\n${host}${MANY_FIELDS}\r\n`, 431],
  ["header section over maxHeaderBytes", `GET / HTTP/1.1\r\n${host}${BIG_FIELD}\r\n`, 431],
  [
    "Content-Length over maxBodyBytes",
    `POST / HTTP/1.1\r\n${host}Content-Length: 1048577\r\n\r\n`,
    413,
  ],
  [
    "Content-Length over 2^53",
    `POST / HTTP/1.1\r\n${host}Content-Length: 99999999999999999999999\r\n\r\n`,
    413,
  ],
  ["HTTP/2.0", `GET / HTTP/2.0\r\n${host}\r\n`, 505],
  ["HTTP/1.2", `GET / HTTP/1.2\r\n${host}\r\n`, 505],
  ["HTTP/0.9 with version", `GET / HTTP/0.9\r\n${host}\r\n`, 505],
  ["bad chunk size", `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 400],
  ["signed chunk size", `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n-1\r\n`, 400],
  [
    "space after chunk size",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n1 \r\na\r\n0\r\n\r\n`,
    400,
  ],
  [
    "chunk data longer than its size",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n`,
    400,
  ],
  [
    "chunk without CRLF",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n`,
    400,
  ],
  [
    "chunk size over maxBodyBytes",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n`,
    413,
  ],
  ["too many empty lines first", `${"\r\n".repeat(8193)}GET / HTTP/1.1\r\n${host}\r\n`, 400],
  ["method over 32 bytes", `${"M".repeat(33)} / HTTP/1.1\r\n${host}\r\n`, 400],
  [
    "chunk extension over maxHeaderBytes",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n1;${"e".repeat(16384)}\r\n`,
    400,
  ],
  [
    "invalid trailer",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n`,
    400,
  ],
];

Deno.test("RequestParser rejects malformed and oversized requests with the right status", () => {
  for (const [what, raw, status] of REJECTIONS) {
    const parser = new RequestParser();
    assert.equal(statusOf(raw, parser), status, what);
    assert.equal(parser.keepAlive, false, what);
    assert.notEqual(parser.errorReason, "", what);
  }
});

Deno.test("RequestParser accepts requests just inside every limit", () => {
  const target = "/" + "a".repeat(8191);
  assert.equal(statusOf(`GET ${target} HTTP/1.1\r\n${host}\r\n`), 200);
  const fields = Array.from({ length: 99 }, (_, i) => `X-${i}: v\r\n`).join("");
  assert.equal(statusOf(`GET / HTTP/1.1\r\n${host}${fields}\r\n`), 200);
  const section = `${host}X: ${"b".repeat(16384 - host.length - 7)}\r\n\r\n`;
  assert.equal(section.length, 16384);
  assert.equal(statusOf(`GET / HTTP/1.1\r\n${section}`), 200);
  const body = "x".repeat(1024 * 1024);
  assert.equal(
    statusOf(`POST / HTTP/1.1\r\n${host}Content-Length: ${body.length}\r\n\r\n${body}`),
    200,
  );
  assert.equal(statusOf(`GET / HTTP/1.0\r\n\r\n`), 200);
});

Deno.test("RequestParser honours custom limits", () => {
  const options = { maxUrlBytes: 8, maxHeaderBytes: 64, maxBodyBytes: 4, maxHeaders: 2 };
  const cases: [string, number][] = [
    [`GET /12345678 HTTP/1.1\r\n${host}\r\n`, 414],
    [`GET / HTTP/1.1\r\n${host}X: ${"v".repeat(60)}\r\n\r\n`, 431],
    [`GET / HTTP/1.1\r\n${host}A: 1\r\nB: 2\r\n\r\n`, 431],
    [`POST / HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\n`, 413],
    [`POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n`, 413],
    [`POST / HTTP/1.1\r\n${host}Content-Length: 4\r\n\r\nabcd`, 200],
  ];
  for (const [raw, status] of cases) {
    assert.equal(statusOf(raw, new RequestParser(options)), status, raw);
  }
  assert.throws(() => new RequestParser({ maxBodyBytes: 0 }), RangeError);
});

Deno.test("RequestParser rejects an over-long target or header section before it ends", () => {
  const parser = new RequestParser();
  const line = enc(`GET /${"a".repeat(9000)}`);
  assert.equal(parser.parse(line, 0, line.length), PARSE_ERROR);
  assert.equal(parser.errorStatus, 414);

  const noSpace = new RequestParser();
  const garbage = enc("A".repeat(9000));
  assert.equal(noSpace.parse(garbage, 0, garbage.length), PARSE_ERROR);
  assert.equal(noSpace.errorStatus, 400);

  const fields = new RequestParser();
  const head = enc(`GET / HTTP/1.1\r\n${host}X: ${"b".repeat(17000)}`);
  assert.equal(fields.parse(head, 0, head.length), PARSE_ERROR);
  assert.equal(fields.errorStatus, 431);
});

/**
 * Early rejection: [what, bad prefix, status, options]. The head stops being valid at the last
 * byte of the prefix: every shorter prefix must stay INCOMPLETE, the whole prefix must be
 * refused, and no blank line ends it (the prefix never holds CRLF CRLF).
 */
const EARLY_REJECTIONS: [string, string | Uint8Array, number, RequestParserOptions?][] = [
  ["bare CR before the request line", "\rG", 400],
  ["bare CR in the request line", "GET / HTTP/1.1\rH", 400],
  ["bare CR in a field name", "GET / HTTP/1.1\r\nHo\r", 400],
  ["bare CR in a field value", `GET / HTTP/1.1\r\n${host}X: a\rb`, 400],
  ["bare CR where the blank line goes", `GET / HTTP/1.1\r\n${host}\rX`, 400],
  ["space before the first field", "GET / HTTP/1.1\r\n ", 400],
  ["tab before the first field", "GET / HTTP/1.1\r\n\t", 400],
  ["obs-fold", `GET / HTTP/1.1\r\n${host}X: a\r\n `, 400],
  ["leading space in the request line", " ", 400],
  ["invalid method byte", "G@", 400],
  ["NUL in the method", bytes("GE\x00"), 400],
  ["method over 32 bytes", "M".repeat(33), 400],
  ["double space in the request line", "GET  ", 400],
  ["NUL in the target", bytes("GET /a\x00"), 400],
  ["DEL in the target", bytes("GET /a\x7f"), 400],
  ["obs-text in the target", bytes("GET /caf\xe9"), 400],
  ["HTTP/0.9 request line", "GET /\r", 400],
  ["target over maxUrlBytes", `GET /${"a".repeat(8192)}`, 414],
  ["HTTX/1.1", "GET / HTTX", 400],
  ["lowercase version", "GET / h", 400],
  ["version without a dot", "GET / HTTP/1,", 400],
  ["non-digit major version", "GET / HTTP/x", 400],
  ["non-digit minor version", "GET / HTTP/1.x", 400],
  ["short version", "GET / HTTP/1\r", 400],
  ["space after the version", "GET / HTTP/1.1 ", 400],
  ["HTTP/2.0", "GET / HTTP/2", 505],
  ["HTTP/0.9 with version", "GET / HTTP/0", 505],
  ["HTTP/1.2", "GET / HTTP/1.2", 505],
  ["Content-Length over maxBodyBytes", `POST / HTTP/1.1\r\n${host}Content-Length: 1048577`, 413],
  [
    "Content-Length that overflows, at the digit that passes maxBodyBytes",
    `POST / HTTP/1.1\r\n${host}Content-Length: ${"9".repeat(7)}`,
    413,
  ],
  [
    "Content-Length over a custom maxBodyBytes",
    `POST / HTTP/1.1\r\n${host}Content-Length:\t 0011`,
    413,
    { maxBodyBytes: 10 },
  ],
  ["negative Content-Length", `POST / HTTP/1.1\r\n${host}Content-Length: -`, 400],
  ["Content-Length with a letter", `POST / HTTP/1.1\r\n${host}Content-Length: 1a`, 400],
  ["Content-Length with inner space", `POST / HTTP/1.1\r\n${host}Content-Length: 1 5`, 400],
  ["Content-Length list", `POST / HTTP/1.1\r\n${host}Content-Length: 5,`, 400],
  ["empty Content-Length", `POST / HTTP/1.1\r\n${host}Content-Length: \r`, 400],
  [
    "duplicate Content-Length that disagrees",
    `POST / HTTP/1.1\r\n${host}Content-Length: 5\r\ncontent-length:`,
    400,
  ],
  ["NUL in a field name", bytes(`GET / HTTP/1.1\r\n${host}X\x00`), 400],
  ["CTL in a field name", bytes(`GET / HTTP/1.1\r\n${host}X\x01`), 400],
  ["DEL in a field name", bytes(`GET / HTTP/1.1\r\n${host}X\x7f`), 400],
  ["invalid name byte", `GET / HTTP/1.1\r\n${host}X(`, 400],
  ["space before the colon", `GET / HTTP/1.1\r\n${host}X `, 400],
  ["empty field name", `GET / HTTP/1.1\r\n${host}:`, 400],
  ["NUL in a field value", bytes(`GET / HTTP/1.1\r\n${host}X: a\x00`), 400],
  ["CTL in a field value", bytes(`GET / HTTP/1.1\r\n${host}X: \x01`), 400],
  ["DEL in a field value", bytes(`GET / HTTP/1.1\r\n${host}X: a\x7f`), 400],
  ["CTL in a Content-Length value", bytes(`POST / HTTP/1.1\r\n${host}Content-Length: 1\x01`), 400],
  ["one field too many", `GET / HTTP/1.1\r\n${host}A: 1\r\nB:`, 431, { maxHeaders: 2 }],
  ["a bad request after a good one", `${SIMPLE}G@`, 400],
  ["a bad version after a good request", `${SIMPLE}GET / HTTP/2`, 505],
  [
    "a bad field after a request with a body",
    `POST / HTTP/1.1\r\n${host}Content-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\n${host}X\x01`,
    400,
  ],
  [
    "a second Content-Length after a request with one",
    `POST / HTTP/1.1\r\n${host}Content-Length: 0\r\n\r\n` +
    `POST / HTTP/1.1\r\n${host}Content-Length: 0\r\nContent-Length:`,
    400,
  ],
];

/**
 * The verdict on each prefix of `input` fed one byte per parse() to one parser: INCOMPLETE while
 * it may still become valid (complete requests before it are taken off), else the error status.
 */
function statusPerByte(input: Uint8Array, options?: RequestParserOptions): number[] {
  const parser = new RequestParser(options);
  const statuses: number[] = [];
  let start = 0;
  for (let end = 1; end <= input.length; end++) {
    let r = parser.parse(input, start, end);
    // Like a server, never with an empty window: the next request starts with its first byte.
    while (r > 0) {
      start += r;
      r = start < end ? parser.parse(input, start, end) : INCOMPLETE;
    }
    statuses.push(r === PARSE_ERROR ? parser.errorStatus : r);
    if (r !== INCOMPLETE) break;
  }
  return statuses;
}

Deno.test("RequestParser refuses a bad head at its first bad byte, before the blank line", () => {
  for (const [what, raw, status, options] of EARLY_REJECTIONS) {
    const input = typeof raw === "string" ? enc(raw) : raw;
    // The refused head itself (after any valid requests before it) never gets its blank line.
    const valid = parseAtOnce(input).requests.reduce((sum, r) => sum + r.length, 0);
    assert.equal(decoder.decode(input.subarray(valid)).includes("\r\n\r\n"), false, what);
    const expected = Array<number>(input.length - 1).fill(INCOMPLETE);
    expected.push(status);
    assert.deepEqual(statusPerByte(input, options), expected, what);
    // The same verdict when the unconsumed bytes move between reads (refused with none left),
    // and for the prefix in one read, but not for the prefix without its last byte.
    const bytewise = parseBytewise(input, new RequestParser(options));
    assert.deepEqual([bytewise.errorStatus, bytewise.rest], [status, 0], what);
    const parser = new RequestParser(options);
    assert.equal(statusOf(input, parser), status, what);
    assert.equal(parser.keepAlive, false, what);
    assert.notEqual(parser.errorReason, "", what);
    assert.equal(
      parseAtOnce(input.subarray(0, -1), new RequestParser(options)).errorStatus,
      undefined,
      what,
    );
  }
});

Deno.test("RequestParser refuses early only where the complete head would be refused", () => {
  // Each bad prefix, completed into a whole head, gets the same status in one read.
  const completions: [string, string][] = [
    ["GET / HTTP/1.1\rH", "ost: h\r\n\r\n"],
    [`GET / HTTP/1.1\r\n${host}X: a\rb`, "\r\n\r\n"],
    ["GET / HTTP/1.1\r\n ", `${host}\r\n`],
    ["G@", "T / HTTP/1.1\r\nHost: h\r\n\r\n"],
    ["GET /a\x7f", " HTTP/1.1\r\nHost: h\r\n\r\n"],
    ["GET / HTTX", "/1.1\r\nHost: h\r\n\r\n"],
    ["GET / HTTP/2", ".0\r\nHost: h\r\n\r\n"],
    ["GET / HTTP/1.2", "\r\nHost: h\r\n\r\n"],
    [`POST / HTTP/1.1\r\n${host}Content-Length: 1048577`, "\r\n\r\n"],
    [`POST / HTTP/1.1\r\n${host}Content-Length: 1 5`, "\r\n\r\n"],
    [`POST / HTTP/1.1\r\n${host}Content-Length: 5\r\ncontent-length:`, " 6\r\n\r\nhello!"],
    [`GET / HTTP/1.1\r\n${host}X\x01`, ": a\r\n\r\n"],
    [`GET / HTTP/1.1\r\n${host}X: a\x00`, "\r\n\r\n"],
  ];
  for (const [prefix, rest] of completions) {
    const input = bytes(prefix + rest);
    const early = statusPerByte(bytes(prefix)).at(-1);
    assert.equal(parseAtOnce(input).errorStatus, early, JSON.stringify(prefix));
    assert.equal(parseBytewise(input).errorStatus, early, JSON.stringify(prefix));
  }
});

/** Valid input that comes close to every early rule: [what, raw, options]. */
const VALID_BYTEWISE: [string, string, RequestParserOptions?][] = [
  ["empty lines before the request line", `\r\n\r\nGET / HTTP/1.1\r\n${host}\r\n`],
  ["HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"],
  ["a 32-byte method", `${"M".repeat(32)} / HTTP/1.1\r\n${host}\r\n`],
  ["a target of exactly maxUrlBytes", `GET /${"a".repeat(7)} HTTP/1.1\r\n${host}\r\n`, {
    maxUrlBytes: 8,
  }],
  [
    "every VCHAR in the target",
    `GET /${"!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"} HTTP/1.1\r\n${host}\r\n`,
  ],
  ["every tchar in a name", `GET / HTTP/1.1\r\n${host}!#$%&'*+-.^_\`|~09AZaz: v\r\n\r\n`],
  [
    "obs-text, tabs and an empty value",
    `GET / HTTP/1.1\r\n${host}A:\t\xe9 \xff\t\r\nB:\r\nC: \r\n\r\n`,
  ],
  [
    "Content-Length with OWS and zeros",
    `POST / HTTP/1.1\r\n${host}Content-Length:\t 007 \t\r\n\r\nabcdefg`,
  ],
  [
    "Content-Length of exactly maxBodyBytes",
    `POST / HTTP/1.1\r\n${host}Content-Length: 10\r\n\r\n0123456789`,
    {
      maxBodyBytes: 10,
    },
  ],
  ["Content-Length: 0", `POST / HTTP/1.1\r\n${host}Content-Length: 0\r\n\r\n`],
  [
    "names that only look like Content-Length",
    `POST / HTTP/1.1\r\n${host}Content-Lengthy: x\r\nX-Content-Length: 99999999999\r\nContent-Lengt: -\r\nContent-Length: 2\r\n\r\nhi`,
  ],
  [
    "a large number outside Content-Length",
    `GET / HTTP/1.1\r\n${host}X: ${"9".repeat(40)}\r\n\r\n`,
  ],
  ["maxHeaders fields", `GET / HTTP/1.1\r\n${host}A: 1\r\n\r\n`, { maxHeaders: 2 }],
  [
    "a chunked body with trailers",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nT: v\r\n\r\n`,
  ],
  [
    "pipelined requests with bodies that look like heads",
    MIXED_BATCH.join("") +
    `POST / HTTP/1.1\r\n${host}Content-Length: 9\r\n\r\n \r\r\n\x00\xff:\r\n` + SIMPLE,
  ],
];

Deno.test("RequestParser gives valid heads fed one byte per read the result they get at once", () => {
  for (const [what, raw, options] of VALID_BYTEWISE) {
    const input = bytes(raw);
    const whole = parseAtOnce(input, new RequestParser(options));
    assert.equal(whole.errorStatus, undefined, what);
    assert.equal(whole.rest, 0, what);
    assert.deepEqual(parseBytewise(input, new RequestParser(options)), whole, what);
  }
});

Deno.test("RequestParser answers 413 from Content-Length before the body arrives", () => {
  const parser = new RequestParser();
  const head = enc(`PUT / HTTP/1.1\r\n${host}Content-Length: 2000000\r\n\r\n`);
  assert.equal(parser.parse(head, 0, head.length), PARSE_ERROR);
  assert.equal(parser.errorStatus, 413);
});

/** Request smuggling attempts (RFC 9112 6.1, 6.3, 11.2): each must be refused. */
const SMUGGLING: [string, string, number][] = [
  [
    "Content-Length then Transfer-Encoding",
    `POST / HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "Transfer-Encoding then Content-Length",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "two Content-Length values",
    `POST / HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    400,
  ],
  [
    "two equal Content-Length fields",
    `POST / HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    400,
  ],
  ["Content-Length list", `POST / HTTP/1.1\r\n${host}Content-Length: 5, 5\r\n\r\nhello`, 400],
  [
    "Content-Length with plus sign",
    `POST / HTTP/1.1\r\n${host}Content-Length: +5\r\n\r\nhello`,
    400,
  ],
  ["Content-Length with inner space", `POST / HTTP/1.1\r\n${host}Content-Length: 1 5\r\n\r\n`, 400],
  ["Content-Length in hex", `POST / HTTP/1.1\r\n${host}Content-Length: 0x5\r\n\r\nhello`, 400],
  [
    "TE chunked, identity",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "TE split over two lines with identity last",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n`,
    400,
  ],
  ["TE xchunked", `POST / HTTP/1.1\r\n${host}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 400],
  [
    "TE with a parameter",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "space before colon in Transfer-Encoding",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc`,
    400,
  ],
  [
    "obs-fold into Transfer-Encoding",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  [
    "Transfer-Encoding in HTTP/1.0",
    `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc`,
    400,
  ],
  [
    "bare LF hiding a header",
    `POST / HTTP/1.1\r\n${host}X: a\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc`,
    400,
  ],
  [
    "chunk size with leading space",
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n`,
    400,
  ],
];

Deno.test("RequestParser refuses request smuggling attempts", () => {
  for (const [what, raw, status] of SMUGGLING) {
    assert.equal(statusOf(raw), status, what);
  }
});

Deno.test("RequestParser accepts case variants of chunked and OWS around it", () => {
  const raw = `POST / HTTP/1.1\r\n${host}Transfer-Encoding:\tChunked \r\n\r\n1\r\na\r\n0\r\n\r\n`;
  const { requests } = parseAtOnce(enc(raw));
  assert.deepEqual([requests[0]?.chunked, requests[0]?.body], [true, "a"]);
});

Deno.test("RequestParser decodes chunked bodies with extensions and trailers", () => {
  const raw = `POST /up HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n` +
    "5;name=value\r\nhello\r\n" +
    '7 ; a="quoted" ; b\r\n, world\r\n' +
    "A\r\n0123456789\r\n" +
    "000\r\n" +
    "Checksum: abc\r\nX-Other: 1\r\n\r\n" +
    `GET /next HTTP/1.1\r\n${host}\r\n`;
  const input = enc(raw);
  for (const outcome of [parseAtOnce(input), parseBytewise(input)]) {
    assert.equal(outcome.errorStatus, undefined);
    assert.deepEqual(outcome.requests.map((r) => r.body), ["hello, world0123456789", ""]);
    assert.equal(outcome.requests[1]?.target, "/next");
  }
});

Deno.test("RequestParser keeps a chunked body valid after the next parse", () => {
  const parser = new RequestParser();
  const input = enc(
    `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` +
      `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n`,
  );
  const n = parser.parse(input, 0, input.length);
  const first = parser.body;
  parser.parse(input, n, input.length);
  assert.equal(decoder.decode(first), "abc");
  assert.equal(decoder.decode(parser.body), "xyz");
});

Deno.test("RequestParser bounds chunk framing overhead", () => {
  const chunks = "1\r\na\r\n".repeat(5000);
  const raw = `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
  assert.equal(statusOf(raw), 400);
  const fine = "400\r\n" + "a".repeat(1024) + "\r\n";
  const ok = `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n${
    fine.repeat(100)
  }0\r\n\r\n`;
  assert.equal(statusOf(ok), 200);
});

Deno.test("RequestParser keeps failing after an error until reset", () => {
  const parser = new RequestParser();
  const bad = enc("GET / HTTP/1.1\r\n\r\n");
  const good = enc(SIMPLE);
  assert.equal(parser.parse(bad, 0, bad.length), PARSE_ERROR);
  assert.equal(parser.parse(good, 0, good.length), PARSE_ERROR);
  parser.reset();
  assert.equal(parser.parse(good, 0, good.length), good.length);
  assert.equal(parser.errorStatus, 0);
});

Deno.test("RequestParser throws RangeError for a window outside the buffer", () => {
  const parser = new RequestParser();
  const buf = enc(SIMPLE);
  assert.throws(() => parser.parse(buf, 0, buf.length + 1), RangeError);
  assert.throws(() => parser.parse(buf, 5, 4), RangeError);
  assert.throws(() => parser.parse(buf, -1, 4), RangeError);
});

Deno.test("errorResponse answers each parser error status with Connection: close", () => {
  for (const status of [400, 413, 414, 431, 501, 505]) {
    const text = decoder.decode(errorResponse(status));
    const [head, body] = text.split("\r\n\r\n") as [string, string];
    assert.ok(head.startsWith(`HTTP/1.1 ${status} ${statusText(status)}\r\n`), text);
    assert.ok(head.includes("\r\nConnection: close"), text);
    assert.ok(head.includes(`\r\nContent-Length: ${encoder.encode(body).length}`), text);
    assert.equal(body, `${status} ${statusText(status)}\n`);
  }
  assert.equal(errorResponse(400), errorResponse(400));
});

function response(raw: string, parser = new ResponseParser()): ResponseParser {
  const input = enc(raw);
  assert.equal(parser.parse(input, 0, input.length), input.length, raw);
  return parser;
}

Deno.test("ResponseParser parses a Content-Length response", () => {
  const parser = response(
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found",
  );
  assert.deepEqual(
    [parser.status, parser.reason, parser.version, parser.keepAlive, parser.contentLength],
    [404, "Not Found", 1.1, true, 9],
  );
  assert.equal(parser.header("content-type"), "text/plain");
  assert.equal(decoder.decode(parser.body), "not found");
  assert.equal(parser.headerCount, 2);
});

Deno.test("ResponseParser decodes a chunked response with trailers", () => {
  const parser = response(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x\r\nWiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n",
  );
  assert.equal(parser.chunked, true);
  assert.equal(decoder.decode(parser.body), "Wikipedia");
});

Deno.test("ResponseParser has no body for HEAD, 1xx, 204 and 304", () => {
  const head = new ResponseParser();
  head.headRequest = true;
  assert.equal(head.headRequest, true);
  const r = response("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", head);
  assert.deepEqual([r.body.length, r.contentLength, r.keepAlive], [0, 1000, true]);
  for (const status of ["204 No Content", "304 Not Modified"]) {
    const p = response(`HTTP/1.1 ${status}\r\nContent-Length: 5\r\n\r\n`);
    assert.equal(p.body.length, 0);
  }
  const parser = new ResponseParser();
  const input = enc("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const n = parser.parse(input, 0, input.length);
  assert.equal(parser.status, 100);
  assert.equal(parser.parse(input, n, input.length), input.length - n);
  assert.equal(parser.status, 200);
  assert.equal(decoder.decode(parser.body), "ok");
});

Deno.test("ResponseParser reads a body delimited by close through finish()", () => {
  const parser = new ResponseParser();
  const input = enc("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end");
  assert.equal(parser.parse(input, 0, input.length), INCOMPLETE);
  assert.equal(parser.finish(input, 0, input.length), input.length);
  assert.equal(decoder.decode(parser.body), "until the end");
  assert.equal(parser.keepAlive, false);

  const idle = new ResponseParser();
  assert.equal(idle.finish(input, 0, 0), INCOMPLETE);
  const truncated = new ResponseParser();
  const partial = enc("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  assert.equal(truncated.finish(partial, 0, partial.length), PARSE_ERROR);
});

Deno.test("ResponseParser applies the keep-alive rules of HTTP/1.0 and HTTP/1.1", () => {
  assert.equal(response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive, true);
  assert.equal(
    response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive,
    false,
  );
  assert.equal(response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive, false);
  assert.equal(
    response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive,
    true,
  );
});

Deno.test("ResponseParser accepts a status line without a reason phrase", () => {
  const parser = response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
  assert.deepEqual([parser.status, parser.reason], [200, ""]);
});

Deno.test("ResponseParser refuses malformed or ambiguous responses", () => {
  const cases = [
    "HTTP/1.1 20 OK\r\n\r\n",
    "HTTP/2 200 OK\r\n\r\n",
    "HTTP/1.2 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
  ];
  for (const raw of cases) {
    const parser = new ResponseParser();
    const input = enc(raw);
    assert.equal(parser.parse(input, 0, input.length), PARSE_ERROR, raw);
    assert.notEqual(parser.errorReason, "", raw);
  }
  const small = new ResponseParser({ maxBodyBytes: 4 });
  const big = enc("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  assert.equal(small.parse(big, 0, big.length), PARSE_ERROR);
});

Deno.test("ResponseParser gives the same result when fed one byte per read", () => {
  const raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" +
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n" +
    "HTTP/1.1 204 No Content\r\n\r\n";
  const input = enc(raw);
  const results: string[] = [];
  const parser = new ResponseParser();
  let buf = new Uint8Array(0);
  for (let i = 0; i < input.length; i++) {
    const grown = new Uint8Array(buf.length + 1);
    grown.set(buf);
    grown[buf.length] = input[i]!;
    let start = 0;
    for (;;) {
      const n = parser.parse(grown, start, grown.length);
      assert.notEqual(n, PARSE_ERROR, parser.errorReason);
      if (n === INCOMPLETE) break;
      results.push(`${parser.status} ${decoder.decode(parser.body)}`);
      start += n;
    }
    buf = grown.slice(start);
  }
  assert.deepEqual(results, ["200 abc", "200 xyz", "204 "]);
  assert.equal(buf.length, 0);
});

const DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

Deno.test("httpDate formats the current second as IMF-fixdate", () => {
  const before = Math.floor(Date.now() / 1000) * 1000;
  const date = httpDate();
  const after = Date.now();
  assert.match(date, DATE);
  const parsed = Date.parse(date);
  assert.ok(parsed >= before && parsed <= after, `${date} not within the last second`);
  assert.equal(date.length, 29);
});

Deno.test("writeResponseHead serializes status, fields, length and connection", () => {
  const head = decoder.decode(
    writeResponseHead(201, [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]], 7, false),
  );
  const lines = head.split("\r\n");
  assert.equal(lines[0], "HTTP/1.1 201 Created");
  assert.match(lines[1]!.slice("Date: ".length), DATE);
  assert.deepEqual(lines.slice(2), [
    "Set-Cookie: a=1",
    "Set-Cookie: b=2",
    "Content-Length: 7",
    "Connection: close",
    "",
    "",
  ]);
  const chunked = decoder.decode(
    writeResponseHead(200, { "Transfer-Encoding": "chunked" }, -1, true),
  );
  assert.ok(!chunked.includes("Content-Length"));
  assert.ok(chunked.endsWith("Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"));
  assert.ok(!decoder.decode(writeResponseHead(204, undefined, 0, true)).includes("Content-Length"));
  assert.ok(
    decoder.decode(writeResponseHead(299, undefined, 0, true)).startsWith("HTTP/1.1 299 \r\n"),
  );
});

Deno.test("writeResponseHead caches heads for frozen headers only", () => {
  const frozen = Object.freeze({ "Content-Type": "text/plain" });
  const mutable = { "Content-Type": "text/plain" };
  assert.equal(writeResponseHead(200, frozen, 13, true), writeResponseHead(200, frozen, 13, true));
  assert.notEqual(
    writeResponseHead(200, frozen, 13, true),
    writeResponseHead(200, frozen, 14, true),
  );
  assert.notEqual(
    writeResponseHead(200, frozen, 13, true),
    writeResponseHead(200, frozen, 13, false),
  );
  assert.notEqual(
    writeResponseHead(200, mutable, 13, true),
    writeResponseHead(200, mutable, 13, true),
  );
  mutable["Content-Type"] = "text/html";
  assert.ok(decoder.decode(writeResponseHead(200, mutable, 13, true)).includes("text/html"));
});

Deno.test("writeResponseHead refuses fields that could inject lines", () => {
  assert.throws(() => writeResponseHead(200, { "X": "a\r\nSet-Cookie: evil" }, 0, true), TypeError);
  assert.throws(() => writeResponseHead(200, { "X": "a\nb" }, 0, true), TypeError);
  assert.throws(() => writeResponseHead(200, { "X Y": "a" }, 0, true), TypeError);
  assert.throws(() => writeResponseHead(200, { "": "a" }, 0, true), TypeError);
  assert.throws(() => writeResponseHead(200, { "content-length": "5" }, 0, true), TypeError);
  assert.throws(() => writeResponseHead(200, { "Connection": "close" }, 0, true), TypeError);
  assert.throws(() => writeResponseHead(99, undefined, 0, true), RangeError);
  assert.throws(() => writeResponseHead(200, undefined, 1.5, true), RangeError);
  assert.throws(() => new FixedResponse(200, { headers: { "X": "\r\n" } }), TypeError);
});

Deno.test("statusText names registered codes and leaves others empty", () => {
  assert.equal(statusText(200), "OK");
  assert.equal(statusText(413), "Content Too Large");
  assert.equal(statusText(505), "HTTP Version Not Supported");
  assert.equal(statusText(799), "");
});

Deno.test("FixedResponse serializes head and body once and reuses them", () => {
  const hello = new FixedResponse(200, {
    headers: { "Content-Type": "text/plain" },
    body: "Hello, World!",
  });
  const keepAlive = decoder.decode(hello.bytes(true));
  assert.ok(keepAlive.startsWith("HTTP/1.1 200 OK\r\nDate: "));
  assert.ok(
    keepAlive.endsWith(
      "Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!",
    ),
  );
  assert.ok(decoder.decode(hello.bytes(false)).includes("\r\nConnection: close\r\n"));
  assert.equal(hello.bytes(true), hello.bytes(true));
  const empty = decoder.decode(new FixedResponse(404).bytes(true));
  assert.ok(empty.endsWith("Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"));
});
