/**
 * The chunked body decoder through RequestParser: each framing error is refused with its own
 * reason (RFC 9112 7.1: CRLF line ends, a hex size, BWS only before an extension, CRLF after the
 * data, well-formed trailer fields), and the limits (line length, framing bytes against data
 * bytes, maxBodyBytes) hold exactly at their edges. A mutation run showed that checking only the
 * status let a disabled check pass whenever a later one also said 400.
 */
import assert from "node:assert/strict";
import { INCOMPLETE, PARSE_ERROR, RequestParser } from "../lib/http/mod.ts";

const HEAD = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

/** "ok <body>", "incomplete", or "<status> <reason>" for HEAD + `body`, given whole. */
function outcome(body: string, options = {}): string {
  const parser = new RequestParser(options);
  const bytes = new TextEncoder().encode(HEAD + body);
  const r = parser.parse(bytes, 0, bytes.length);
  if (r === PARSE_ERROR) return `${parser.errorStatus} ${parser.errorReason}`;
  if (r === INCOMPLETE) return "incomplete";
  assert.equal(r, bytes.length, "the message did not end where the input did");
  return `ok ${new TextDecoder().decode(parser.body)}`;
}

const CASES: [what: string, body: string, expected: string][] = [
  ["two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "ok abcde"],
  ["BWS before an extension", "1  ;x=y\r\na\r\n0\r\n\r\n", "ok a"],
  ["a tab before an extension", "1\t;x\r\na\r\n0\r\n\r\n", "ok a"],
  ["a trailer field", "0\r\nT: v\r\n\r\n", "ok "],
  ["bare LF after the size", "1\na\r\n0\r\n\r\n", "400 bare LF in chunked body"],
  ["a size line that is a bare LF", "\n", "400 bare LF in chunked body"],
  ["an empty size line", "\r\na\r\n0\r\n\r\n", "400 invalid chunk size"],
  ["whitespace not before an extension", "1\t\r\na\r\n0\r\n\r\n", "400 invalid chunk size line"],
  ["LF alone after the data", "1\r\na\n0\r\n\r\n", "400 missing CRLF after chunk data"],
  ["other bytes after the data", "1\r\naXY0\r\n\r\n", "400 missing CRLF after chunk data"],
  [
    "one wrong byte after the data, nothing more yet",
    "1\r\naX",
    "400 missing CRLF after chunk data",
  ],
  ["the data, nothing more yet", "1\r\na", "incomplete"],
  ["a trailer without colon", "0\r\nbad trailer\r\n\r\n", "400 invalid trailer field"],
  ["a trailer with an empty name", "0\r\n: v\r\n\r\n", "400 invalid trailer field"],
  ["a space before a trailer's colon", "0\r\nT : v\r\n\r\n", "400 invalid trailer field"],
  ["a control byte in a trailer", "0\r\nT: a\x01b\r\n\r\n", "400 invalid trailer field"],
  ["bare LF after a trailer", "0\r\nT: v\n\r\n", "400 bare LF in chunked body"],
  ["5,000 one-byte chunks", "1\r\na\r\n".repeat(5000) + "0\r\n\r\n", "400 too much chunk framing"],
  [
    "4,000 trailer fields",
    "0\r\n" + "T: v\r\n".repeat(4000) + "\r\n",
    "400 too much chunk framing",
  ],
];

Deno.test("chunked bodies: each framing error is refused with its own reason", () => {
  for (const [what, body, expected] of CASES) assert.equal(outcome(body), expected, what);
});

Deno.test("chunked bodies: the framing, line and body limits hold exactly at their edges", () => {
  // Framing bytes may exceed the data bytes by the header limit (16 KiB) and no more.
  const extension = (n: number): string => `1;${"e".repeat(n)}\r\na\r\n0\r\n\r\n`;
  assert.equal(outcome(extension(16374)), "ok a");
  assert.equal(outcome(extension(16375)), "400 too much chunk framing");
  const trailer = (n: number): string => `0\r\nT:${"v".repeat(n)}\r\n\r\n`;
  assert.equal(outcome(trailer(16375)), "ok ");
  assert.equal(outcome(trailer(16376)), "400 too much chunk framing");
  // A single line longer than the limit is refused as such, before its framing is counted.
  assert.equal(outcome(extension(16381)), "400 too much chunk framing");
  assert.equal(outcome(extension(16382)), "400 chunk line too long");
  assert.equal(outcome(trailer(16382)), "400 chunk line too long");
  // maxBodyBytes counts chunk data: exactly the limit is fine.
  assert.equal(outcome("4\r\nabcd\r\n0\r\n\r\n", { maxBodyBytes: 4 }), "ok abcd");
  assert.equal(outcome("5\r\nabcde\r\n0\r\n\r\n", { maxBodyBytes: 4 }), "413 body too large");
});
