/**
 * The message head, shared by the request and the response parser: finding where it ends, and
 * parsing its field lines into offsets plus what the framing rules need from the known fields
 * (RFC 9112 2, 5; RFC 9110 5).
 *
 * @module
 */

import {
  ascii,
  COLON,
  COMMA,
  CR,
  DECIMAL,
  DIGIT_0,
  DOT,
  equalsExact,
  equalsLower,
  FIELD_VCHAR,
  HTAB,
  latin1,
  LF,
  LOWER,
  SP,
  TCHAR,
} from "./_bytes.ts";

const NAME_HOST = "host";
const NAME_EXPECT = "expect";
const NAME_CONNECTION = "connection";
const NAME_CONTENT_LENGTH = "content-length";
const NAME_TRANSFER_ENCODING = "transfer-encoding";
const HOST = ascii(NAME_HOST);
const EXPECT = ascii(NAME_EXPECT);
const CONNECTION = ascii(NAME_CONNECTION);
const CONTENT_LENGTH = ascii(NAME_CONTENT_LENGTH);
const TRANSFER_ENCODING = ascii(NAME_TRANSFER_ENCODING);
const TOKEN_100_CONTINUE = ascii("100-continue");
const TOKEN_CLOSE = ascii("close");
const TOKEN_KEEP_ALIVE = ascii("keep-alive");
const TOKEN_CHUNKED = ascii("chunked");

/** `HTTP/` then major digit, `.`, minor digit: 8 bytes. */
export const HTTP_VERSION_LENGTH = 8;
/** Offset of the major digit in `HTTP/1.1`. */
export const VERSION_MAJOR_AT = 5;
/** Offset of the minor digit in `HTTP/1.1`. */
export const VERSION_MINOR_AT = 7;
const VERSION_DOT_AT = 6;
const VERSION_PREFIX = "HTTP/";

/** Whether `buf[at..]` has the shape `HTTP/?.?` (the digits are left to the caller). */
export function isHttpVersionShape(buf: Uint8Array, at: number): boolean {
  return equalsExact(buf, at, VERSION_PREFIX) && buf[at + VERSION_DOT_AT] === DOT;
}

/** Whether byte `b` can stand at `index` of `HTTP/d.d` (`index` below 8). */
export function fitsHttpVersion(b: number, index: number): boolean {
  if (index < VERSION_PREFIX.length) return b === VERSION_PREFIX.charCodeAt(index);
  if (index === VERSION_DOT_AT) return b === DOT;
  const d = b - DIGIT_0;
  return d >= 0 && d < DECIMAL;
}

/**
 * Finds the end of a message head by looking for CRLF CRLF, resuming where the previous call
 * stopped, so feeding a head one byte per read costs linear time. Offsets are relative to the
 * message start, which lets the caller move its unconsumed bytes between calls.
 */
export class HeadScanner {
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
      // Stryker disable next-line EqualityOperator: equivalent, lineEnd is -1 or past lineStart (>= 0), never 0
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
        // Stryker disable next-line ArithmeticOperator: equivalent, scanned is read only while the head is incomplete, and the next message resets it
        this.scanned = rel + 1;
        return rel + 1;
      }
    }
    this.scanned = end - base;
    return 0;
  }
}

/** Offsets stored per field: name start, name end, value start, value end. */
const SLOTS_PER_FIELD = 4;

/**
 * Field lines of one head: offsets relative to the message start, four per field (name start,
 * name end, value start, value end), plus what the framing rules need from the known fields.
 * Internal and reused per message, so its fields are plain properties.
 */
export class FieldSection {
  readonly offsets: Int32Array;
  readonly maxFields: number;
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
    this.maxFields = maxFields;
    this.offsets = new Int32Array(maxFields * SLOTS_PER_FIELD);
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

  /**
   * Whether the connection may carry another message, from the version and the Connection
   * options: HTTP/1.1 unless `close`, HTTP/1.0 only with `keep-alive` (RFC 9112 9.3).
   */
  keepAliveFor(minorVersion: number): boolean {
    return minorVersion === 1 ? !this.close : this.keepAlive && !this.close;
  }

  /** Finds field `lowerName` (already lowercase); its index, or -1. */
  find(buf: Uint8Array, base: number, lowerName: string): number {
    const offsets = this.offsets;
    const length = lowerName.length;
    for (let i = 0; i < this.count; i++) {
      const k = i * SLOTS_PER_FIELD;
      const from = base + offsets[k]!;
      if (base + offsets[k + 1]! - from !== length) continue;
      let j = 0;
      while (j < length && LOWER[buf[from + j]!] === lowerName.charCodeAt(j)) j++;
      if (j === length) return i;
    }
    return -1;
  }

