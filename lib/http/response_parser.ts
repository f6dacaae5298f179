/**
 * {@linkcode ResponseParser}: incremental HTTP/1.1 response parsing over the caller's buffer
 * (RFC 9112), for clients.
 *
 * @module
 */

import { DECIMAL, DIGIT_0, FIELD_VCHAR, latin1, SP } from "./_bytes.ts";
import {
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
  STATE_UNTIL_CLOSE,
} from "./_parser_base.ts";

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Offset of the status code in the status line: after `HTTP/1.1 `. */
const STATUS_AT = HTTP_VERSION_LENGTH + 1;
const STATUS_DIGITS = 3;
/** `HTTP/1.1 200`: the reason phrase (and the SP before it) may be missing. */
const MIN_STATUS_LINE = STATUS_AT + STATUS_DIGITS;
/** Smallest status code: 1xx (RFC 9110 15). */
const MIN_STATUS = 100;
/** 1xx responses are interim and have no body; 2xx is the first final class. */
const FIRST_FINAL_STATUS = 200;
const NO_CONTENT = 204;
const NOT_MODIFIED = 304;
/** The CRLF after the status line. */
const CRLF_LENGTH = 2;
/**
 * The status the core records for a refused response. Not exposed: a client closes the
 * connection, and a proxy would answer 502 Bad Gateway for it (RFC 9110 15.6.3).
 */
const BAD_GATEWAY = 502;

