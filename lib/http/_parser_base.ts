/**
 * What the request and the response parser share: the calling protocol's results, the message
 * state machine, framing by Content-Length, chunked coding or close, the failure latch, and the
 * accessors for a parsed head. Each parser owns one {@linkcode ParserCore} and adds only its start
 * line and its framing rules, so a fix to the shared part reaches both.
 *
 * Composition rather than a base class: the parsers keep `#private` state, which a subclass could
 * not reach, and the core's plain properties never appear on the public types.
 *
 * @module
 */

import { checkInteger } from "../_validate.ts";
import { EMPTY } from "./_bytes.ts";
import { BODY_ERROR, BODY_INCOMPLETE, ChunkedBody } from "./_chunked.ts";
import { FieldSection, HeadScanner } from "./_head.ts";

/**
 * `parse()` result: the bytes given do not hold a complete message yet. Keep `[start, end)`,
 * read more, and call `parse()` again with those same bytes at the front.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INCOMPLETE, RequestParser } from "./mod.ts";
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
 * import { PARSE_ERROR, RequestParser } from "./mod.ts";
 *
 * const parser = new RequestParser();
 * const buf = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"); // no Host
 * assert.deepEqual(parser.parse(buf, 0, buf.length), PARSE_ERROR);
 * assert.deepEqual(parser.errorStatus, 400);
 * ```
 */
export const PARSE_ERROR: number = -1;

/** Waiting for (the rest of) the head. */
export const STATE_HEAD = 0;
/** Head parsed; the body is Content-Length bytes. */
export const STATE_LENGTH_BODY = 1;
/** Head parsed; the body is chunked. */
export const STATE_CHUNKED_BODY = 2;
/** Head parsed; the body runs until the peer closes (responses only). */
export const STATE_UNTIL_CLOSE = 3;
/** A complete message; the next `parse()` starts the next one. */
export const STATE_DONE = 4;
/** Refused; stays so until `reset()`. */
export const STATE_FAILED = 5;

/** Default largest head or header section, in bytes (Node's). */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** Default most header fields. */
export const DEFAULT_MAX_HEADERS = 100;

/** A size or count limit from the options: a positive integer, or its default. */
export function checkLimit(value: number | undefined, what: string, fallback: number): number {
  return checkInteger(value ?? fallback, what, 1, Number.MAX_SAFE_INTEGER);
}

/** RangeError unless `[start, end)` lies inside `buf`: the one thing `parse()` throws for. */
export function checkWindow(buf: Uint8Array, start: number, end: number): void {
  if (start < 0 || start > end || end > buf.length) {
    throw new RangeError(`window [${start}, ${end}) is outside a buffer of ${buf.length}`);
  }
}

/**
 * The state of one parser that does not depend on the start line. Internal and touched on every
 * message, so its fields are plain properties; the public parsers hold it in a `#private` field.
 */
export class ParserCore {
  readonly scanner: HeadScanner = new HeadScanner();
  readonly fields: FieldSection;
  readonly chunkedBody: ChunkedBody = new ChunkedBody();
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  state = STATE_HEAD;
  /** The buffer and message start of the last `parse()`, which the accessors read. */
  buf: Uint8Array = EMPTY;
  base = 0;
  headLength = 0;
  messageLength = 0;
  minorVersion = 1;
  keepAlive = false;
  chunked = false;
  contentLength = -1;
  errorStatus = 0;
  errorReason = "";

  constructor(maxHeaderBytes: number, maxBodyBytes: number, maxHeaders: number) {
    this.maxHeaderBytes = maxHeaderBytes;
    this.maxBodyBytes = maxBodyBytes;
    this.fields = new FieldSection(maxHeaders);
  }

  /** Forgets the message, after a complete one or on `reset()`. */
  startMessage(): void {
    this.state = STATE_HEAD;
    this.scanner.reset();
    this.headLength = 0;
    this.messageLength = 0;
    this.minorVersion = 1;
    this.keepAlive = false;
    this.chunked = false;
    this.contentLength = -1;
  }

  /** Forgets the message, any error and the buffer, for a fresh connection. */
  reset(): void {
    this.startMessage();
    this.errorStatus = 0;
    this.errorReason = "";
    this.buf = EMPTY;
    this.base = 0;
  }

