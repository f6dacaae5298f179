/**
 * {@linkcode RequestParser}: incremental HTTP/1.1 request parsing over the caller's buffer
 * (RFC 9112), for servers.
 *
 * @module
 */

import { CR, DECIMAL, DIGIT_0, equalsExact, latin1, LF, SP, TARGET_CHAR, TCHAR } from "./_bytes.ts";
import {
  FieldLinesCheck,
  fitsHttpVersion,
  HTTP_VERSION_LENGTH,
  isHttpVersionShape,
  parseFieldLines,
  VERSION_MAJOR_AT,
  VERSION_MINOR_AT,
} from "./_head.ts";
import {
  checkLimit,
  checkWindow,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_HEADERS,
  INCOMPLETE,
  PARSE_ERROR,
  ParserCore,
  STATE_CHUNKED_BODY,
  STATE_DONE,
  STATE_FAILED,
  STATE_HEAD,
  STATE_LENGTH_BODY,
} from "./_parser_base.ts";

const DEFAULT_MAX_URL_BYTES = 8 * 1024;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Longest method accepted; the longest registered one is 17 bytes (UPDATEREDIRECTREF). */
const MAX_METHOD_BYTES = 32;
/** The CRLF after the request line. */
const CRLF_LENGTH = 2;
/** `1`: the one major version served, and the highest minor one (HTTP/1.0 and HTTP/1.1). */
const DIGIT_1 = DIGIT_0 + 1;

// Phases of the check of an unfinished request line: where the next byte falls.
/** Before the request line, where empty lines are allowed (RFC 9112 2.2). */
const BEFORE_LINE = 0;
/** After a CR before the request line, where only LF may follow. */
const BEFORE_LINE_CR = 1;
const IN_METHOD = 2;
const IN_TARGET = 3;
const IN_VERSION = 4;
/** After the CR ending the request line, where only LF may follow. */
const AFTER_LINE_CR = 5;
/** The request line is fine; the field lines are being checked. */
const IN_FIELDS = 6;

/**
 * The method as a shared string when it is a standard one, so parsing `GET` allocates nothing.
 * Switching on the length first leaves one or two byte comparisons per request.
 */