/**
 * Limits of a {@link ResponseParser}. Sizes are bytes.
 *
 * @example
 * ```ts
 * import { ResponseParser, type ResponseParserOptions } from "./mod.ts";
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
 * import { ResponseParser } from "./mod.ts";
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
  #core: ParserCore;
  #headRequest = false;
  #status = 0;
  #reasonStart = 0;
  #reasonEnd = 0;

  /** Creates a parser with the given limits (see {@link ResponseParserOptions}). */
  constructor(options: ResponseParserOptions = {}) {
    const maxHeaderBytes = checkLimit(
      options.maxHeaderBytes,
      "maxHeaderBytes",
      DEFAULT_MAX_HEADER_BYTES,
    );
    const maxBodyBytes = checkLimit(options.maxBodyBytes, "maxBodyBytes", DEFAULT_MAX_BODY_BYTES);
    const maxHeaders = checkLimit(options.maxHeaders, "maxHeaders", DEFAULT_MAX_HEADERS);
    this.#core = new ParserCore(maxHeaderBytes, maxBodyBytes, maxHeaders);
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
    checkWindow(buf, start, end);
    const core = this.#core;
    if (core.state === STATE_DONE) this.#startMessage();
    const state = core.resume(buf, start);
    if (state === STATE_FAILED) return PARSE_ERROR;
    if (state === STATE_HEAD) {
      const headLength = core.scanHead(end);
      if (headLength === INCOMPLETE) {
        // The whole head counts against the limit, so this bounds an unfinished one too.
        return core.scanner.scanned > core.maxHeaderBytes
          ? this.#fail("response head too large")
          : INCOMPLETE;
      }
      if (headLength === PARSE_ERROR || !this.#parseHead(buf, start, headLength)) {
        return PARSE_ERROR;
      }
    }
    return core.continueBody(end);
  }

  /**
   * Call when the server closed the connection, with the unconsumed bytes. Completes a response
   * whose body runs until close and returns its length; returns {@link INCOMPLETE} when no byte
   * of a response was pending, and {@link PARSE_ERROR} for a truncated response.
   */
  finish(buf: Uint8Array, start: number, end: number): number {
    const r = this.parse(buf, start, end);
    if (r !== INCOMPLETE) return r;
    const core = this.#core;
    if (core.state === STATE_UNTIL_CLOSE) {
      core.messageLength = end - start;
      core.state = STATE_DONE;
      return core.messageLength;
    }
    if (core.state === STATE_HEAD && end === start) return INCOMPLETE;
    return this.#fail("connection closed before the end of the response");
  }

  /** Forgets the current message and any error, for a fresh connection. */
  reset(): void {
    this.#core.reset();
    this.#status = 0;
  }

  /** Whether the head is parsed (the body may still be arriving). */
  get headComplete(): boolean {
    return this.#core.headComplete;
  }

  /** The smallest `end - start` at which `parse()` can make progress. */
  get bytesNeeded(): number {
    return this.#core.bytesNeeded;
  }

  /** The status code. */
  get status(): number {
    return this.#status;
  }

  /** The reason phrase as sent (may be empty). */
  get reason(): string {
    const core = this.#core;
    return core.headComplete
      ? latin1(core.buf, core.base + this.#reasonStart, core.base + this.#reasonEnd)
      : "";
  }

  /** The HTTP version: 1 (HTTP/1.0) or 1.1. */
  get version(): number {
    return this.#core.version;
  }

  /**
   * Whether the connection can carry another request: HTTP/1.1 unless `Connection: close`,
   * HTTP/1.0 only with `Connection: keep-alive`, never after a body delimited by close.
   */
  get keepAlive(): boolean {
    return this.#core.keepAlive;
  }

  /** The Content-Length value, or -1 when absent. */
  get contentLength(): number {
    return this.#core.contentLength;
  }

  /** Whether the body is chunked. */
  get chunked(): boolean {
    return this.#core.chunked;
  }

  /** The body once complete: a view on the caller's buffer, or a decoded copy when chunked. */
  get body(): Uint8Array {
    return this.#core.body;
  }

  /** How many header fields the response has. */
  get headerCount(): number {
    return this.#core.headerCount;
  }

  /** The value of the first field named `lowerName` (lowercase), or undefined. */
  header(lowerName: string): string | undefined {
    return this.#core.header(lowerName);
  }

  /** Every field as `[name, value]` in the order received. */
  headers(): [string, string][] {
    return this.#core.headers();
  }

  /** Why the response was refused, after {@link PARSE_ERROR}. */
  get errorReason(): string {
    return this.#core.errorReason;
  }

  #startMessage(): void {
    this.#core.startMessage();
    this.#status = 0;
  }

  #fail(reason: string): number {
    return this.#core.fail(BAD_GATEWAY, reason);
  }

  #failed(reason: string): false {
    this.#fail(reason);
    return false;
  }

  #parseHead(buf: Uint8Array, base: number, headLength: number): boolean {
    const core = this.#core;
    if (headLength > core.maxHeaderBytes) return this.#failed("response head too large");
    const scanner = core.scanner;
    const v = base + scanner.lineStart;
    const lineEnd = base + scanner.lineEnd;
    // "HTTP/1.1 200 OK": version, SP, 3DIGIT, then SP and a reason (tolerated missing).
    if (
      lineEnd - v < MIN_STATUS_LINE || !isHttpVersionShape(buf, v) ||
      buf[v + HTTP_VERSION_LENGTH] !== SP
    ) {
      return this.#failed("malformed status line");
    }
    const major = buf[v + VERSION_MAJOR_AT]! - DIGIT_0;
    const minor = buf[v + VERSION_MINOR_AT]! - DIGIT_0;
    if (major !== 1 || (minor !== 0 && minor !== 1)) {
      return this.#failed("unsupported HTTP version");
    }
    let status = 0;
    for (let i = v + STATUS_AT; i < v + MIN_STATUS_LINE; i++) {
      const d = buf[i]! - DIGIT_0;
      if (d < 0 || d >= DECIMAL) return this.#failed("malformed status line");
      status = status * DECIMAL + d;
    }
    if (status < MIN_STATUS) return this.#failed("malformed status line");
    let reasonStart = v + MIN_STATUS_LINE;
    if (reasonStart < lineEnd) {
      if (buf[reasonStart] !== SP) return this.#failed("malformed status line");
      reasonStart++;
      for (let i = reasonStart; i < lineEnd; i++) {
        if (FIELD_VCHAR[buf[i]!] !== 1) return this.#failed("malformed status line");
      }
    }
    const f = core.fields;
    f.reset();
    if (!parseFieldLines(buf, base, lineEnd + CRLF_LENGTH, base + headLength - CRLF_LENGTH, f)) {
      return this.#failed(f.errorReason);
    }
    this.#status = status;
    this.#reasonStart = reasonStart - base;
    this.#reasonEnd = lineEnd - base;
    core.minorVersion = minor;
    core.headLength = headLength;
    core.contentLength = f.contentLength;
    core.keepAlive = f.keepAliveFor(minor);
    core.messageLength = headLength;
    if (
      this.#headRequest || status < FIRST_FINAL_STATUS || status === NO_CONTENT ||
      status === NOT_MODIFIED
    ) {
      core.state = STATE_DONE;
      return true;
    }
    if (f.transferEncoding) {
      if (f.contentLengthFields > 0) {
        return this.#failed("both Content-Length and Transfer-Encoding");
      }
      if (f.codings !== 1 || f.chunkedCodings !== 1) {
        return this.#failed("unsupported transfer coding");
      }
      core.chunked = true;
      core.chunkedBody.reset(headLength);
      core.state = STATE_CHUNKED_BODY;
      return true;
    }
    if (f.contentLength >= 0) {
      if (f.contentLength > core.maxBodyBytes) return this.#failed("body too large");
      core.messageLength = headLength + f.contentLength;
      core.state = STATE_LENGTH_BODY;
      return true;
    }
    core.keepAlive = false;
    core.state = STATE_UNTIL_CLOSE;
    return true;
  }
}
