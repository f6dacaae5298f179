/**
 * The chunked transfer coding, decoded incrementally (RFC 9112 7.1): one decoder per parser,
 * shared by requests and responses.
 *
 * @module
 */

import {
  COLON,
  CR,
  EMPTY,
  FIELD_VCHAR,
  HEX,
  HEXADECIMAL,
  HTAB,
  LF,
  SEMICOLON,
  SP,
  TCHAR,
} from "./_bytes.ts";

/** `run()` result: the body and its trailer section are complete. */
export const BODY_DONE = 1;
/** `run()` result: more bytes are needed. */
export const BODY_INCOMPLETE = 0;
/** `run()` result: malformed or over a limit; `errorStatus` and `errorReason` say why. */
export const BODY_ERROR = -1;

const LINE_INCOMPLETE = -1;
const LINE_ERROR = -2;
const CRLF_LENGTH = 2;
/** Smallest decoded-data buffer: V8 keeps typed arrays of up to 64 bytes on its heap. */
const MIN_CAPACITY = 16;

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
export class ChunkedBody {
  /** Cursor, relative to the message start. */
  pos = 0;
  state = CHUNK_SIZE_LINE;
  remaining = 0;
  /** Where the search for the current line's LF resumes, relative to the message start. */
  lineScan = 0;
  data: Uint8Array = EMPTY;
  length = 0;
  overhead = 0;
  /** Data handed out by {@linkcode ChunkedBody.takeData} (streaming); the limits still count it. */
  taken = 0;
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
    this.taken = 0;
  }

  /**
   * Streaming: hands out the data decoded so far and forgets it (the body limit and the framing
   * bound keep counting it). The result stays valid: the next data goes to a fresh buffer.
   */
  takeData(): Uint8Array {
    const out = this.data.subarray(0, this.length);
    this.taken += this.length;
    this.data = EMPTY;
    this.length = 0;
    return out;
  }

  /** Streaming: the caller dropped the first `n` bytes of its window (all before `pos`). */
  shift(n: number): void {
    this.pos -= n;
    this.lineScan -= n;
  }

  get body(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  /** Message bytes (from its start) needed before `run()` can progress. */
  get bytesNeeded(): number {
    return this.pos + (this.state === CHUNK_DATA ? this.remaining : 1);
  }

  #fail(status: number, reason: string): number {
    this.errorStatus = status;
    this.errorReason = reason;
    return BODY_ERROR;
  }

  /**
   * Absolute index of the LF ending the line at `p`; LINE_INCOMPLETE, or LINE_ERROR (the error
   * already recorded).
   */
  #lineEnd(buf: Uint8Array, base: number, p: number, end: number, maxLine: number): number {
    let i = Math.max(p, base + this.lineScan);
    for (; i < end; i++) {
      if (buf[i] !== LF) continue;
      if (i === p || buf[i - 1] !== CR) {
        this.#fail(400, "bare LF in chunked body");
        return LINE_ERROR;
      }
      break;
    }
    // Judged on the bytes seen so far, so a line gets the same answer whole or in pieces.
    if (i - p > maxLine) {
      this.#fail(400, "chunk line too long");
      return LINE_ERROR;
    }
    if (i < end) return i;
    this.lineScan = end - base;
    return LINE_INCOMPLETE;
  }

  #ensureCapacity(needed: number, maxBody: number): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, growing when not needed only copies the data into a bigger buffer
    if (needed <= this.data.length) return;
    // Start at the first chunk's size: small bodies stay small allocations (V8 keeps typed
    // arrays of up to 64 bytes on its heap), big ones double as they grow.
    // Stryker disable next-line ArithmeticOperator: equivalent, the loop below doubles a smaller start until it holds `needed`
    let capacity = Math.max(this.data.length * 2, MIN_CAPACITY);
    // Stryker disable next-line EqualityOperator: equivalent, one more doubling only makes the buffer bigger (still bounded by maxBody)
    while (capacity < needed) capacity *= 2;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, either capacity holds `needed`; only the allocation size differs
    if (this.data.length === 0) capacity = Math.max(needed, MIN_CAPACITY);
    // Stryker disable next-line MethodExpression: equivalent, needed <= maxBody (size checked against it) and capacity >= needed, so both give a buffer that holds `needed`
    const grown = new Uint8Array(Math.min(capacity, Math.max(maxBody, needed)));
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  /** BODY_DONE, BODY_INCOMPLETE when more bytes are needed, or BODY_ERROR. */
  run(buf: Uint8Array, base: number, end: number, maxBody: number, maxOverhead: number): number {
    let p = base + this.pos;
    for (;;) {
      switch (this.state) {
        case CHUNK_SIZE_LINE: {
          const lf = this.#lineEnd(buf, base, p, end, maxOverhead);
          if (lf === LINE_ERROR) return BODY_ERROR;
          if (lf === LINE_INCOMPLETE) {
            this.pos = p - base;
            return BODY_INCOMPLETE;
          }
          let i = p;
          let size = 0;
          for (let h = HEX[buf[i]!]!; h >= 0; h = HEX[buf[++i]!]!) {
            size = size * HEXADECIMAL + h;
            if (size > maxBody - this.taken - this.length) {
              return this.#fail(413, "body too large");
            }
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
          if (this.overhead > maxOverhead + this.taken + this.length) {
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
          // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, copying 0 bytes changes nothing (ensureCapacity(length) returns at once)
          if (take > 0) {
            this.#ensureCapacity(this.length + take, maxBody);
            this.data.set(buf.subarray(p, p + take), this.length);
            this.length += take;
            this.remaining -= take;
            p += take;
          }
          if (this.remaining > 0) {
            this.pos = p - base;
            return BODY_INCOMPLETE;
          }
          this.state = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END: {
          if (end - p < CRLF_LENGTH) {
            if (end > p && buf[p] !== CR) return this.#fail(400, "missing CRLF after chunk data");
            this.pos = p - base;
            return BODY_INCOMPLETE;
          }
          if (buf[p] !== CR || buf[p + 1] !== LF) {
            return this.#fail(400, "missing CRLF after chunk data");
          }
          p += CRLF_LENGTH;
          this.overhead += CRLF_LENGTH;
          this.lineScan = p - base;
          this.state = CHUNK_SIZE_LINE;
          break;
        }
        case CHUNK_TRAILER: {
          const lf = this.#lineEnd(buf, base, p, end, maxOverhead);
          if (lf === LINE_ERROR) return BODY_ERROR;
          if (lf === LINE_INCOMPLETE) {
            this.pos = p - base;
            return BODY_INCOMPLETE;
          }
          const last = lf === p + 1; // the empty line ending the trailer section
          if (!last) {
            let q = p;
            while (TCHAR[buf[q]!] === 1) q++;
            if (q === p || buf[q] !== COLON) return this.#fail(400, "invalid trailer field");
            // Stryker disable next-line UpdateOperator: equivalent, the name and the colon before are field-value bytes too, so the scan stops at the same byte
            q++;
            while (FIELD_VCHAR[buf[q]!] === 1) q++;
            if (q !== lf - 1) return this.#fail(400, "invalid trailer field");
          }
          this.overhead += lf + 1 - p;
          if (this.overhead > maxOverhead + this.taken + this.length) {
            return this.#fail(400, "too much chunk framing");
          }
          p = lf + 1;
          this.lineScan = p - base;
          if (last) {
            this.state = CHUNK_DONE;
            this.pos = p - base;
            return BODY_DONE;
          }
          break;
        }
        default:
          this.pos = p - base;
          return BODY_DONE;
      }
    }
  }
}