  /**
   * Takes the window of this `parse()` call; the state to continue in, {@linkcode STATE_FAILED}
   * (answer {@linkcode PARSE_ERROR}) once refused. The caller starts a new message first when
   * the state was {@linkcode STATE_DONE}.
   */
  resume(buf: Uint8Array, start: number): number {
    // Stryker disable next-line ConditionalExpression: equivalent, the failed state is returned either way; the buffer it would keep is read only by accessors that a failed parser answers empty
    if (this.state === STATE_FAILED) return STATE_FAILED;
    this.buf = buf;
    this.base = start;
    return this.state;
  }

  /**
   * Looks for the end of the head: its length, {@linkcode INCOMPLETE}, or
   * {@linkcode PARSE_ERROR} for a bare LF.
   */
  scanHead(end: number): number {
    const headLength = this.scanner.scan(this.buf, this.base, end);
    if (headLength < 0) return this.fail(400, "bare LF in head");
    return headLength;
  }

  /** Continues with the body after the head: the message length once complete. */
  continueBody(end: number): number {
    const start = this.base;
    switch (this.state) {
      case STATE_CHUNKED_BODY: {
        const body = this.chunkedBody;
        // The header limit also bounds chunk framing: size lines and trailers are head-like.
        const r = body.run(this.buf, start, end, this.maxBodyBytes, this.maxHeaderBytes);
        if (r === BODY_INCOMPLETE) return INCOMPLETE;
        if (r === BODY_ERROR) return this.fail(body.errorStatus, body.errorReason);
        this.messageLength = body.pos;
        break;
      }
      case STATE_UNTIL_CLOSE:
        if (end - start - this.headLength > this.maxBodyBytes) {
          return this.fail(413, "body too large");
        }
        return INCOMPLETE;
      default:
        if (end - start < this.messageLength) return INCOMPLETE;
    }
    this.state = STATE_DONE;
    return this.messageLength;
  }

  /** Refuses the message: the connection must close, so it is no longer kept alive. */
  fail(status: number, reason: string): number {
    this.state = STATE_FAILED;
    this.errorStatus = status;
    this.errorReason = reason;
    this.keepAlive = false;
    return PARSE_ERROR;
  }

  /** {@linkcode ParserCore.fail} for the head parsers, which answer whether they succeeded. */
  failed(status: number, reason: string): false {
    this.fail(status, reason);
    return false;
  }

  get headComplete(): boolean {
    return this.state !== STATE_HEAD && this.state !== STATE_FAILED;
  }

  get bytesNeeded(): number {
    switch (this.state) {
      case STATE_HEAD:
        return this.scanner.scanned + 1;
      case STATE_CHUNKED_BODY:
        return this.chunkedBody.bytesNeeded;
      case STATE_UNTIL_CLOSE:
        return this.headLength + 1;
      default:
        return this.messageLength;
    }
  }

  get version(): number {
    return this.minorVersion === 0 ? 1 : 1.1;
  }

  /** A view on the caller's buffer, the decoded chunked body, or the shared empty body. */
  get body(): Uint8Array {
    if (this.state !== STATE_DONE) return EMPTY;
    if (this.chunked) return this.chunkedBody.body;
    if (this.messageLength === this.headLength) return EMPTY;
    return this.buf.subarray(this.base + this.headLength, this.base + this.messageLength);
  }

  get headerCount(): number {
    return this.headComplete ? this.fields.count : 0;
  }

  header(lowerName: string): string | undefined {
    if (!this.headComplete) return undefined;
    const i = this.fields.find(this.buf, this.base, lowerName);
    return i < 0 ? undefined : this.fields.value(this.buf, this.base, i);
  }

  headerName(index: number): string {
    return this.fields.name(this.buf, this.base, index < this.headerCount ? index : -1);
  }

  headerValue(index: number): string {
    return this.fields.value(this.buf, this.base, index < this.headerCount ? index : -1);
  }

  headers(): [string, string][] {
    return this.headComplete ? this.fields.list(this.buf, this.base) : [];
  }
}