  /** The name of field `index` as sent; RangeError for an index outside the section. */
  name(buf: Uint8Array, base: number, index: number): string {
    if (index < 0 || index >= this.count) throw new RangeError(`no header field ${index}`);
    const k = index * SLOTS_PER_FIELD;
    return latin1(buf, base + this.offsets[k]!, base + this.offsets[k + 1]!);
  }

  /** The value of field `index`; RangeError for an index outside the section. */
  value(buf: Uint8Array, base: number, index: number): string {
    if (index < 0 || index >= this.count) throw new RangeError(`no header field ${index}`);
    const k = index * SLOTS_PER_FIELD;
    return latin1(buf, base + this.offsets[k + 2]!, base + this.offsets[k + 3]!);
  }

  /** Every field as `[name, value]`, in order. */
  list(buf: Uint8Array, base: number): [string, string][] {
    const list: [string, string][] = [];
    for (let i = 0; i < this.count; i++) {
      list.push([this.name(buf, base, i), this.value(buf, base, i)]);
    }
    return list;
  }
}

/**
 * Parses the field lines in `[p, sectionEnd)` (absolute), where `sectionEnd` is the CR of the
 * final empty line. Every line is known to end in CRLF, and the CR at `sectionEnd` stops every
 * inner loop, so no loop needs a bounds check.
 */
