/**
 * HTTP/1.1 message parsing and serialization over bytes, for servers and clients that own their
 * read buffers (RFC 9112).
 *
 * Parsers work on a `Uint8Array` window `[start, end)` of the caller's connection buffer and never
 * copy the head: a parsed request or response is a set of offsets into that buffer, and strings
 * are only decoded when asked for. Errors are values: `parse()` returns {@link PARSE_ERROR} and the
 * parser tells which status to send; every error means the connection must be closed.
 *
 * @example Parse a pipelined batch and answer each request
 * ```ts
 * import assert from "node:assert/strict";
 * import { FixedResponse, PARSE_ERROR, RequestParser } from "./http1.ts";
 *
 * const hello = new FixedResponse(200, { body: "Hello, World!" });
 * const parser = new RequestParser();
 * const buf = new TextEncoder().encode(
 *   "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
 * );
 * let start = 0;
 * const paths: string[] = [];
 * for (;;) {
 *   const n = parser.parse(buf, start, buf.length);
 *   if (n === PARSE_ERROR || n === 0) break;
 *   paths.push(parser.target);
 *   assert(hello.bytes(parser.keepAlive).length > 0);
 *   start += n;
 * }
 * assert.deepEqual(paths, ["/", "/b"]);
 * ```
 *
 * @module
 */

const HTAB = 9;
const LF = 10;
const CR = 13;
const SP = 32;
const COMMA = 44;
const COLON = 58;
const SEMICOLON = 59;

const EMPTY = new Uint8Array(0);
const ENCODER = new TextEncoder();

/**
 * `parse()` result: the bytes given do not hold a complete message yet. Keep `[start, end)`,
 * read more, and call `parse()` again with those same bytes at the front.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INCOMPLETE, RequestParser } from "./http1.ts";
 *
 * const buf = new TextEncoder().encode("GET / HTTP/1.1\r\nHo");
 * assert.deepEqual(new RequestParser().parse(buf, 0, buf.length), INCOMPLETE);
 * ```
 */
export const INCOMPLETE: number = 0;

/**
 * `parse()` result: the message is malformed or over a limit. Send the parser's `errorStatus`
 * (see {@link errorResponse}) and close the connection: after a framing error the next message
 * cannot be located (RFC 9112 6.1, 6.3). The parser stays in this state until `reset()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PARSE_ERROR, RequestParser } from "./http1.ts";
 *
 * const parser = new RequestParser();
 * const buf = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"); // no Host
 * assert.deepEqual(parser.parse(buf, 0, buf.length), PARSE_ERROR);
 * assert.deepEqual(parser.errorStatus, 400);
 * ```
 */
export const PARSE_ERROR: number = -1;

// Byte classes, one lookup per byte on the hot path.
const TCHAR = new Uint8Array(256); // RFC 9110 5.6.2 token characters
const FIELD_VCHAR = new Uint8Array(256); // field-value bytes: HTAB, SP, VCHAR, obs-text
const TARGET_CHAR = new Uint8Array(256); // request-target bytes: VCHAR only
const LOWER = new Uint8Array(256); // ASCII lowercase, other bytes unchanged
const HEX = new Int8Array(256).fill(-1);
for (let b = 0; b < 256; b++) {
  LOWER[b] = b >= 65 && b <= 90 ? b + 32 : b;
  FIELD_VCHAR[b] = b === HTAB || (b >= SP && b !== 127) ? 1 : 0;
  TARGET_CHAR[b] = b > SP && b < 127 ? 1 : 0;
  const alnum = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122);
  TCHAR[b] = alnum || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)) ? 1 : 0;
  if (b >= 48 && b <= 57) HEX[b] = b - 48;
  else if (b >= 97 && b <= 102) HEX[b] = b - 87;
  else if (b >= 65 && b <= 70) HEX[b] = b - 55;
}

const ascii = (s: string): Uint8Array => ENCODER.encode(s);
const NAME_HOST = ascii("host");
const NAME_EXPECT = ascii("expect");
const NAME_CONNECTION = ascii("connection");
const NAME_CONTENT_LENGTH = ascii("content-length");
const NAME_TRANSFER_ENCODING = ascii("transfer-encoding");
const TOKEN_100_CONTINUE = ascii("100-continue");
const TOKEN_CLOSE = ascii("close");
const TOKEN_KEEP_ALIVE = ascii("keep-alive");
const TOKEN_CHUNKED = ascii("chunked");

/** Whether `buf[at..]` equals `lower` ignoring ASCII case (`lower` is already lowercase). */
function equalsLower(buf: Uint8Array, at: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (LOWER[buf[at + i]!] !== lower[i]) return false;
  }
  return true;
}

/**
 * Decodes bytes one to one as code points (ISO-8859-1). Lossless for any byte, and identical to
 * ASCII for the tokens and targets the parsers accept.
 */
function latin1(buf: Uint8Array, from: number, to: number): string {
  const length = to - from;
  if (length <= 0) return "";
  if (length <= LATIN1_CHUNK) return latin1Chunk(buf, from, length);
  let s = "";
  for (let i = from; i < to; i += LATIN1_CHUNK) {
    s += latin1Chunk(buf, i, Math.min(LATIN1_CHUNK, to - i));
  }
  return s;
}

const LATIN1_CHUNK = 4096;
/** Scratch code units; measured faster than `+=` per byte or `apply` on a subarray. */
const codeUnits: number[] = [];

function latin1Chunk(buf: Uint8Array, from: number, length: number): string {
  codeUnits.length = length;
  for (let i = 0; i < length; i++) codeUnits[i] = buf[from + i]!;
  return String.fromCharCode.apply(null, codeUnits);
}

/** The method as a shared string when it is a standard one, so parsing `GET` allocates nothing. */
function internMethod(buf: Uint8Array, from: number, to: number): string {
  const a = buf[from];
  const b = buf[from + 1];
  const c = buf[from + 2];
  switch (to - from) {
    case 3:
      if (a === 71 && b === 69 && c === 84) return "GET";
      if (a === 80 && b === 85 && c === 84) return "PUT";
      break;
    case 4:
      if (a === 80 && b === 79 && c === 83 && buf[from + 3] === 84) return "POST";
      if (a === 72 && b === 69 && c === 65 && buf[from + 3] === 68) return "HEAD";
      break;
    case 5:
      if (equalsExact(buf, from, "PATCH")) return "PATCH";
      if (equalsExact(buf, from, "TRACE")) return "TRACE";
      break;
    case 6:
      if (equalsExact(buf, from, "DELETE")) return "DELETE";
      break;
    case 7:
      if (equalsExact(buf, from, "OPTIONS")) return "OPTIONS";
      if (equalsExact(buf, from, "CONNECT")) return "CONNECT";
      break;
  }
  return latin1(buf, from, to);
}