function internMethod(buf: Uint8Array, from: number, to: number): string {
  switch (to - from) {
    case 3:
      if (equalsExact(buf, from, "GET")) return "GET";
      if (equalsExact(buf, from, "PUT")) return "PUT";
      break;
    case 4:
      if (equalsExact(buf, from, "POST")) return "POST";
      if (equalsExact(buf, from, "HEAD")) return "HEAD";
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

/**
 * Limits of a {@link RequestParser}. Sizes are bytes.
 *
 * @example
 * ```ts
 * import { type RequestParserOptions, RequestParser } from "./mod.ts";
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
 * Errors in the head are found when their byte arrives, not when the head ends: an unfinished
 * head is checked as it grows (each call resumes where the last one stopped), so a client that
 * trickles a bad head gets {@link PARSE_ERROR} at its first bad byte rather than at its blank
 * line or the server's header deadline. Only what needs the whole head waits for it (a missing
 * Host, the Transfer-Encoding rules).
 *
 * @example Parse a request that arrives in two reads
 * ```ts
 * import assert from "node:assert/strict";
 * import { INCOMPLETE, RequestParser } from "./mod.ts";
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
  #core: ParserCore;
  #maxUrlBytes: number;
  #method = "";
  #targetStart = 0;
  #targetEnd = 0;
  #targetCache = "";
  #expectContinue = false;
  // Progress of the check of an unfinished head, relative to the message start; see
  // #checkPartialHead. `#checked` is 0 until the first incomplete parse() of a message.
  #checked = 0;
  #phase = BEFORE_LINE;
  /** Bytes of the method or target so far, or index into the version. */
  #partLength = 0;
  readonly #fieldCheck = new FieldLinesCheck();

  /** Creates a parser with the given limits (see {@link RequestParserOptions}). */
  constructor(options: RequestParserOptions = {}) {
    const maxHeaderBytes = checkLimit(
      options.maxHeaderBytes,
      "maxHeaderBytes",
      DEFAULT_MAX_HEADER_BYTES,
    );
    this.#maxUrlBytes = checkLimit(options.maxUrlBytes, "maxUrlBytes", DEFAULT_MAX_URL_BYTES);
    const maxBodyBytes = checkLimit(options.maxBodyBytes, "maxBodyBytes", DEFAULT_MAX_BODY_BYTES);
    const maxHeaders = checkLimit(options.maxHeaders, "maxHeaders", DEFAULT_MAX_HEADERS);
    this.#core = new ParserCore(maxHeaderBytes, maxBodyBytes, maxHeaders);
  }

  /**
   * Parses the request starting at `buf[start]`, given the bytes `[start, end)`. Returns the
   * request's length in bytes when it is complete, {@link INCOMPLETE}, or {@link PARSE_ERROR}.
   * Throws only a RangeError for a window outside `buf`.
   */
  parse(buf: Uint8Array, start: number, end: number): number {
    checkWindow(buf, start, end);
    const core = this.#core;
    if (core.state === STATE_DONE) this.#startMessage();
    const state = core.resume(buf, start);
    if (state === STATE_FAILED) return PARSE_ERROR;
    if (state === STATE_HEAD) {
      const headLength = core.scanHead(end);
      // The complete head is checked by #parseHead alone: the check of a partial one costs a
      // request that arrives in one read nothing.
      if (headLength === INCOMPLETE) return this.#checkPartialHead(buf, start, end);
      if (headLength === PARSE_ERROR || !this.#parseHead(buf, start, headLength)) {
        return PARSE_ERROR;
      }
    }
    return core.continueBody(end);
  }

  /** Forgets the current message and any error, for a fresh connection. */
  reset(): void {
    this.#core.reset();
    this.#clearMessage();
  }

  /** Whether the head is parsed: true for a complete request, and for one awaiting its body. */
  get headComplete(): boolean {
    return this.#core.headComplete;
  }

  /** The length of the parsed head (request line, fields, blank line); 0 before it is complete. */
  get headLength(): number {
    return this.#core.headComplete ? this.#core.headLength : 0;
  }

  /**
   * The smallest `end - start` at which `parse()` can make progress. A caller whose buffer is
   * full grows it to at least this much (bounded by the limits) before reading again.
   */
  get bytesNeeded(): number {
    return this.#core.bytesNeeded;
  }

  /** The request method; the standard methods are shared strings (no allocation). */
  get method(): string {
    return this.#method;
  }

  /** The request target as sent (origin-form `/a?b`, absolute-form, authority or `*`). */
  get target(): string {
    const core = this.#core;
    if (!core.headComplete) return "";
    const buf = core.buf;
    const from = core.base + this.#targetStart;
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
    return this.#core.version;
  }

  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  get minorVersion(): number {
    return this.#core.minorVersion;
  }

  /**
   * Whether the connection may carry another request after this one: HTTP/1.1 unless
   * `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. False after an error.
   */
  get keepAlive(): boolean {
    return this.#core.keepAlive;
  }

  /** The Content-Length value, or -1 when the request has none (chunked or bodiless). */
  get contentLength(): number {
    return this.#core.contentLength;
  }

  /** Whether the body is chunked (`Transfer-Encoding: chunked`). */
  get chunked(): boolean {
    return this.#core.chunked;
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
    return this.#core.body;
  }

  /** How many header fields the request has. */
  get headerCount(): number {
    return this.#core.headerCount;
  }

  /**
   * The value of the first field named `lowerName`, which must be lowercase; undefined when
   * absent. Bytes decode one to one (latin1), so obs-text survives unchanged.
   */
  header(lowerName: string): string | undefined {
    return this.#core.header(lowerName);
  }

  /** The name of field `index` as sent (original case). */
  headerName(index: number): string {
    return this.#core.headerName(index);
  }

  /** The value of field `index`, without surrounding whitespace. */
  headerValue(index: number): string {
    return this.#core.headerValue(index);
  }

  /** Every field as `[name, value]` in the order received, names in their original case. */
  headers(): [string, string][] {
    return this.#core.headers();
  }

  /** The status to answer with after {@link PARSE_ERROR}: 400, 413, 414, 431, 501 or 505. */
  get errorStatus(): number {
    return this.#core.errorStatus;
  }

  /** Why the request was refused, for logs. */
  get errorReason(): string {
    return this.#core.errorReason;
  }

  #startMessage(): void {
    this.#core.startMessage();
    this.#clearMessage();
  }

  /** Forgets what only requests have. */
  #clearMessage(): void {
    this.#method = "";
    this.#expectContinue = false;
    this.#checked = 0;
  }

  /**
   * Refuses an unfinished head as soon as it is over a limit or holds a byte that no continuation
   * can make valid, without waiting for its end: a client that trickles a bad head gets its
   * answer at once, not at the header deadline. Resumes after the bytes checked by the previous
   * call, so a head fed one byte per read is checked in linear time.
   *
   * A head is judged by its first bad byte here, by #parseHead's checks in their order when
   * complete; the two agree on the status unless a head has two faults (`HTTP/2.x` is 505 here,
   * 400 complete), and then both refuse it.
   */
  #checkPartialHead(buf: Uint8Array, base: number, end: number): number {
    const core = this.#core;
    const scanner = core.scanner;
    // In #parseHead's order: empty lines, the request line, the size of the field section.
    if (scanner.lineStart > core.maxHeaderBytes) {
      return core.fail(400, "too many empty lines before the request line");
    }
    if (this.#checked === 0) this.#phase = BEFORE_LINE;
    let i = base + this.#checked;
    if (this.#phase !== IN_FIELDS) {
      i = this.#checkRequestLine(buf, i, end);
      if (i < 0) return PARSE_ERROR;
    }
    if (
      // Stryker disable next-line EqualityOperator: equivalent, lineEnd is -1 or at least 1, never 0
      scanner.lineEnd >= 0 &&
      scanner.scanned - (scanner.lineEnd + CRLF_LENGTH) > core.maxHeaderBytes
    ) {
      return core.fail(431, "header section too large");
    }
    const fieldCheck = this.#fieldCheck;
    if (i < end && !fieldCheck.run(buf, base, i, end, core.fields.maxFields, core.maxBodyBytes)) {
      return core.fail(fieldCheck.errorStatus, fieldCheck.errorReason);
    }
    this.#checked = end - base;
    return INCOMPLETE;
  }

  /**
   * Checks the unfinished request line from `buf[i]` on, by the rules of #parseHead. Returns
   * where the field lines start once the line is complete, `end` while it is not, or -1 after
   * refusing it.
   */
  #checkRequestLine(buf: Uint8Array, i: number, end: number): number {
    const core = this.#core;
    let phase = this.#phase;
    let length = this.#partLength;
    for (; i < end; i++) {
      const b = buf[i]!;
      switch (phase) {
        case BEFORE_LINE:
          if (b === CR) phase = BEFORE_LINE_CR;
          else if (TCHAR[b] === 1) {
            phase = IN_METHOD;
            length = 1;
          } else return core.fail(400, "malformed request line");
          break;
        case BEFORE_LINE_CR:
          if (b !== LF) return core.fail(400, "bare CR before the request line");
          phase = BEFORE_LINE;
          break;
        case IN_METHOD:
          if (TCHAR[b] === 1) {
            if (++length > MAX_METHOD_BYTES) return core.fail(400, "method too long");
          } else if (b === SP) {
            phase = IN_TARGET;
            length = 0;
          } else return core.fail(400, "malformed request line");
          break;
        case IN_TARGET:
          if (TARGET_CHAR[b] === 1) {
            if (++length > this.#maxUrlBytes) return core.fail(414, "request target too long");
          } else if (b === SP && length > 0) {
            phase = IN_VERSION;
            length = 0;
          } else {
            return core.fail(
              400,
              length === 0 || b === CR
                ? "malformed request line"
                : "invalid byte in request target",
            );
          }
          break;
        case IN_VERSION:
          if (length === HTTP_VERSION_LENGTH) {
            if (b !== CR) return core.fail(400, "malformed HTTP version");
            phase = AFTER_LINE_CR;
            break;
          }
          if (!fitsHttpVersion(b, length)) return core.fail(400, "malformed HTTP version");
          // Any major digit but 1, or a minor one over 1, can only end in 505 (when the rest of
          // the version is well formed; else 400, but refused either way).
          if (
            (length === VERSION_MAJOR_AT && b !== DIGIT_1) ||
            (length === VERSION_MINOR_AT && b > DIGIT_1)
          ) {
            return core.fail(505, "HTTP version not supported");
          }
          length++;
          break;
        default: // AFTER_LINE_CR
          if (b !== LF) return core.fail(400, "bare CR in request line");
          this.#phase = IN_FIELDS;
          this.#fieldCheck.begin();
          // Stryker disable next-line ArithmeticOperator: equivalent, from i - 1 the field check reads the CR LF that ends the request line and is back at a line start
          return i + 1;
      }
    }
    this.#phase = phase;
    this.#partLength = length;
    return end;
  }

  #parseHead(buf: Uint8Array, base: number, headLength: number): boolean {
    const core = this.#core;
    const scanner = core.scanner;
    const lineStart = base + scanner.lineStart;
    const lineEnd = base + scanner.lineEnd;
    if (scanner.lineStart > core.maxHeaderBytes) {
      return core.failed(400, "too many empty lines before the request line");
    }

    let i = lineStart;
    while (TCHAR[buf[i]!] === 1) i++;
    if (i === lineStart || buf[i] !== SP) return core.failed(400, "malformed request line");
    if (i - lineStart > MAX_METHOD_BYTES) return core.failed(400, "method too long");
    const targetStart = i + 1;
    let j = targetStart;
    while (TARGET_CHAR[buf[j]!] === 1) j++;
    if (j - targetStart > this.#maxUrlBytes) return core.failed(414, "request target too long");
    if (j === targetStart || buf[j] !== SP) {
      return core.failed(
        400,
        j === targetStart || j === lineEnd
          ? "malformed request line"
          : "invalid byte in request target",
      );
    }
    const v = j + 1;
    if (lineEnd - v !== HTTP_VERSION_LENGTH || !isHttpVersionShape(buf, v)) {
      return core.failed(400, "malformed HTTP version");
    }
    const major = buf[v + VERSION_MAJOR_AT]! - DIGIT_0;
    const minor = buf[v + VERSION_MINOR_AT]! - DIGIT_0;
    if (major < 0 || major >= DECIMAL || minor < 0 || minor >= DECIMAL) {
      return core.failed(400, "malformed HTTP version");
    }
    if (major !== 1 || minor > 1) return core.failed(505, "HTTP version not supported");

    if (headLength - (scanner.lineEnd + CRLF_LENGTH) > core.maxHeaderBytes) {
      return core.failed(431, "header section too large");
    }
    const f = core.fields;
    f.reset();
    if (!parseFieldLines(buf, base, lineEnd + CRLF_LENGTH, base + headLength - CRLF_LENGTH, f)) {
      return core.failed(f.errorStatus, f.errorReason);
    }

    // RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
    if (f.hosts > 1) return core.failed(400, "more than one Host header");
    if (minor === 1 && f.hosts === 0) return core.failed(400, "missing Host header");
    // RFC 9112 6.1: Content-Length beside Transfer-Encoding is the classic smuggling vector, and
    // Transfer-Encoding in HTTP/1.0 means the framing cannot be trusted.
    if (f.transferEncoding) {
      if (minor === 0) return core.failed(400, "Transfer-Encoding in an HTTP/1.0 request");
      if (f.contentLengthFields > 0) {
        return core.failed(400, "both Content-Length and Transfer-Encoding");
      }
      if (f.codings === 0) return core.failed(400, "empty Transfer-Encoding");
      if (!f.lastCodingChunked) {
        return core.failed(400, "chunked is not the final transfer coding");
      }
      if (f.chunkedCodings > 1) return core.failed(400, "chunked applied more than once");
      if (f.otherCodings) return core.failed(501, "transfer coding not implemented");
    } else if (f.contentLength > core.maxBodyBytes) {
      return core.failed(413, "body too large");
    }

    this.#method = internMethod(buf, lineStart, i);
    this.#targetStart = targetStart - base;
    this.#targetEnd = j - base;
    core.minorVersion = minor;
    core.keepAlive = f.keepAliveFor(minor);
    this.#expectContinue = minor === 1 && f.expectContinue;
    core.headLength = headLength;
    core.contentLength = f.contentLength;
    if (f.transferEncoding) {
      core.chunked = true;
      core.chunkedBody.reset(headLength);
      core.state = STATE_CHUNKED_BODY;
    } else {
      core.messageLength = headLength + Math.max(0, f.contentLength);
      core.state = core.messageLength === headLength ? STATE_DONE : STATE_LENGTH_BODY;
    }
    return true;
  }
}