export function parseFieldLines(
  buf: Uint8Array,
  base: number,
  p: number,
  sectionEnd: number,
  f: FieldSection,
): boolean {
  const offsets = f.offsets;
  const maxFields = f.maxFields;
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
    const k = count * SLOTS_PER_FIELD;
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

// Phases of a FieldLinesCheck: where in a field line the next byte falls.
/** At the start of a field line, or of the empty line that ends the head. */
const AT_LINE_START = 0;
const IN_NAME = 1;
const IN_VALUE = 2;
/** After a CR, where only LF may follow. */
const AFTER_CR = 3;
/** A Content-Length value before its digits (OWS), in them, and after them (OWS). */
const BEFORE_LENGTH = 4;
const IN_LENGTH = 5;
const AFTER_LENGTH = 6;

/**
 * Checks the field lines of an unfinished head as its bytes arrive, so that a head which can
 * never become valid is refused at its first bad byte instead of when the empty line (or the
 * header deadline) comes. It resumes where the previous call stopped, so a head fed one byte per
 * read is checked once in all; a complete head is left to {@link parseFieldLines} and never
 * comes here.
 *
 * Refused: obs-fold and whitespace before the first name, a byte outside a token in a name or
 * whitespace before its colon, a control byte in a value, a bare CR, one field too many, a second
 * Content-Length, and a Content-Length that is not a number or is over the body limit. The rules
 * are those of {@link parseFieldLines} and `noteKnownField`, applied to a prefix, so the status
 * for a head with one fault is the one the complete head would get.
 *
 * The caller guarantees what {@link HeadScanner} checked: every LF in the bytes follows a CR, and
 * the bytes hold no end of head. Offsets are relative to the message start, like the scanner's.
 */
export class FieldLinesCheck {
  phase = AT_LINE_START;
  /** Start of the name being read, relative to the message start. */
  nameStart = 0;
  fields = 0;
  contentLengthFields = 0;
  contentLength = 0;
  errorStatus = 0;
  // Stryker disable next-line StringLiteral: equivalent, read only after fail() has set it
  errorReason = "";

  /** Starts a new field section. */
  begin(): void {
    this.phase = AT_LINE_START;
    this.fields = 0;
    this.contentLengthFields = 0;
  }

  /**
   * Checks `buf[from, end)` (absolute; the message starts at `base`); false, with
   * `errorStatus` and `errorReason` set, at the first byte that no continuation can make valid.
   */
  run(
    buf: Uint8Array,
    base: number,
    from: number,
    end: number,
    maxFields: number,
    maxBodyBytes: number,
  ): boolean {
    let phase = this.phase;
    let i = from;
    while (i < end) {
      const b = buf[i]!;
      switch (phase) {
        case AT_LINE_START:
          if (b === CR) {
            phase = AFTER_CR;
          } else if (TCHAR[b] === 1) {
            this.nameStart = i - base;
            phase = IN_NAME;
          } else {
            return this.fail(
              400,
              b === SP || b === HTAB
                ? "obsolete line folding in header section"
                : "invalid header field name",
            );
          }
          i++;
          break;
        case IN_NAME:
          while (i < end && TCHAR[buf[i]!] === 1) i++;
          if (i === end) break;
          if (buf[i] !== COLON) {
            const stop = buf[i];
            return this.fail(
              400,
              stop === SP || stop === HTAB
                ? "whitespace between header field name and colon"
                : "invalid header field name",
            );
          }
          if (this.fields === maxFields) return this.fail(431, "too many header fields");
          this.fields++;
          phase = IN_VALUE;
          if (
            i - base - this.nameStart === NAME_CONTENT_LENGTH.length &&
            equalsLower(buf, base + this.nameStart, CONTENT_LENGTH)
          ) {
            if (++this.contentLengthFields > 1) return this.fail(400, "duplicate Content-Length");
            this.contentLength = 0;
            phase = BEFORE_LENGTH;
          }
          i++;
          break;
        case IN_VALUE:
          while (i < end && FIELD_VCHAR[buf[i]!] === 1) i++;
          if (i === end) break;
          if (buf[i] !== CR) return this.fail(400, "invalid header field value");
          phase = AFTER_CR;
          i++;
          break;
        case AFTER_CR:
          if (b !== LF) return this.fail(400, "bare CR in header section");
          phase = AT_LINE_START;
          i++;
          break;
        default: {
          // A Content-Length value, byte by byte: OWS, digits, OWS.
          const d = b - DIGIT_0;
          if (d >= 0 && d < DECIMAL) {
            if (phase === AFTER_LENGTH) return this.fail(400, "invalid Content-Length");
            const n = this.contentLength * DECIMAL + d;
            if (n > maxBodyBytes) return this.fail(413, "body too large");
            this.contentLength = n;
            phase = IN_LENGTH;
          } else if (b === SP || b === HTAB) {
            if (phase === IN_LENGTH) phase = AFTER_LENGTH;
          } else if (b === CR && phase !== BEFORE_LENGTH) {
            phase = AFTER_CR;
          } else {
            return this.fail(
              400,
              FIELD_VCHAR[b] === 1 || b === CR
                ? "invalid Content-Length"
                : "invalid header field value",
            );
          }
          i++;
        }
      }
    }
    this.phase = phase;
    return true;
  }

  fail(status: number, reason: string): false {
    this.errorStatus = status;
    this.errorReason = reason;
    return false;
  }
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
  // Switching on the length first leaves at most one comparison per field.
  switch (nameEnd - nameStart) {
    case NAME_HOST.length:
      if (equalsLower(buf, nameStart, HOST)) f.hosts++;
      return true;
    case NAME_EXPECT.length:
      if (
        equalsLower(buf, nameStart, EXPECT) &&
        valueEnd - valueStart === TOKEN_100_CONTINUE.length &&
        equalsLower(buf, valueStart, TOKEN_100_CONTINUE)
      ) {
        f.expectContinue = true;
      }
      return true;
    case NAME_CONNECTION.length:
      if (equalsLower(buf, nameStart, CONNECTION)) {
        forEachListElement(buf, valueStart, valueEnd, f, connectionOption);
      }
      return true;
    case NAME_CONTENT_LENGTH.length:
      if (!equalsLower(buf, nameStart, CONTENT_LENGTH)) return true;
      // RFC 9110 8.6 lets a recipient accept repeated identical values; refusing every repeat is
      // simpler and closes the door on parsers that pick a different one of them.
      if (++f.contentLengthFields > 1) return f.fail(400, "duplicate Content-Length");
      if (valueStart === valueEnd) return f.fail(400, "invalid Content-Length");
      {
        let n = 0;
        for (let i = valueStart; i < valueEnd; i++) {
          const d = buf[i]! - DIGIT_0;
          if (d < 0 || d >= DECIMAL) return f.fail(400, "invalid Content-Length");
          n = n * DECIMAL + d;
          // Still all digits to validate; the value only has to stay above any body limit.
          // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, a value over 2^53 is over any body limit (at most 2^53 - 1) clamped or not: the same 413
          if (n > Number.MAX_SAFE_INTEGER) n = Number.MAX_SAFE_INTEGER;
        }
        f.contentLength = n;
      }
      return true;
    case NAME_TRANSFER_ENCODING.length:
      if (equalsLower(buf, nameStart, TRANSFER_ENCODING)) {
        f.transferEncoding = true;
        forEachListElement(buf, valueStart, valueEnd, f, transferCoding);
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
  if (length === TOKEN_CLOSE.length && equalsLower(buf, from, TOKEN_CLOSE)) f.close = true;
  else if (length === TOKEN_KEEP_ALIVE.length && equalsLower(buf, from, TOKEN_KEEP_ALIVE)) {
    f.keepAlive = true;
  }
}

function transferCoding(buf: Uint8Array, from: number, to: number, f: FieldSection): void {
  const chunked = to - from === TOKEN_CHUNKED.length && equalsLower(buf, from, TOKEN_CHUNKED);
  f.codings++;
  if (chunked) f.chunkedCodings++;
  else f.otherCodings = true;
  f.lastCodingChunked = chunked;
}