function equalsExact(buf: Uint8Array, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (buf[at + i] !== s.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Finds the end of a message head by looking for CRLF CRLF, resuming where the previous call
 * stopped, so feeding a head one byte per read costs linear time. Offsets are relative to the
 * message start, which lets the caller move its unconsumed bytes between calls.
 */
class HeadScanner {
  /** Bytes from the message start already searched. */
  scanned = 0;
  /** Start of the start line (after any empty lines before it, RFC 9112 2.2). */
  lineStart = 0;
  /** Index of the CR ending the start line, -1 until seen. */
  lineEnd = -1;

  reset(): void {
    this.scanned = 0;
    this.lineStart = 0;
    this.lineEnd = -1;
  }

  /** Head length including the final CRLF CRLF; 0 when incomplete; -1 for a bare LF. */
  scan(buf: Uint8Array, base: number, end: number): number {
    let lineEnd = this.lineEnd;
    for (let i = base + this.scanned; i < end; i++) {
      if (buf[i] !== LF) continue;
      // A bare LF as line terminator is tolerated by some parsers and not others: refusing it
      // removes one way for two parsers on the path to disagree on where a header ends.
      if (i === base || buf[i - 1] !== CR) return -1;
      const rel = i - base;
      if (lineEnd < 0) {
        if (rel - 1 === this.lineStart) {
          this.lineStart = rel + 1;
        } else {
          lineEnd = rel - 1;
          this.lineEnd = lineEnd;
        }
        continue;
      }
      if (buf[i - 2] === LF) {
        this.scanned = rel + 1;
        return rel + 1;
      }
    }
    this.scanned = end - base;
    return 0;
  }
}

/**
 * Field lines of one head: offsets relative to the message start, four per field (name start,
 * name end, value start, value end), plus what the framing rules need from the known fields.
 * Internal and reused per message, so its fields are plain properties.
 */
class FieldSection {
  readonly offsets: Int32Array;
  count = 0;
  contentLength = -1;
  contentLengthFields = 0;
  transferEncoding = false;
  codings = 0;
  chunkedCodings = 0;
  lastCodingChunked = false;
  otherCodings = false;
  close = false;
  keepAlive = false;
  hosts = 0;
  expectContinue = false;
  errorStatus = 0;
  errorReason = "";

  constructor(maxFields: number) {
    this.offsets = new Int32Array(maxFields * 4);
  }

  reset(): void {
    this.count = 0;
    this.contentLength = -1;
    this.contentLengthFields = 0;
    this.transferEncoding = false;
    this.codings = 0;
    this.chunkedCodings = 0;
    this.lastCodingChunked = false;
    this.otherCodings = false;
    this.close = false;
    this.keepAlive = false;
    this.hosts = 0;
    this.expectContinue = false;
  }

  fail(status: number, reason: string): false {
    this.errorStatus = status;
    this.errorReason = reason;
    return false;
  }
}

/**
 * Parses the field lines in `[p, sectionEnd)` (absolute), where `sectionEnd` is the CR of the
 * final empty line. Every line is known to end in CRLF, and the CR at `sectionEnd` stops every
 * inner loop, so no loop needs a bounds check.
 */
function parseFieldLines(
  buf: Uint8Array,
  base: number,
  p: number,
  sectionEnd: number,
  f: FieldSection,
  maxFields: number,
): boolean {
  const offsets = f.offsets;
  let count = 0;
  while (p < sectionEnd) {
    const first = buf[p];
    if (first === SP || first === HTAB) {
      return f.fail(400, "obsolete line folding in header section");
    }
    let q = p;
    while (TCHAR[buf[q]!] === 1) q++;
    if (buf[q] !== COLON || q === p) {
      const stop = buf[q];
      return f.fail(
        400,
        q !== p && (stop === SP || stop === HTAB)
          ? "whitespace between header field name and colon"
          : "invalid header field name",
      );
    }
    if (count === maxFields) return f.fail(431, "too many header fields");
    let v = q + 1;
    while (buf[v] === SP || buf[v] === HTAB) v++;
    const valueStart = v;
    while (FIELD_VCHAR[buf[v]!] === 1) v++;
    if (buf[v] !== CR || buf[v + 1] !== LF) return f.fail(400, "invalid header field value");
    let valueEnd = v;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    const k = count * 4;
    offsets[k] = p - base;
    offsets[k + 1] = q - base;
    offsets[k + 2] = valueStart - base;
    offsets[k + 3] = valueEnd - base;
    count++;
    f.count = count;
    if (!noteKnownField(buf, p, q, valueStart, valueEnd, f)) return false;
    p = v + 2;
  }
  f.count = count;
  return true;
}

/** Records the fields that decide framing and connection reuse. */
function noteKnownField(
  buf: Uint8Array,
  nameStart: number,
  nameEnd: number,
  valueStart: number,
  valueEnd: number,
  f: FieldSection,
): boolean {
  switch (nameEnd - nameStart) {
    case 4:
      if (equalsLower(buf, nameStart, NAME_HOST)) f.hosts++;
      return true;
    case 6:
      if (
        equalsLower(buf, nameStart, NAME_EXPECT) && valueEnd - valueStart === 12 &&
        equalsLower(buf, valueStart, TOKEN_100_CONTINUE)
      ) {
        f.expectContinue = true;
      }
      return true;
    case 10:
      if (equalsLower(buf, nameStart, NAME_CONNECTION)) {
        noteConnection(buf, valueStart, valueEnd, f);
      }
      return true;
    case 14:
      if (!equalsLower(buf, nameStart, NAME_CONTENT_LENGTH)) return true;
      // RFC 9110 8.6 lets a recipient accept repeated identical values; refusing every repeat is
      // simpler and closes the door on parsers that pick a different one of them.
      if (++f.contentLengthFields > 1) return f.fail(400, "duplicate Content-Length");
      if (valueStart === valueEnd) return f.fail(400, "invalid Content-Length");
      {
        let n = 0;
        for (let i = valueStart; i < valueEnd; i++) {
          const d = buf[i]! - 48;
          if (d < 0 || d > 9) return f.fail(400, "invalid Content-Length");
          n = n * 10 + d;
          // Still all digits to validate; the value only has to stay above any body limit.
          if (n > Number.MAX_SAFE_INTEGER) n = Number.MAX_SAFE_INTEGER;
        }
        f.contentLength = n;
      }
      return true;
    case 17:
      if (equalsLower(buf, nameStart, NAME_TRANSFER_ENCODING)) {
        noteTransferEncoding(buf, valueStart, valueEnd, f);
      }
      return true;
  }
  return true;
}

/** Calls `each(from, to)` for every non-empty element of a comma-separated list (RFC 9110 5.6.1). */
function forEachListElement(
  buf: Uint8Array,
  from: number,
  to: number,
  f: FieldSection,
  each: (buf: Uint8Array, from: number, to: number, f: FieldSection) => void,
): void {
  let i = from;
  while (i < to) {
    const c = buf[i];
    if (c === COMMA || c === SP || c === HTAB) {
      i++;
      continue;
    }
    let j = i;
    while (j < to && buf[j] !== COMMA) j++;
    let e = j;
    while (buf[e - 1] === SP || buf[e - 1] === HTAB) e--;
    each(buf, i, e, f);
    i = j;
  }
}

function connectionOption(buf: Uint8Array, from: number, to: number, f: FieldSection): void {
  const length = to - from;
  if (length === 5 && equalsLower(buf, from, TOKEN_CLOSE)) f.close = true;
  else if (length === 10 && equalsLower(buf, from, TOKEN_KEEP_ALIVE)) f.keepAlive = true;
}

function noteConnection(buf: Uint8Array, from: number, to: number, f: FieldSection): void {
  forEachListElement(buf, from, to, f, connectionOption);
}

function transferCoding(buf: Uint8Array, from: number, to: number, f: FieldSection): void {
  const chunked = to - from === 7 && equalsLower(buf, from, TOKEN_CHUNKED);
  f.codings++;
  if (chunked) f.chunkedCodings++;
  else f.otherCodings = true;
  f.lastCodingChunked = chunked;
}

function noteTransferEncoding(buf: Uint8Array, from: number, to: number, f: FieldSection): void {
  f.transferEncoding = true;
  forEachListElement(buf, from, to, f, transferCoding);
}

/** Finds field `lowerName` (already lowercase); its index, or -1. */
function findField(buf: Uint8Array, base: number, f: FieldSection, lowerName: string): number {
  const offsets = f.offsets;
  const length = lowerName.length;
  for (let i = 0; i < f.count; i++) {
    const k = i * 4;
    const from = base + offsets[k]!;
    if (base + offsets[k + 1]! - from !== length) continue;
    let j = 0;
    while (j < length && LOWER[buf[from + j]!] === lowerName.charCodeAt(j)) j++;
    if (j === length) return i;
  }
  return -1;
}

function fieldName(buf: Uint8Array, base: number, f: FieldSection, index: number): string {
  if (index < 0 || index >= f.count) throw new RangeError(`no header field ${index}`);
  return latin1(buf, base + f.offsets[index * 4]!, base + f.offsets[index * 4 + 1]!);
}

function fieldValue(buf: Uint8Array, base: number, f: FieldSection, index: number): string {
  if (index < 0 || index >= f.count) throw new RangeError(`no header field ${index}`);
  return latin1(buf, base + f.offsets[index * 4 + 2]!, base + f.offsets[index * 4 + 3]!);
}

function fieldList(buf: Uint8Array, base: number, f: FieldSection): [string, string][] {
  const list: [string, string][] = [];
  for (let i = 0; i < f.count; i++) {
    list.push([fieldName(buf, base, f, i), fieldValue(buf, base, f, i)]);
  }
  return list;
}

const CHUNK_SIZE_LINE = 0;
const CHUNK_DATA = 1;
const CHUNK_DATA_END = 2;
const CHUNK_TRAILER = 3;
const CHUNK_DONE = 4;

/**
 * Incremental chunked decoder (RFC 9112 7.1). Decoded data is copied into a buffer owned by the
 * message (a fresh one per message, so a body stays valid after the next parse). Chunk
 * extensions are ignored; trailer fields are checked for syntax and skipped.
 *
 * Framing bytes (size lines, CRLFs, trailers) may not exceed `maxOverhead` plus the data size:
 * without that bound a peer could make the caller buffer megabytes of one-byte chunks.
 */
class ChunkedBody {
  /** Cursor, relative to the message start. */
  pos = 0;
  state = CHUNK_SIZE_LINE;
  remaining = 0;
  /** Where the search for the current line's LF resumes, relative to the message start. */
  lineScan = 0;
  data: Uint8Array = EMPTY;
  length = 0;
  overhead = 0;
  errorStatus = 0;
  errorReason = "";

  reset(pos: number): void {
    this.pos = pos;
    this.lineScan = pos;
    this.state = CHUNK_SIZE_LINE;
    this.remaining = 0;
    this.data = EMPTY;
    this.length = 0;
    this.overhead = 0;
  }

  get body(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  #fail(status: number, reason: string): number {
    this.errorStatus = status;
    this.errorReason = reason;
    return -1;
  }

  /** Absolute index of the LF ending the line at `p`; -1 incomplete; -2 error (already set). */
  #lineEnd(buf: Uint8Array, base: number, p: number, end: number, maxLine: number): number {
    let i = Math.max(p, base + this.lineScan);
    for (; i < end; i++) {
      if (buf[i] !== LF) continue;
      if (i === p || buf[i - 1] !== CR) {
        this.#fail(400, "bare LF in chunked body");
        return -2;
      }
      break;
    }
    // Judged on the bytes seen so far, so a line gets the same answer whole or in pieces.
    if (i - p > maxLine) {
      this.#fail(400, "chunk line too long");
      return -2;
    }
    if (i < end) return i;
    this.lineScan = end - base;
    return -1;
  }

  #ensureCapacity(needed: number, maxBody: number): void {
    if (needed <= this.data.length) return;
    // Start at the first chunk's size: small bodies stay small allocations (V8 keeps typed
    // arrays of up to 64 bytes on its heap), big ones double as they grow.
    let capacity = Math.max(this.data.length * 2, 16);
    while (capacity < needed) capacity *= 2;
    if (this.data.length === 0) capacity = Math.max(needed, 16);
    const grown = new Uint8Array(Math.min(capacity, Math.max(maxBody, needed)));
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  /** 1 when the body is complete, 0 when more bytes are needed, -1 on error. */
  run(buf: Uint8Array, base: number, end: number, maxBody: number, maxOverhead: number): number {
    let p = base + this.pos;
    for (;;) {
      switch (this.state) {
        case CHUNK_SIZE_LINE: {
          const lf = this.#lineEnd(buf, base, p, end, maxOverhead);
          if (lf === -2) return -1;
          if (lf === -1) {
            this.pos = p - base;
            return 0;
          }
          let i = p;
          let size = 0;
          for (let h = HEX[buf[i]!]!; h >= 0; h = HEX[buf[++i]!]!) {
            size = size * 16 + h;
            if (size > maxBody - this.length) return this.#fail(413, "body too large");
          }
          if (i === p) return this.#fail(400, "invalid chunk size");
          let e = i;
          while (buf[e] === SP || buf[e] === HTAB) e++;
          if (buf[e] === SEMICOLON) {
            // Extensions are ignored, but their bytes must still be field-value bytes. Whitespace
            // is only allowed before an extension (BWS), never as "5 \r\n".
            i = e;
            while (FIELD_VCHAR[buf[i]!] === 1) i++;
          }
          if (i !== lf - 1) return this.#fail(400, "invalid chunk size line");
          this.overhead += lf + 1 - p;
          if (this.overhead > maxOverhead + this.length) {
            return this.#fail(400, "too much chunk framing");
          }
          p = lf + 1;
          this.lineScan = p - base;
          if (size === 0) {
            this.state = CHUNK_TRAILER;
          } else {
            this.remaining = size;
            this.state = CHUNK_DATA;
          }
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(end - p, this.remaining);
          if (take > 0) {
            this.#ensureCapacity(this.length + take, maxBody);
            this.data.set(buf.subarray(p, p + take), this.length);
            this.length += take;
            this.remaining -= take;
            p += take;
          }
          if (this.remaining > 0) {
            this.pos = p - base;
            return 0;
          }
          this.state = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END: {
          if (end - p < 2) {
            if (end > p && buf[p] !== CR) return this.#fail(400, "missing CRLF after chunk data");
            this.pos = p - base;
            return 0;
          }
          if (buf[p] !== CR || buf[p + 1] !== LF) {
            return this.#fail(400, "missing CRLF after chunk data");
          }
          p += 2;
          this.overhead += 2;
          this.lineScan = p - base;
          this.state = CHUNK_SIZE_LINE;
          break;
        }
        case CHUNK_TRAILER: {
          const lf = this.#lineEnd(buf, base, p, end, maxOverhead);
          if (lf === -2) return -1;
          if (lf === -1) {
            this.pos = p - base;
            return 0;
          }
          const last = lf === p + 1; // the empty line ending the trailer section
          if (!last) {
            let q = p;
            while (TCHAR[buf[q]!] === 1) q++;
            if (q === p || buf[q] !== COLON) return this.#fail(400, "invalid trailer field");
            q++;
            while (FIELD_VCHAR[buf[q]!] === 1) q++;
            if (q !== lf - 1) return this.#fail(400, "invalid trailer field");
          }
          this.overhead += lf + 1 - p;
          if (this.overhead > maxOverhead + this.length) {
            return this.#fail(400, "too much chunk framing");
          }
          p = lf + 1;
          this.lineScan = p - base;
          if (last) {
            this.state = CHUNK_DONE;
            this.pos = p - base;
            return 1;
          }
          break;
        }
        default:
          this.pos = p - base;
          return 1;
      }
    }
  }
}

const STATE_HEAD = 0;
const STATE_LENGTH_BODY = 1;
const STATE_CHUNKED_BODY = 2;
const STATE_UNTIL_CLOSE = 3;
const STATE_DONE = 4;
const STATE_FAILED = 5;

/** Longest method accepted; the longest registered one is 17 bytes (UPDATEREDIRECTREF). */
const MAX_METHOD_BYTES = 32;
/**
 * Room for the method, the spaces and ` HTTP/1.1` around a target of `maxUrlBytes`: an
 * unfinished request line longer than that cannot become a valid one.
 */
const REQUEST_LINE_SLACK = MAX_METHOD_BYTES + 16;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Limits of a {@link RequestParser}. Sizes are bytes.
 *
 * @example
 * ```ts
 * import { type RequestParserOptions, RequestParser } from "./http1.ts";
 *
 * const options: RequestParserOptions = { maxHeaderBytes: 8192, maxBodyBytes: 64 * 1024 };
 * new RequestParser(options);
 * ```
 */
export interface RequestParserOptions {
  /**
   * Largest header section (the field lines after the request line, with their CRLFs and the
   * final empty line); more gives 431. Default 16384, like Node.
   */
  maxHeaderBytes?: number;
  /** Longest request target; more gives 414. Default 8192. */
  maxUrlBytes?: number;
  /**
   * Largest body, decoded; more gives 413, decided from Content-Length as soon as the head is
   * parsed. Default 1 MiB.
   */
  maxBodyBytes?: number;
  /** Most header fields; more gives 431. Default 100. */
  maxHeaders?: number;
}

/**
 * Incremental HTTP/1.1 request parser, one per connection (RFC 9112).
 *
 * Protocol: call `parse(buf, start, end)` with the unconsumed bytes of the connection buffer.
 * - A positive result `n` means one complete request occupies `[start, start + n)`: read it
 *   through the parser's getters, then continue at `start + n` (pipelined requests are parsed one
 *   after another from the same buffer, without copying).
 * - {@link INCOMPLETE} (0) means keep `[start, end)`, read more, and call again with those same
 *   bytes first. They may be moved (compaction, a bigger buffer) but not changed or dropped: the
 *   parser remembers progress as offsets from the message start, so a head fed one byte per read
 *   is still scanned once. `bytesNeeded` says how big the window must get.
 * - {@link PARSE_ERROR} (-1) means send `errorResponse(errorStatus)` and close.
 *
 * Everything a request exposes is a view on the caller's buffer and on the parser, valid until
 * the next `parse()` call: copy what must outlive it. The body of a Content-Length request is a
 * view into the caller's buffer; a chunked body is decoded into a buffer of its own.
 *
 * Errors: 400 for a malformed request line, CTL bytes in the request line or a field, obs-fold,
 * whitespace before a colon, a bare LF, a missing or repeated Host in HTTP/1.1, a repeated or
 * malformed Content-Length, Content-Length with Transfer-Encoding, Transfer-Encoding in HTTP/1.0,
 * `chunked` missing, repeated or not last among the codings, bad chunk framing; 501 for a
 * transfer coding other than chunked placed before the final `chunked` (`gzip, chunked`), which
 * is well-formed but not implemented here (RFC 9112 6.1); 414 target longer than `maxUrlBytes`;
 * 431 header section over `maxHeaderBytes` or more than `maxHeaders` fields; 413 body over
 * `maxBodyBytes`; 505 versions other than HTTP/1.0 and HTTP/1.1 (even HTTP/1.2, which RFC 9110
 * 2.5 would let us read as 1.1: no client sends it, and refusing is the simpler contract).
 *
 * @example Parse a request that arrives in two reads
 * ```ts
 * import assert from "node:assert/strict";
 * import { INCOMPLETE, RequestParser } from "./http1.ts";
 *
 * const parser = new RequestParser();
 * const buf = new Uint8Array(1024);
 * let end = new TextEncoder().encodeInto("POST /echo HTTP/1.1\r\nHost: a\r\nCont", buf).written;
 * assert.deepEqual(parser.parse(buf, 0, end), INCOMPLETE);
 * end += new TextEncoder().encodeInto("ent-Length: 2\r\n\r\nhi", buf.subarray(end)).written;
 * assert.deepEqual(parser.parse(buf, 0, end), end);
 * assert.deepEqual(parser.method, "POST");
 * assert.deepEqual(parser.header("content-length"), "2");
 * assert.deepEqual(new TextDecoder().decode(parser.body), "hi");
 * assert.deepEqual(parser.keepAlive, true);
 * ```
 */
export class RequestParser {
  #maxHeaderBytes: number;
  #maxUrlBytes: number;
  #maxBodyBytes: number;
  #maxHeaders: number;
  #scanner = new HeadScanner();
  #fields: FieldSection;
  #chunkedBody = new ChunkedBody();
  #state = STATE_HEAD;
  #buf: Uint8Array = EMPTY;
  #base = 0;
  #headLength = 0;
  #messageLength = 0;
  #method = "";
  #targetStart = 0;
  #targetEnd = 0;
  #targetCache = "";
  #minorVersion = 1;
  #keepAlive = false;
  #chunked = false;
  #contentLength = -1;
  #expectContinue = false;
  #errorStatus = 0;
  #errorReason = "";

  /** Creates a parser with the given limits (see {@link RequestParserOptions}). */
  constructor(options: RequestParserOptions = {}) {
    this.#maxHeaderBytes = positiveInteger("maxHeaderBytes", options.maxHeaderBytes ?? 16384);
    this.#maxUrlBytes = positiveInteger("maxUrlBytes", options.maxUrlBytes ?? 8192);
    this.#maxBodyBytes = positiveInteger("maxBodyBytes", options.maxBodyBytes ?? 1024 * 1024);
    this.#maxHeaders = positiveInteger("maxHeaders", options.maxHeaders ?? 100);
    this.#fields = new FieldSection(this.#maxHeaders);
  }

  /**
   * Parses the request starting at `buf[start]`, given the bytes `[start, end)`. Returns the
   * request's length in bytes when it is complete, {@link INCOMPLETE}, or {@link PARSE_ERROR}.
   * Throws only a RangeError for a window outside `buf`.
   */
  parse(buf: Uint8Array, start: number, end: number): number {
    if (start < 0 || start > end || end > buf.length) {
      throw new RangeError(`window [${start}, ${end}) is outside a buffer of ${buf.length}`);
    }
    let state = this.#state;
    if (state === STATE_DONE) {
      this.#startMessage();
      state = STATE_HEAD;
    } else if (state === STATE_FAILED) {
      return PARSE_ERROR;
    }
    this.#buf = buf;
    this.#base = start;
    if (state === STATE_HEAD) {
      const headLength = this.#scanner.scan(buf, start, end);
      if (headLength === 0) return this.#checkPartialHead(buf, start);
      if (headLength < 0) return this.#fail(400, "bare LF in head");
      if (!this.#parseHead(buf, start, headLength)) return PARSE_ERROR;
      state = this.#state;
    }
    if (state === STATE_CHUNKED_BODY) {
      const r = this.#chunkedBody.run(
        buf,
        start,
        end,
        this.#maxBodyBytes,
        this.#maxHeaderBytes,
      );
      if (r === 0) return INCOMPLETE;
      if (r < 0) return this.#fail(this.#chunkedBody.errorStatus, this.#chunkedBody.errorReason);
      this.#messageLength = this.#chunkedBody.pos;
      this.#state = STATE_DONE;
      return this.#messageLength;
    }
    if (end - start < this.#messageLength) return INCOMPLETE;
    this.#state = STATE_DONE;
    return this.#messageLength;
  }

  /** Forgets the current message and any error, for a fresh connection. */
  reset(): void {
    this.#startMessage();
    this.#errorStatus = 0;
    this.#errorReason = "";
    this.#buf = EMPTY;
    this.#base = 0;
  }

  /** Whether the head is parsed: true for a complete request, and for one awaiting its body. */
  get headComplete(): boolean {
    return this.#state !== STATE_HEAD && this.#state !== STATE_FAILED;
  }

  /**
   * The smallest `end - start` at which `parse()` can make progress. A caller whose buffer is
   * full grows it to at least this much (bounded by the limits) before reading again.
   */
  get bytesNeeded(): number {
    switch (this.#state) {
      case STATE_HEAD:
        return this.#scanner.scanned + 1;
      case STATE_CHUNKED_BODY: {
        const body = this.#chunkedBody;
        return body.pos + (body.state === CHUNK_DATA ? body.remaining : 1);
      }
      default:
        return this.#messageLength;
    }
  }

  /** The request method; the standard methods are shared strings (no allocation). */
  get method(): string {
    return this.#method;
  }

  /** The request target as sent (origin-form `/a?b`, absolute-form, authority or `*`). */
  get target(): string {
    if (!this.headComplete) return "";
    const buf = this.#buf;
    const from = this.#base + this.#targetStart;
    const length = this.#targetEnd - this.#targetStart;
    // Keep-alive connections tend to repeat the same target: reuse the last string if it matches.
    const cached = this.#targetCache;
    if (cached.length === length) {
      let i = 0;
      while (i < length && cached.charCodeAt(i) === buf[from + i]) i++;
      if (i === length) return cached;
    }
    this.#targetCache = latin1(buf, from, from + length);
    return this.#targetCache;
  }

  /** The target up to (not including) the first `?`. */
  get path(): string {
    const target = this.target;
    const q = target.indexOf("?");
    return q < 0 ? target : target.slice(0, q);
  }

  /** The query after the first `?` of the target, without the `?`; "" when there is none. */
  get query(): string {
    const target = this.target;
    const q = target.indexOf("?");
    return q < 0 ? "" : target.slice(q + 1);
  }

  /** The HTTP version: 1 (HTTP/1.0) or 1.1. */
  get version(): number {
    return this.#minorVersion === 0 ? 1 : 1.1;
  }

  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  get minorVersion(): number {
    return this.#minorVersion;
  }

  /**
   * Whether the connection may carry another request after this one: HTTP/1.1 unless
   * `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. False after an error.
   */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /** The Content-Length value, or -1 when the request has none (chunked or bodiless). */
  get contentLength(): number {
    return this.#contentLength;
  }

  /** Whether the body is chunked (`Transfer-Encoding: chunked`). */
  get chunked(): boolean {
    return this.#chunked;
  }

  /**
   * Whether an HTTP/1.1 client sent `Expect: 100-continue` (ignored for HTTP/1.0, RFC 9110
   * 10.1.1). When `parse()` returns {@link INCOMPLETE} with `headComplete` true, send
   * {@link CONTINUE_RESPONSE} once so the client starts sending the body.
   */
  get expectContinue(): boolean {
    return this.#expectContinue;
  }

  /** The body, complete once `parse()` returned a length; empty when the request has none. */
  get body(): Uint8Array {
    if (this.#state !== STATE_DONE) return EMPTY;
    if (this.#chunked) return this.#chunkedBody.body;
    if (this.#contentLength <= 0) return EMPTY;
    const from = this.#base + this.#headLength;
    return this.#buf.subarray(from, from + this.#contentLength);
  }

  /** How many header fields the request has. */
  get headerCount(): number {
    return this.headComplete ? this.#fields.count : 0;
  }

  /**
   * The value of the first field named `lowerName`, which must be lowercase; undefined when
   * absent. Bytes decode one to one (latin1), so obs-text survives unchanged.
   */
  header(lowerName: string): string | undefined {
    if (!this.headComplete) return undefined;
    const i = findField(this.#buf, this.#base, this.#fields, lowerName);
    return i < 0 ? undefined : fieldValue(this.#buf, this.#base, this.#fields, i);
  }

  /** The name of field `index` as sent (original case). */
  headerName(index: number): string {
    return fieldName(this.#buf, this.#base, this.#fields, index < this.headerCount ? index : -1);
  }

  /** The value of field `index`, without surrounding whitespace. */
  headerValue(index: number): string {
    return fieldValue(this.#buf, this.#base, this.#fields, index < this.headerCount ? index : -1);
  }

  /** Every field as `[name, value]` in the order received, names in their original case. */
  headers(): [string, string][] {
    return this.headComplete ? fieldList(this.#buf, this.#base, this.#fields) : [];
  }

  /** The status to answer with after {@link PARSE_ERROR}: 400, 413, 414, 431, 501 or 505. */
  get errorStatus(): number {
    return this.#errorStatus;
  }

  /** Why the request was refused, for logs. */
  get errorReason(): string {
    return this.#errorReason;
  }

  #startMessage(): void {
    this.#state = STATE_HEAD;
    this.#scanner.reset();
    this.#headLength = 0;
    this.#messageLength = 0;
    this.#method = "";
    this.#minorVersion = 1;
    this.#keepAlive = false;
    this.#chunked = false;
    this.#contentLength = -1;
    this.#expectContinue = false;
  }

  #fail(status: number, reason: string): number {
    this.#state = STATE_FAILED;
    this.#errorStatus = status;
    this.#errorReason = reason;
    this.#keepAlive = false;
    return PARSE_ERROR;
  }

  /** Refuses an unfinished head as soon as it is over a limit, without waiting for its end. */
  #checkPartialHead(buf: Uint8Array, base: number): number {
    const scanner = this.#scanner;
    if (scanner.lineEnd >= 0) {
      if (scanner.scanned - (scanner.lineEnd + 2) > this.#maxHeaderBytes) {
        return this.#fail(431, "header section too large");
      }
      return INCOMPLETE;
    }
    if (scanner.lineStart > this.#maxHeaderBytes) {
      return this.#fail(400, "too many empty lines before the request line");
    }
    if (scanner.scanned - scanner.lineStart <= this.#maxUrlBytes + REQUEST_LINE_SLACK) {
      return INCOMPLETE;
    }
    let i = base + scanner.lineStart;
    while (TCHAR[buf[i]!] === 1) i++;
    return buf[i] === SP && i - base - scanner.lineStart <= MAX_METHOD_BYTES
      ? this.#fail(414, "request target too long")
      : this.#fail(400, "malformed request line");
  }

  #parseHead(buf: Uint8Array, base: number, headLength: number): boolean {
    const scanner = this.#scanner;
    const lineStart = base + scanner.lineStart;
    const lineEnd = base + scanner.lineEnd;
    if (scanner.lineStart > this.#maxHeaderBytes) {
      return this.#failed(400, "too many empty lines before the request line");
    }

    let i = lineStart;
    while (TCHAR[buf[i]!] === 1) i++;
    if (i === lineStart || buf[i] !== SP) return this.#failed(400, "malformed request line");
    if (i - lineStart > MAX_METHOD_BYTES) return this.#failed(400, "method too long");
    const targetStart = i + 1;
    let j = targetStart;
    while (TARGET_CHAR[buf[j]!] === 1) j++;
    if (j - targetStart > this.#maxUrlBytes) return this.#failed(414, "request target too long");
    if (j === targetStart || buf[j] !== SP) {
      return this.#failed(
        400,
        j === targetStart || j === lineEnd
          ? "malformed request line"
          : "invalid byte in request target",
      );
    }
    const v = j + 1;
    if (
      lineEnd - v !== 8 || buf[v] !== 72 || buf[v + 1] !== 84 || buf[v + 2] !== 84 ||
      buf[v + 3] !== 80 || buf[v + 4] !== 47 || buf[v + 6] !== 46
    ) {
      return this.#failed(400, "malformed HTTP version");
    }
    const major = buf[v + 5]! - 48;
    const minor = buf[v + 7]! - 48;
    if (major < 0 || major > 9 || minor < 0 || minor > 9) {
      return this.#failed(400, "malformed HTTP version");
    }
    if (major !== 1 || minor > 1) return this.#failed(505, "HTTP version not supported");

    if (headLength - (scanner.lineEnd + 2) > this.#maxHeaderBytes) {
      return this.#failed(431, "header section too large");
    }
    const f = this.#fields;
    f.reset();
    if (!parseFieldLines(buf, base, lineEnd + 2, base + headLength - 2, f, this.#maxHeaders)) {
      return this.#failed(f.errorStatus, f.errorReason);
    }

    // RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
    if (f.hosts > 1) return this.#failed(400, "more than one Host header");
    if (minor === 1 && f.hosts === 0) return this.#failed(400, "missing Host header");
    // RFC 9112 6.1: Content-Length beside Transfer-Encoding is the classic smuggling vector, and
    // Transfer-Encoding in HTTP/1.0 means the framing cannot be trusted.
    if (f.transferEncoding) {
      if (minor === 0) return this.#failed(400, "Transfer-Encoding in an HTTP/1.0 request");
      if (f.contentLengthFields > 0) {
        return this.#failed(400, "both Content-Length and Transfer-Encoding");
      }
      if (f.codings === 0) return this.#failed(400, "empty Transfer-Encoding");
      if (!f.lastCodingChunked) {
        return this.#failed(400, "chunked is not the final transfer coding");
      }
      if (f.chunkedCodings > 1) return this.#failed(400, "chunked applied more than once");
      if (f.otherCodings) return this.#failed(501, "transfer coding not implemented");
    } else if (f.contentLength > this.#maxBodyBytes) {
      return this.#failed(413, "body too large");
    }

    this.#method = internMethod(buf, lineStart, i);
    this.#targetStart = targetStart - base;
    this.#targetEnd = j - base;
    this.#minorVersion = minor;
    this.#keepAlive = minor === 1 ? !f.close : f.keepAlive && !f.close;
    this.#expectContinue = minor === 1 && f.expectContinue;
    this.#headLength = headLength;
    this.#contentLength = f.contentLength;
    if (f.transferEncoding) {
      this.#chunked = true;
      this.#chunkedBody.reset(headLength);
      this.#state = STATE_CHUNKED_BODY;
    } else {
      this.#messageLength = headLength + Math.max(0, f.contentLength);
      this.#state = this.#messageLength === headLength ? STATE_DONE : STATE_LENGTH_BODY;
    }
    return true;
  }

  #failed(status: number, reason: string): false {
    this.#fail(status, reason);
    return false;
  }
}

/**
 * Limits of a {@link ResponseParser}. Sizes are bytes.
 *
 * @example
 * ```ts
 * import { ResponseParser, type ResponseParserOptions } from "./http1.ts";
 *
 * const options: ResponseParserOptions = { maxBodyBytes: 8 * 1024 * 1024 };
 * new ResponseParser(options);
 * ```
 */
export interface ResponseParserOptions {
  /** Largest head (status line and header section). Default 16384. */
  maxHeaderBytes?: number;
  /** Largest body, decoded. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Most header fields. Default 100. */
  maxHeaders?: number;
}

/**
 * Incremental HTTP/1.1 response parser for a client connection, with the same calling protocol
 * as {@link RequestParser}: `parse(buf, start, end)` returns the response's length once complete,
 * {@link INCOMPLETE}, or {@link PARSE_ERROR} (then `errorReason` says why; close the connection).
 *
 * The body is delimited by Content-Length, by chunked coding, or (with neither) by the server
 * closing the connection: for that last kind `parse()` stays {@link INCOMPLETE} and `finish()`
 * completes it at end of input. Responses to HEAD (set `headRequest` first), 1xx, 204 and 304
 * have no body. A 1xx response is returned on its own; parse again for the final response.
 * Content-Length with Transfer-Encoding, and any coding other than plain `chunked`, are errors:
 * a pooled connection cannot be trusted after either.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResponseParser } from "./http1.ts";
 *
 * const parser = new ResponseParser();
 * const buf = new TextEncoder().encode(
 *   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
 * );
 * assert.deepEqual(parser.parse(buf, 0, buf.length), buf.length);
 * assert.deepEqual(parser.status, 200);
 * assert.deepEqual(new TextDecoder().decode(parser.body), "hello");
 * assert.deepEqual(parser.keepAlive, true);
 * ```
 */
export class ResponseParser {
  #maxHeaderBytes: number;
  #maxBodyBytes: number;
  #scanner = new HeadScanner();
  #fields: FieldSection;
  #chunkedBody = new ChunkedBody();
  #state = STATE_HEAD;
  #buf: Uint8Array = EMPTY;
  #base = 0;
  #headLength = 0;
  #messageLength = 0;
  #headRequest = false;
  #status = 0;
  #reasonStart = 0;
  #reasonEnd = 0;
  #minorVersion = 1;
  #keepAlive = false;
  #chunked = false;
  #contentLength = -1;
  #errorReason = "";

  /** Creates a parser with the given limits (see {@link ResponseParserOptions}). */
  constructor(options: ResponseParserOptions = {}) {
    this.#maxHeaderBytes = positiveInteger("maxHeaderBytes", options.maxHeaderBytes ?? 16384);
    this.#maxBodyBytes = positiveInteger("maxBodyBytes", options.maxBodyBytes ?? 16 * 1024 * 1024);
    this.#fields = new FieldSection(positiveInteger("maxHeaders", options.maxHeaders ?? 100));
  }

  /** Whether the response being parsed answers a HEAD request (so has no body). */
  get headRequest(): boolean {
    return this.#headRequest;
  }

  /** Set before parsing the response to a HEAD request; it stays set until changed. */
  set headRequest(head: boolean) {
    this.#headRequest = head;
  }

  /**
   * Parses the response starting at `buf[start]`, given the bytes `[start, end)`. Returns its
   * length when complete, {@link INCOMPLETE}, or {@link PARSE_ERROR}.
   */
  parse(buf: Uint8Array, start: number, end: number): number {
    if (start < 0 || start > end || end > buf.length) {
      throw new RangeError(`window [${start}, ${end}) is outside a buffer of ${buf.length}`);
    }
    let state = this.#state;
    if (state === STATE_DONE) {
      this.#startMessage();
      state = STATE_HEAD;
    } else if (state === STATE_FAILED) {
      return PARSE_ERROR;
    }
    this.#buf = buf;
    this.#base = start;
    if (state === STATE_HEAD) {
      const headLength = this.#scanner.scan(buf, start, end);
      if (headLength === 0) {
        return this.#scanner.scanned > this.#maxHeaderBytes
          ? this.#fail("response head too large")
          : INCOMPLETE;
      }
      if (headLength < 0) return this.#fail("bare LF in head");
      if (!this.#parseHead(buf, start, headLength)) return PARSE_ERROR;
      state = this.#state;
    }
    switch (state) {
      case STATE_CHUNKED_BODY: {
        const r = this.#chunkedBody.run(
          buf,
          start,
          end,
          this.#maxBodyBytes,
          this.#maxHeaderBytes,
        );
        if (r === 0) return INCOMPLETE;
        if (r < 0) return this.#fail(this.#chunkedBody.errorReason);
        this.#messageLength = this.#chunkedBody.pos;
        break;
      }
      case STATE_UNTIL_CLOSE:
        if (end - start - this.#headLength > this.#maxBodyBytes) {
          return this.#fail("body too large");
        }
        return INCOMPLETE;
      default:
        if (end - start < this.#messageLength) return INCOMPLETE;
    }
    this.#state = STATE_DONE;
    return this.#messageLength;
  }

  /**
   * Call when the server closed the connection, with the unconsumed bytes. Completes a response
   * whose body runs until close and returns its length; returns {@link INCOMPLETE} when no byte
   * of a response was pending, and {@link PARSE_ERROR} for a truncated response.
   */
  finish(buf: Uint8Array, start: number, end: number): number {
    const r = this.parse(buf, start, end);
    if (r !== INCOMPLETE) return r;
    if (this.#state === STATE_UNTIL_CLOSE) {
      this.#messageLength = end - start;
      this.#state = STATE_DONE;
      return this.#messageLength;
    }
    if (this.#state === STATE_HEAD && end === start) return INCOMPLETE;
    return this.#fail("connection closed before the end of the response");
  }

  /** Forgets the current message and any error, for a fresh connection. */
  reset(): void {
    this.#startMessage();
    this.#errorReason = "";
    this.#buf = EMPTY;
    this.#base = 0;
  }

  /** Whether the head is parsed (the body may still be arriving). */
  get headComplete(): boolean {
    return this.#state !== STATE_HEAD && this.#state !== STATE_FAILED;
  }

  /** The smallest `end - start` at which `parse()` can make progress. */
  get bytesNeeded(): number {
    switch (this.#state) {
      case STATE_HEAD:
        return this.#scanner.scanned + 1;
      case STATE_CHUNKED_BODY: {
        const body = this.#chunkedBody;
        return body.pos + (body.state === CHUNK_DATA ? body.remaining : 1);
      }
      case STATE_UNTIL_CLOSE:
        return this.#headLength + 1;
      default:
        return this.#messageLength;
    }
  }

  /** The status code. */
  get status(): number {
    return this.#status;
  }

  /** The reason phrase as sent (may be empty). */
  get reason(): string {
    return this.headComplete
      ? latin1(this.#buf, this.#base + this.#reasonStart, this.#base + this.#reasonEnd)
      : "";
  }

  /** The HTTP version: 1 (HTTP/1.0) or 1.1. */
  get version(): number {
    return this.#minorVersion === 0 ? 1 : 1.1;
  }

  /**
   * Whether the connection can carry another request: HTTP/1.1 unless `Connection: close`,
   * HTTP/1.0 only with `Connection: keep-alive`, never after a body delimited by close.
   */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /** The Content-Length value, or -1 when absent. */
  get contentLength(): number {
    return this.#contentLength;
  }

  /** Whether the body is chunked. */
  get chunked(): boolean {
    return this.#chunked;
  }

  /** The body once complete: a view on the caller's buffer, or a decoded copy when chunked. */
  get body(): Uint8Array {
    if (this.#state !== STATE_DONE) return EMPTY;
    if (this.#chunked) return this.#chunkedBody.body;
    const from = this.#base + this.#headLength;
    return this.#buf.subarray(from, this.#base + this.#messageLength);
  }

  /** How many header fields the response has. */
  get headerCount(): number {
    return this.headComplete ? this.#fields.count : 0;
  }

  /** The value of the first field named `lowerName` (lowercase), or undefined. */
  header(lowerName: string): string | undefined {
    if (!this.headComplete) return undefined;
    const i = findField(this.#buf, this.#base, this.#fields, lowerName);
    return i < 0 ? undefined : fieldValue(this.#buf, this.#base, this.#fields, i);
  }

  /** Every field as `[name, value]` in the order received. */
  headers(): [string, string][] {
    return this.headComplete ? fieldList(this.#buf, this.#base, this.#fields) : [];
  }

  /** Why the response was refused, after {@link PARSE_ERROR}. */
  get errorReason(): string {
    return this.#errorReason;
  }

  #startMessage(): void {
    this.#state = STATE_HEAD;
    this.#scanner.reset();
    this.#headLength = 0;
    this.#messageLength = 0;
    this.#status = 0;
    this.#minorVersion = 1;
    this.#keepAlive = false;
    this.#chunked = false;
    this.#contentLength = -1;
  }

  #fail(reason: string): number {
    this.#state = STATE_FAILED;
    this.#errorReason = reason;
    this.#keepAlive = false;
    return PARSE_ERROR;
  }

  #failed(reason: string): false {
    this.#fail(reason);
    return false;
  }

  #parseHead(buf: Uint8Array, base: number, headLength: number): boolean {
    if (headLength > this.#maxHeaderBytes) return this.#failed("response head too large");
    const scanner = this.#scanner;
    const v = base + scanner.lineStart;
    const lineEnd = base + scanner.lineEnd;
    // "HTTP/1.1 200 OK": version, SP, 3DIGIT, then SP and a reason (tolerated missing).
    if (
      lineEnd - v < 12 || buf[v] !== 72 || buf[v + 1] !== 84 || buf[v + 2] !== 84 ||
      buf[v + 3] !== 80 || buf[v + 4] !== 47 || buf[v + 6] !== 46 || buf[v + 8] !== SP
    ) {
      return this.#failed("malformed status line");
    }
    if (buf[v + 5] !== 49 || (buf[v + 7] !== 48 && buf[v + 7] !== 49)) {
      return this.#failed("unsupported HTTP version");
    }
    let status = 0;
    for (let i = v + 9; i < v + 12; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) return this.#failed("malformed status line");
      status = status * 10 + d;
    }
    if (status < 100) return this.#failed("malformed status line");
    let reasonStart = v + 12;
    if (reasonStart < lineEnd) {
      if (buf[reasonStart] !== SP) return this.#failed("malformed status line");
      reasonStart++;
      for (let i = reasonStart; i < lineEnd; i++) {
        if (FIELD_VCHAR[buf[i]!] !== 1) return this.#failed("malformed status line");
      }
    }
    const f = this.#fields;
    f.reset();
    if (!parseFieldLines(buf, base, lineEnd + 2, base + headLength - 2, f, f.offsets.length / 4)) {
      return this.#failed(f.errorReason);
    }
    const minor = buf[v + 7]! - 48;
    this.#status = status;
    this.#reasonStart = reasonStart - base;
    this.#reasonEnd = lineEnd - base;
    this.#minorVersion = minor;
    this.#headLength = headLength;
    this.#contentLength = f.contentLength;
    this.#keepAlive = minor === 1 ? !f.close : f.keepAlive && !f.close;
    this.#messageLength = headLength;
    if (this.#headRequest || status < 200 || status === 204 || status === 304) {
      this.#state = STATE_DONE;
      return true;
    }
    if (f.transferEncoding) {
      if (f.contentLengthFields > 0) {
        return this.#failed("both Content-Length and Transfer-Encoding");
      }
      if (f.codings !== 1 || f.chunkedCodings !== 1) {
        return this.#failed("unsupported transfer coding");
      }
      this.#chunked = true;
      this.#chunkedBody.reset(headLength);
      this.#state = STATE_CHUNKED_BODY;
      return true;
    }
    if (f.contentLength >= 0) {
      if (f.contentLength > this.#maxBodyBytes) return this.#failed("body too large");
      this.#messageLength = headLength + f.contentLength;
      this.#state = STATE_LENGTH_BODY;
      return true;
    }
    this.#keepAlive = false;
    this.#state = STATE_UNTIL_CLOSE;
    return true;
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  208: "Already Reported",
  226: "IM Used",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  510: "Not Extended",
  511: "Network Authentication Required",
};

/**
 * The reason phrase for a status code (RFC 9110 15), or "" for an unregistered code (an empty
 * reason phrase is valid on the wire).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusText } from "./http1.ts";
 *
 * assert.deepEqual(statusText(431), "Request Header Fields Too Large");
 * assert.deepEqual(statusText(299), "");
 * ```
 */
export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "";
}

let dateSecond = -1;
let dateValue = "";

/** Recomputes the Date value when the second changed; per-second caches are dropped with it. */
function refreshDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    // toUTCString() yields IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7).
    dateValue = new Date(second * 1000).toUTCString();
    headCacheUsed = 0;
    errorCache.clear();
  }
  return dateValue;
}

/**
 * The current time as an HTTP `Date` value (IMF-fixdate), formatted at most once per second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpDate } from "./http1.ts";
 *
 * assert.deepEqual(httpDate().endsWith(" GMT"), true);
 * assert.deepEqual(httpDate().length, 29);
 * ```
 */
export function httpDate(): string {
  return refreshDate();
}

/**
 * Header fields to write: a record (one value per name) or a list of pairs (repeatable names
 * such as Set-Cookie). A frozen record lets {@link writeResponseHead} cache the serialized head.
 *
 * @example
 * ```ts
 * import type { HeaderList } from "./http1.ts";
 *
 * const plain: HeaderList = Object.freeze({ "Content-Type": "text/plain" });
 * const cookies: HeaderList = [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]];
 * ```
 */
export type HeaderList =
  | Readonly<Record<string, string>>
  | ReadonlyArray<readonly [string, string]>;

const HEAD_CACHE_SIZE = 32;
const headCacheHeaders: (HeaderList | undefined)[] = new Array(HEAD_CACHE_SIZE).fill(undefined);
const headCacheKey = new Float64Array(HEAD_CACHE_SIZE * 2);
const headCacheValue: Uint8Array[] = new Array(HEAD_CACHE_SIZE).fill(EMPTY);
let headCacheUsed = 0;
let headCacheNext = 0;

function checkHeader(name: string, value: string): void {
  if (name.length === 0) throw new TypeError("empty header name");
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || TCHAR[c] !== 1) {
      throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    }
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // CR and LF would let a value inject fields or a whole response.
    if ((c < SP && c !== HTAB) || c === 127) {
      throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(value)}`);
    }
  }
  const lower = name.toLowerCase();
  if (lower === "content-length" || lower === "connection" || lower === "date") {
    throw new TypeError(`${name} is written by writeResponseHead from its arguments`);
  }
}

function headText(
  status: number,
  headers: HeaderList | undefined,
  contentLength: number,
  keepAlive: boolean,
  date: string,
): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`invalid status ${status}`);
  }
  if (!Number.isSafeInteger(contentLength) || contentLength < -1) {
    throw new RangeError(`invalid content length ${contentLength}`);
  }
  let s = "HTTP/1.1 " + status + " " + statusText(status) + "\r\nDate: " + date + "\r\n";
  if (headers !== undefined) {
    const pairs = Array.isArray(headers)
      ? headers as ReadonlyArray<readonly [string, string]>
      : Object.entries(headers);
    for (const [name, value] of pairs) {
      checkHeader(name, value);
      s += name + ": " + value + "\r\n";
    }
  }
  // 1xx and 204 responses must not carry Content-Length (RFC 9110 8.6).
  if (contentLength >= 0 && status >= 200 && status !== 204) {
    s += "Content-Length: " + contentLength + "\r\n";
  }
  // keep-alive is spelled out so HTTP/1.0 clients keep the connection too.
  return s + (keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
}

/**
 * Serializes an HTTP/1.1 response head: status line, `Date`, the given fields,
 * `Content-Length` (omitted when `contentLength` is -1, as for a chunked response, and for 1xx
 * and 204) and `Connection: keep-alive` or `Connection: close`.
 *
 * When `headers` is undefined or a frozen record, the bytes are cached (32 entries, dropped every
 * second with the Date) and the same `Uint8Array` is returned for the same arguments: never
 * modify the result. Throws TypeError for a field that could inject lines (CR, LF, other CTLs),
 * a bad name, or Content-Length, Connection or Date in `headers`; RangeError for a bad status.
 *
 * Four positional arguments rather than an options object: it runs once per response, and the
 * cache lookup compares them as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeResponseHead } from "./http1.ts";
 *
 * const headers = Object.freeze({ "Content-Type": "text/plain" });
 * const head = new TextDecoder().decode(writeResponseHead(200, headers, 13, true));
 * assert.deepEqual(head.startsWith("HTTP/1.1 200 OK\r\nDate: "), true);
 * assert.deepEqual(
 *   head.endsWith("Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n"),
 *   true,
 * );
 * ```
 */
export function writeResponseHead(
  status: number,
  headers: HeaderList | undefined,
  contentLength: number,
  keepAlive: boolean,
): Uint8Array {
  const date = refreshDate();
  const cacheable = headers === undefined || (!Array.isArray(headers) && Object.isFrozen(headers));
  if (!cacheable) return ENCODER.encode(headText(status, headers, contentLength, keepAlive, date));
  const key = keepAlive ? status : -status;
  for (let i = 0; i < headCacheUsed; i++) {
    if (
      headCacheHeaders[i] === headers && headCacheKey[i * 2] === key &&
      headCacheKey[i * 2 + 1] === contentLength
    ) {
      return headCacheValue[i]!;
    }
  }
  const bytes = ENCODER.encode(headText(status, headers, contentLength, keepAlive, date));
  const slot = headCacheUsed < HEAD_CACHE_SIZE
    ? headCacheUsed++
    : headCacheNext++ % HEAD_CACHE_SIZE;
  headCacheHeaders[slot] = headers;
  headCacheKey[slot * 2] = key;
  headCacheKey[slot * 2 + 1] = contentLength;
  headCacheValue[slot] = bytes;
  return bytes;
}

/**
 * `HTTP/1.1 100 Continue`, to send when a request with `Expect: 100-continue` has its head
 * parsed but not its body. Shared: never modify it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONTINUE_RESPONSE } from "./http1.ts";
 *
 * assert.deepEqual(new TextDecoder().decode(CONTINUE_RESPONSE), "HTTP/1.1 100 Continue\r\n\r\n");
 * ```
 */
export const CONTINUE_RESPONSE: Uint8Array = ascii("HTTP/1.1 100 Continue\r\n\r\n");

const ERROR_HEADERS = Object.freeze({ "Content-Type": "text/plain; charset=utf-8" });
const errorCache = new Map<number, Uint8Array>();

function concat(head: Uint8Array, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/**
 * A complete error response with `Connection: close` and a one-line text body, e.g. for the
 * `errorStatus` of a parser. Cached per status and second: never modify the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse } from "./http1.ts";
 *
 * const text = new TextDecoder().decode(errorResponse(431));
 * assert.deepEqual(text.startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"), true);
 * assert.deepEqual(text.includes("\r\nConnection: close\r\n"), true);
 * ```
 */
export function errorResponse(status: number): Uint8Array {
  refreshDate();
  let bytes = errorCache.get(status);
  if (bytes === undefined) {
    const body = ascii(`${status} ${statusText(status)}\n`);
    bytes = concat(writeResponseHead(status, ERROR_HEADERS, body.length, false), body);
    errorCache.set(status, bytes);
  }
  return bytes;
}

/**
 * Options of a {@link FixedResponse}.
 *
 * @example
 * ```ts
 * import { FixedResponse, type FixedResponseOptions } from "./http1.ts";
 *
 * const options: FixedResponseOptions = { headers: { "Content-Type": "text/plain" }, body: "ok" };
 * new FixedResponse(200, options);
 * ```
 */
export interface FixedResponseOptions {
  /** Fields besides Date, Content-Length and Connection. */
  headers?: HeaderList;
  /** The body; a string is sent as UTF-8. */
  body?: Uint8Array | string;
}

/**
 * A response that never changes but for its Date, serialized whole (head and body) once per
 * second: the fast path for fixed answers such as a hello-world or a health check. The bytes
 * returned are shared: never modify them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FixedResponse } from "./http1.ts";
 *
 * const hello = new FixedResponse(200, {
 *   headers: { "Content-Type": "text/plain" },
 *   body: "Hello, World!",
 * });
 * const text = new TextDecoder().decode(hello.bytes(true));
 * assert.deepEqual(text.endsWith("Connection: keep-alive\r\n\r\nHello, World!"), true);
 * assert.deepEqual(hello.bytes(true), hello.bytes(true));
 * ```
 */
export class FixedResponse {
  #status: number;
  #headers: HeaderList | undefined;
  #body: Uint8Array;
  #second = -1;
  #keepAlive: Uint8Array = EMPTY;
  #close: Uint8Array = EMPTY;

  /** Serializes once to validate the fields (throws like {@link writeResponseHead}). */
  constructor(status: number, options: FixedResponseOptions = {}) {
    this.#status = status;
    this.#headers = options.headers;
    const body = options.body ?? EMPTY;
    this.#body = typeof body === "string" ? ENCODER.encode(body) : body.slice();
    this.#build();
  }

  /** The whole response, with `Connection: keep-alive` or `Connection: close`. */
  bytes(keepAlive: boolean): Uint8Array {
    if (Math.floor(Date.now() / 1000) !== this.#second) this.#build();
    return keepAlive ? this.#keepAlive : this.#close;
  }

  #build(): void {
    const date = refreshDate();
    this.#second = dateSecond;
    const length = this.#body.length;
    this.#keepAlive = concat(
      ENCODER.encode(headText(this.#status, this.#headers, length, true, date)),
      this.#body,
    );
    this.#close = concat(
      ENCODER.encode(headText(this.#status, this.#headers, length, false, date)),
      this.#body,
    );
  }
}
