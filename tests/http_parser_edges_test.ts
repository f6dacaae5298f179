/**
 * Edges of request framing that the status alone cannot tell apart: the reason each rejection
 * gives (a disabled check often still ends in 400 from a later one), the byte just past the
 * caller's window, limits at their exact values, field names that only share a length with a
 * known one, and the chunked decoder driven directly (a window that starts after a CR, data handed
 * out while streaming). A mutation run showed each of these could change unnoticed.
 */
import assert from "node:assert/strict";
import {
  INCOMPLETE,
  PARSE_ERROR,
  RequestParser,
  type RequestParserOptions,
  ResponseParser,
} from "../lib/http/mod.ts";
import { BODY_DONE, BODY_ERROR, BODY_INCOMPLETE, ChunkedBody } from "../lib/http/_chunked.ts";

/** Bytes from a string of code points 0-255 (for CTLs). */
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array): string => String.fromCharCode(...b);
const HOST = "Host: h\r\n";

/** "ok", "incomplete" or "<status> <reason>" for `raw` given in one read. */
function verdict(raw: string, options?: RequestParserOptions): string {
  const parser = new RequestParser(options);
  const input = bytes(raw);
  const r = parser.parse(input, 0, input.length);
  if (r === PARSE_ERROR) {
    assert.equal(parser.headComplete, false, JSON.stringify(raw));
    return `${parser.errorStatus} ${parser.errorReason}`;
  }
  if (r === INCOMPLETE) return "incomplete";
  assert.equal(r, input.length, JSON.stringify(raw));
  return "ok";
}

/** A complete request in one read: its parser, after asserting that it was accepted whole. */
function accepted(raw: string, options?: RequestParserOptions): RequestParser {
  const parser = new RequestParser(options);
  const input = bytes(raw);
  const r = parser.parse(input, 0, input.length);
  assert.equal(r, input.length, `${JSON.stringify(raw)}: ${parser.errorReason}`);
  return parser;
}

Deno.test("RequestParser gives each refused complete head its own reason", () => {
  const cases: [string, string][] = [
    // The request line.
    [" / HTTP/1.1\r\nHost: h\r\n\r\n", "400 malformed request line"],
    ["GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", "400 malformed request line"],
    ["GET  HTTP/1.1\r\nHost: h\r\n\r\n", "400 malformed request line"],
    ["GET /\r\nHost: h\r\n\r\n", "400 malformed request line"],
    ["GET /\x01HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid byte in request target"],
    ["GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", "400 invalid byte in request target"],
    // Version digits just outside 0-9 on either side: malformed (400), not unsupported (505).
    ["GET / HTTP/!.1\r\nHost: h\r\n\r\n", "400 malformed HTTP version"],
    ["GET / HTTP/:.1\r\nHost: h\r\n\r\n", "400 malformed HTTP version"],
    ["GET / HTTP/1.!\r\nHost: h\r\n\r\n", "400 malformed HTTP version"],
    ["GET / HTTP/1.:\r\nHost: h\r\n\r\n", "400 malformed HTTP version"],
    ["GET / HTTP/1.0\r\n\n", "400 bare LF in head"],
    ["\nGET / HTTP/1.0\r\n\r\n", "400 bare LF in head"],
    [`GET / HTTP/1.1\r\n${HOST}\n`, "400 bare LF in head"],
    // Field lines.
    [`GET / HTTP/1.1\r\n${HOST} X: a\r\n\r\n`, "400 obsolete line folding in header section"],
    [`GET / HTTP/1.1\r\n${HOST}\tX: a\r\n\r\n`, "400 obsolete line folding in header section"],
    [
      `GET / HTTP/1.1\r\n${HOST}X : a\r\n\r\n`,
      "400 whitespace between header field name and colon",
    ],
    [
      `GET / HTTP/1.1\r\n${HOST}X\t: a\r\n\r\n`,
      "400 whitespace between header field name and colon",
    ],
    [`GET / HTTP/1.1\r\n${HOST}X@Y: a\r\n\r\n`, "400 invalid header field name"],
    [`GET / HTTP/1.1\r\n${HOST}: a\r\n\r\n`, "400 invalid header field name"],
    // A bad byte, or a bare CR, then a field the next line would hold if it were skipped.
    [`GET / HTTP/1.1\r\n${HOST}X: a\x01\rYY: b\r\n\r\n`, "400 invalid header field value"],
    [`GET / HTTP/1.1\r\n${HOST}X: a\rYY: b\r\n\r\n`, "400 invalid header field value"],
    // Content-Length: only OWS, or the byte after '9'.
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: \r\n\r\n`, "400 invalid Content-Length"],
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: 1:\r\n\r\nhi`, "400 invalid Content-Length"],
    // Transfer-Encoding rules, each with its reason.
    [
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "400 Transfer-Encoding in an HTTP/1.0 request",
    ],
    [
      `POST / HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      "400 both Content-Length and Transfer-Encoding",
    ],
    [`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: ,\r\n\r\n`, "400 empty Transfer-Encoding"],
    [
      `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip\r\n\r\n`,
      "400 chunked is not the final transfer coding",
    ],
  ];
  for (const [raw, expected] of cases) assert.equal(verdict(raw), expected, JSON.stringify(raw));
});

Deno.test("RequestParser gives each refused unfinished head its own reason", () => {
  const cases: [string, string][] = [
    ["GET  ", "400 malformed request line"],
    ["GET /\r", "400 malformed request line"],
    ["GET /\x01", "400 invalid byte in request target"],
    [`GET / HTTP/1.1\r\n${HOST} `, "400 obsolete line folding in header section"],
    [`GET / HTTP/1.1\r\n${HOST}\t`, "400 obsolete line folding in header section"],
    [`GET / HTTP/1.1\r\n${HOST}@`, "400 invalid header field name"],
    [`GET / HTTP/1.1\r\n${HOST}X `, "400 whitespace between header field name and colon"],
    [`GET / HTTP/1.1\r\n${HOST}X\t`, "400 whitespace between header field name and colon"],
    [`GET / HTTP/1.1\r\n${HOST}X@`, "400 invalid header field name"],
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: x`, "400 invalid Content-Length"],
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: \r`, "400 invalid Content-Length"],
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: 1:`, "400 invalid Content-Length"],
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: \x01`, "400 invalid header field value"],
    [`POST / HTTP/1.1\r\n${HOST}Content-Length: 1\x01`, "400 invalid header field value"],
  ];
  for (const [raw, expected] of cases) assert.equal(verdict(raw), expected, JSON.stringify(raw));
});

Deno.test("RequestParser never reads past the end of its window", () => {
  // The byte that would end the head (or the chunked body) lies in the buffer, just past `end`.
  const head = bytes(`GET / HTTP/1.1\r\n${HOST}\r\n`);
  const parser = new RequestParser();
  assert.equal(parser.parse(head, 0, head.length - 1), INCOMPLETE);
  assert.equal(parser.headComplete, false);
  assert.equal(parser.bytesNeeded, head.length);
  assert.equal(parser.parse(head, 0, head.length), head.length);

  const chunked = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`;
  const bodies = ["1\r\na\r\n0\r\n\r\n", "1\r\na\r\n0\r\n", "1;ab\n"];
  for (const body of bodies) {
    const input = bytes(chunked + body);
    assert.equal(
      new RequestParser().parse(input, 0, input.length - 1),
      INCOMPLETE,
      JSON.stringify(body),
    );
  }
  // A size line without its end is judged on the bytes in the window: 16384 are fine.
  const line = (n: number): string => `${chunked}1;${"e".repeat(n)}`;
  assert.equal(verdict(line(16382)), "incomplete");
  assert.equal(verdict(line(16383)), "400 chunk line too long");
});

Deno.test("RequestParser refuses a window that starts with LF even after a CR", () => {
  // The CR before the window belongs to whatever came before, not to this request.
  const input = bytes("\r\nGET / HTTP/1.0\r\n\r\n");
  const parser = new RequestParser();
  assert.equal(parser.parse(input, 1, input.length), PARSE_ERROR);
  assert.equal(`${parser.errorStatus} ${parser.errorReason}`, "400 bare LF in head");
});

Deno.test("RequestParser stays refused after a bare LF ends an HTTP/1.0 head", () => {
  const parser = new RequestParser();
  const bad = bytes("GET / HTTP/1.0\r\n\n");
  assert.equal(parser.parse(bad, 0, bad.length), PARSE_ERROR);
  assert.equal(parser.headComplete, false);
  assert.equal(parser.errorReason, "bare LF in head");
  const good = bytes("GET / HTTP/1.0\r\n\r\n");
  assert.equal(parser.parse(good, 0, good.length), PARSE_ERROR);
  parser.reset();
  assert.equal(parser.parse(good, 0, good.length), good.length);
});

Deno.test("RequestParser shows no body while a Content-Length body is still arriving", () => {
  const head = `POST / HTTP/1.1\r\n${HOST}Content-Length: 5\r\n\r\n`;
  // The buffer is bigger than the bytes read: a view must stop at what the request owns.
  const buf = new Uint8Array(head.length + 16);
  buf.set(bytes(head));
  const parser = new RequestParser();
  assert.equal(parser.parse(buf, 0, head.length), INCOMPLETE);
  assert.equal(parser.headComplete, true);
  assert.equal(parser.body.length, 0);
  assert.equal(parser.bytesNeeded, head.length + 5);
  buf.set(bytes("hello"), head.length);
  assert.equal(parser.parse(buf, 0, head.length + 5), head.length + 5);
  assert.equal(text(parser.body), "hello");
});

Deno.test("RequestParser limits on the request line and header section hold at their edges", () => {
  // Empty lines before the request line count against maxHeaderBytes: 10 bytes are fine.
  const small = { maxHeaderBytes: 10 };
  assert.equal(verdict("\r\n".repeat(5), small), "incomplete");
  assert.equal(
    verdict("\r\n".repeat(6), small),
    "400 too many empty lines before the request line",
  );
  const four = { maxHeaderBytes: 4 };
  assert.equal(verdict("\r\n\r\nGET / HTTP/1.0\r\n\r\n", four), "ok");
  assert.equal(
    verdict("\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n", four),
    "400 too many empty lines before the request line",
  );
  // An unfinished request line is bounded by maxUrlBytes, not by the header limit.
  assert.equal(verdict(`GET /${"a".repeat(40)}`, { maxHeaderBytes: 16 }), "incomplete");
  // Field bytes of an unfinished head: exactly maxHeaderBytes is fine, one more is not.
  const twenty = { maxHeaderBytes: 20 };
  const fields = `${HOST}X: ${"b".repeat(8)}`;
  assert.equal(fields.length, 20);
  assert.equal(verdict(`GET / HTTP/1.1\r\n${fields}`, twenty), "incomplete");
  assert.equal(verdict(`GET / HTTP/1.1\r\n${fields}b`, twenty), "431 header section too large");
});

Deno.test("RequestParser reads the framing fields by name, not by the length of the name", () => {
  // Names as long as Content-Length, Transfer-Encoding, Connection and Expect.
  const lookalikes = accepted(
    `GET / HTTP/1.1\r\n${HOST}Accept-Charset: utf-8\r\nX-Custom-Header-1: chunked\r\n` +
      "Keep-Alive: close\r\nAccept: 100-continue\r\n\r\n",
  );
  assert.equal(lookalikes.contentLength, -1);
  assert.equal(lookalikes.chunked, false);
  assert.equal(lookalikes.keepAlive, true);
  assert.equal(lookalikes.expectContinue, false);
  assert.equal(lookalikes.header("accept-charset"), "utf-8");
  // Expect is 100-continue itself, not a longer token that starts like it.
  const longer = accepted(`GET / HTTP/1.1\r\n${HOST}Expect: 100-continues\r\n\r\n`);
  assert.equal(longer.expectContinue, false);
  const exact = accepted(`GET / HTTP/1.1\r\n${HOST}Expect: 100-Continue\r\n\r\n`);
  assert.equal(exact.expectContinue, true);
});

Deno.test("RequestParser reads Connection options around commas, spaces and tabs", () => {
  const keepAlive = (version: string, value: string): boolean =>
    accepted(`GET / HTTP/1.${version}\r\n${HOST}Connection: ${value}\r\n\r\n`).keepAlive;
  assert.equal(keepAlive("1", "keep-alive,\tclose"), false);
  assert.equal(keepAlive("1", "close ,x"), false);
  assert.equal(keepAlive("1", "close\t,x"), false);
  assert.equal(keepAlive("1", "x, close \t, y"), false);
  assert.equal(keepAlive("1", "closer"), true);
  assert.equal(keepAlive("0", "keep-alive"), true);
  assert.equal(keepAlive("0", "x,\tKeep-Alive ,y"), true);
  assert.equal(keepAlive("0", "abcdefghij"), false);
  assert.equal(keepAlive("0", "keep-alivex"), false);
  assert.equal(keepAlive("0", "x"), false);
});

Deno.test("RequestParser keeps an empty field value empty", () => {
  const parser = accepted(`GET / HTTP/1.1\r\n${HOST}X: \t \r\nY:\r\nZ:  z \t\r\n\r\n`);
  assert.deepEqual(parser.headers(), [["Host", "h"], ["X", ""], ["Y", ""], ["Z", "z"]]);
});

Deno.test("ResponseParser bounds a body delimited by close at maxBodyBytes exactly", () => {
  const head = "HTTP/1.1 200 OK\r\n\r\n";
  // The message starts at 3, so the bound must be measured from the window's start.
  const input = bytes(`xyz${head}abcde`);
  const within = new ResponseParser({ maxBodyBytes: 4 });
  assert.equal(within.parse(input, 3, input.length - 1), INCOMPLETE);
  assert.equal(within.finish(input, 3, input.length - 1), head.length + 4);
  assert.equal(text(within.body), "abcd");
  const over = new ResponseParser({ maxBodyBytes: 4 });
  assert.equal(over.parse(input, 3, input.length - 1), INCOMPLETE);
  assert.equal(over.parse(input, 3, input.length), PARSE_ERROR);
  assert.equal(over.errorReason, "body too large");
});

Deno.test("RequestParser decodes chunked bodies whose chunks grow and shrink", () => {
  const big = "x".repeat(100);
  const raw = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n` +
    `1\r\na\r\n64\r\n${big}\r\n3\r\nbcd\r\n0\r\n\r\n`;
  const parser = accepted(raw);
  assert.equal(text(parser.body), `a${big}bcd`);
});

Deno.test("RequestParser refuses chunk data not followed by CR LF", () => {
  const head = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`;
  assert.equal(verdict(`${head}1\r\na\rX0\r\n\r\n`), "400 missing CRLF after chunk data");
  assert.equal(verdict(`${head}1\r\na\rX`), "400 missing CRLF after chunk data");
  assert.equal(verdict(`${head}1\r\naX\n0\r\n\r\n`), "400 missing CRLF after chunk data");
  assert.equal(verdict(`${head}1\r\na\r`), "incomplete");
  // With the CRLF after the data in, the next size line is awaited.
  const parser = new RequestParser();
  const input = bytes(`${head}1\r\na\r\n`);
  assert.equal(parser.parse(input, 0, input.length), INCOMPLETE);
  assert.equal(parser.bytesNeeded, input.length + 1);
});

Deno.test("RequestParser refuses too much chunk framing at the size line, before the data", () => {
  const head = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`;
  // The size line alone is the framing: 16384 bytes of it are fine, one more is not.
  const line = (n: number): string => `${head}1;${"e".repeat(n)}\r\n`;
  assert.equal(verdict(line(16380)), "incomplete");
  assert.equal(verdict(line(16381)), "400 too much chunk framing");
});

/** A ChunkedBody fed `chunks` one after another as if each were appended to the window. */
class Decoder {
  readonly body = new ChunkedBody();
  bytes = "";
  constructor(readonly maxBody: number, readonly maxOverhead: number, readonly base = 0) {
    this.body.reset(0);
  }
  feed(chunk: string): number {
    this.bytes += chunk;
    const buf = bytes("\r".repeat(this.base) + this.bytes);
    return this.body.run(buf, this.base, buf.length, this.maxBody, this.maxOverhead);
  }
}

Deno.test("ChunkedBody refuses a bare LF at the start of its window whatever comes before", () => {
  // The byte before the window is a CR: it is not part of the body's line.
  const size = new Decoder(100, 100, 1);
  assert.equal(size.feed("\n"), BODY_ERROR);
  assert.equal(size.body.errorReason, "bare LF in chunked body");
});

Deno.test("ChunkedBody counts data handed out while streaming against both limits", () => {
  // maxBody: 2 bytes taken leave room for 2 more, not 3.
  const body = new Decoder(4, 100);
  assert.equal(body.feed("2\r\nab\r\n"), BODY_INCOMPLETE);
  assert.equal(text(body.body.takeData()), "ab");
  assert.equal(body.feed("3\r\n"), BODY_ERROR);
  assert.equal(`${body.body.errorStatus} ${body.body.errorReason}`, "413 body too large");
  const fits = new Decoder(4, 100);
  fits.feed("2\r\nab\r\n");
  fits.body.takeData();
  assert.equal(fits.feed("2\r\ncd\r\n0\r\n\r\n"), BODY_DONE);
  assert.equal(text(fits.body.body), "cd");

  // maxOverhead: framing may exceed it by the data seen, taken or not.
  const framing = (next: string): number => {
    const d = new Decoder(100, 10);
    assert.equal(d.feed("5\r\nabcde\r\n"), BODY_INCOMPLETE); // 5 framing bytes
    d.body.takeData();
    return d.feed(next);
  };
  assert.equal(framing("1;xxxx\r\n"), BODY_INCOMPLETE); // 13 of 10 + 5
  assert.equal(framing("0\r\nT: x\r\n"), BODY_INCOMPLETE); // 5 + 3 + 6 = 14
  assert.equal(framing("0\r\nT: xyz\r\n"), BODY_ERROR); // 16
});

Deno.test("ChunkedBody stays done, at the same position, when run again", () => {
  const d = new Decoder(100, 100, 2);
  assert.equal(d.feed("1\r\na\r\n0\r\n\r\n"), BODY_DONE);
  const pos = d.body.pos;
  assert.equal(pos, 11);
  assert.equal(d.feed(""), BODY_DONE);
  assert.equal(d.body.pos, pos);
  assert.equal(text(d.body.body), "a");
});
