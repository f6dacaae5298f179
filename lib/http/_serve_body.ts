/**
 * Bodies that stream over a connection a `serve()` exchange has taken: the request body read
 * and de-framed as the handler pulls it ({@linkcode BodyReader}), and a response body written
 * with Content-Length, chunked, or until close ({@linkcode writeBody}), with backpressure.
 *
 * @module
 */

import type { TcpStream } from "../net/stream.ts";
import { ascii, EMPTY } from "./_bytes.ts";
import { BODY_DONE, BODY_ERROR, ChunkedBody } from "./_chunked.ts";
import { CONTINUE_RESPONSE } from "./serializer.ts";

/** Bytes read from the socket per call while a request body streams. */
const READ_SIZE = 64 * 1024;
/** A response's pieces are gathered up to this much (or this many) before one writev. */
const GATHER_BYTES = 64 * 1024;
const GATHER_PIECES = 64;
const CRLF = ascii("\r\n");
const LAST_CHUNK = ascii("0\r\n\r\n");
const HEX = 16;

/** A request body over the limit (the server answers 413 when nothing was sent yet). */
export class BodyTooLargeError extends RangeError {
  /** The status the server answers with. */
  readonly status = 413;
  /** @param limit the configured `maxBodyBytes` */
  constructor(limit: number) {
    super(`request body larger than maxBodyBytes (${limit})`);
    this.name = "BodyTooLargeError";
  }
}

/** A malformed chunked request body (the server answers 400 when nothing was sent yet). */
export class BodyFramingError extends TypeError {
  /** The status the server answers with. */
  readonly status: number;
  /** @param status 400 or 413 @param reason what was wrong */
  constructor(status: number, reason: string) {
    super(`malformed request body: ${reason}`);
    this.name = "BodyFramingError";
    this.status = status;
  }
}

/** How a streamed request body is framed. */
export interface BodyFraming {
  /** Content-Length, or -1 for chunked. */
  length: number;
  maxBodyBytes: number;
  maxFramingBytes: number;
  /** Send `100 Continue` before the first read from the socket. */
  expectContinue: boolean;
  /** Bytes read per `read()` call are bounded by this signal's life (idle timeout). */
  idleTimeoutMs: number;
}

/**
 * The request body of a taken connection: `next()` gives decoded body bytes as they arrive,
 * `null` at the end; `rest` holds what was read past the body (the next pipelined request).
 */
export class BodyReader {
  #stream: TcpStream;
  #framing: BodyFraming;
  /** Content-Length: bytes of body still to come. */
  #remaining: number;
  #chunked: ChunkedBody | null = null;
  /** Chunked: the undecoded window. */
  #window: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #windowLength = 0;
  #input: Uint8Array;
  #done = false;
  #continueSent = false;
  /** Whether anything of the response has been written (then no interim or error status). */
  responseStarted = false;
  /** Bytes read past the end of the body. */
  rest: Uint8Array = EMPTY;
  /** Body bytes handed out so far. */
  received = 0;
  /** The body's framing or size error, once seen (the server answers it if it still can). */
  error: BodyTooLargeError | BodyFramingError | undefined;

  constructor(stream: TcpStream, input: Uint8Array, framing: BodyFraming) {
    this.#stream = stream;
    this.#framing = framing;
    this.#input = input;
    this.#remaining = framing.length;
    if (framing.length < 0) {
      this.#chunked = new ChunkedBody();
      this.#chunked.reset(0);
    }
  }

  /** Whether the whole body has been read. */
  get done(): boolean {
    return this.#done;
  }

  /** The next decoded bytes, or null at the end of the body. */
  async next(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    if (this.error !== undefined) throw this.error;
    try {
      return this.#chunked === null ? await this.#nextLength() : await this.#nextChunked();
    } catch (error) {
      if (error instanceof BodyTooLargeError || error instanceof BodyFramingError) {
        this.error = error;
      }
      throw error;
    }
  }

  /**
   * Reads and drops what is left of the body, up to `limit` bytes; true when the body ended
   * (the connection can serve its next request), false when it was too much to drain.
   */
  async drain(limit: number): Promise<boolean> {
    // A client waiting for 100 Continue that never came will not send the body.
    if (this.#framing.expectContinue && !this.#continueSent) return false;
    let dropped = 0;
    for (;;) {
      const piece = await this.next();
      if (piece === null) return true;
      dropped += piece.length;
      if (dropped > limit) return false;
    }
  }

  async #read(): Promise<Uint8Array | null> {
    if (this.#input.length > 0) {
      const input = this.#input;
      this.#input = EMPTY;
      return input;
    }
    if (this.#framing.expectContinue && !this.#continueSent && !this.responseStarted) {
      // RFC 9110 10.1.1: the client waits for this before sending the body.
      this.#continueSent = true;
      await this.#stream.writeAll(CONTINUE_RESPONSE);
    }
    const buf = new Uint8Array(READ_SIZE);
    const idle = this.#framing.idleTimeoutMs;
    const n = await this.#stream.read(
      buf,
      idle > 0 ? { signal: AbortSignal.timeout(idle) } : {},
    );
    if (n === null) return null;
    return buf.subarray(0, n);
  }

  async #nextLength(): Promise<Uint8Array | null> {
    if (this.#remaining === 0) {
      this.#done = true;
      return null;
    }
    const bytes = await this.#read();
    if (bytes === null) throw new Deno.errors.UnexpectedEof("the request body ended early");
    if (bytes.length > this.#remaining) {
      this.rest = bytes.slice(this.#remaining);
      const body = bytes.subarray(0, this.#remaining);
      this.#remaining = 0;
      this.received += body.length;
      return body;
    }
    this.#remaining -= bytes.length;
    this.received += bytes.length;
    return bytes;
  }

  async #nextChunked(): Promise<Uint8Array | null> {
    const decoder = this.#chunked!;
    const framing = this.#framing;
    for (;;) {
      const bytes = await this.#read();
      if (bytes === null) throw new Deno.errors.UnexpectedEof("the request body ended early");
      this.#append(bytes);
      const r = decoder.run(
        this.#window,
        0,
        this.#windowLength,
        framing.maxBodyBytes,
        framing.maxFramingBytes,
      );
      if (r === BODY_ERROR) {
        if (decoder.errorStatus === 413) throw new BodyTooLargeError(framing.maxBodyBytes);
        throw new BodyFramingError(decoder.errorStatus, decoder.errorReason);
      }
      const data = decoder.takeData();
      const used = decoder.pos;
      if (r === BODY_DONE) {
        this.rest = this.#window.slice(used, this.#windowLength);
        this.#windowLength = 0;
        // From here next() goes the Content-Length way with nothing left: the end.
        this.#chunked = null;
        this.#remaining = 0;
        if (data.length === 0) {
          this.#done = true;
          return null;
        }
        this.received += data.length;
        return data;
      }
      // Keep only what the decoder has not consumed.
      this.#window.copyWithin(0, used, this.#windowLength);
      this.#windowLength -= used;
      decoder.shift(used);
      if (data.length > 0) {
        this.received += data.length;
        return data;
      }
    }
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#windowLength + bytes.length;
    if (needed > this.#window.length) {
      const grown = new Uint8Array(Math.max(needed, this.#window.length * 2, 1024));
      grown.set(this.#window.subarray(0, this.#windowLength));
      this.#window = grown;
    }
    this.#window.set(bytes, this.#windowLength);
    this.#windowLength = needed;
  }
}

/** How a response body is framed on the wire. */
export const FRAME_LENGTH = 0;
/** Chunked transfer coding (HTTP/1.1, unknown length). */
export const FRAME_CHUNKED = 1;
/** Until the connection closes (HTTP/1.0, unknown length). */
export const FRAME_CLOSE = 2;

const PENDING = Symbol("pending");
const pending = Promise.resolve(PENDING);
const CR = 0x0d;
const LF = 0x0a;
/** Hex digits, for chunk size lines written straight into the staging buffer. */
const HEX_DIGITS = ascii("0123456789abcdef");
/** Room for a chunk size line: 13 hex digits (2^53) and CRLF, and the CRLF after the data. */
const CHUNK_FRAMING = 13 + 2 + 2;
/** Chunks up to this size are copied into the staging buffer; larger ones go by reference. */
const COPY_LIMIT = 8 * 1024;

/**
 * The pieces of the next write: small chunks and their framing copied into one staging buffer
 * (a copy costs less than an iovec entry, whose pointer Deno must look up), large chunks kept by
 * reference between staged regions. What leaves is one send or one writev.
 */
class Gather {
  #stage = new Uint8Array(GATHER_BYTES + CHUNK_FRAMING + COPY_LIMIT);
  #length = 0;
  /** Start of the staged region not yet in `#pieces`. */
  #regionStart = 0;
  #pieces: Uint8Array[] = [];
  /** Bytes gathered (staged and by reference). */
  bytes = 0;

  get full(): boolean {
    return this.bytes >= GATHER_BYTES || this.#pieces.length >= GATHER_PIECES ||
      this.#length + CHUNK_FRAMING + COPY_LIMIT > this.#stage.length;
  }

  /** Stages `bytes` (copied) or keeps it by reference. */
  add(bytes: Uint8Array): void {
    if (bytes.length <= COPY_LIMIT && this.#length + bytes.length <= this.#stage.length) {
      this.#stage.set(bytes, this.#length);
      this.#length += bytes.length;
    } else {
      this.#cut();
      this.#pieces.push(bytes);
    }
    this.bytes += bytes.length;
  }

  /** The size line of a chunk (hex, CRLF), written into the staging buffer. */
  chunkHead(size: number): void {
    const stage = this.#stage;
    let digits = 1;
    for (let v = size; v >= HEX; v = Math.floor(v / HEX)) digits++;
    let at = this.#length + digits;
    for (let v = size, i = 0; i < digits; i++, v = Math.floor(v / HEX)) {
      stage[--at] = HEX_DIGITS[v % HEX]!;
    }
    at = this.#length + digits;
    stage[at++] = CR;
    stage[at++] = LF;
    this.bytes += at - this.#length;
    this.#length = at;
  }

  /** Ends the staged region: what follows goes after a by-reference piece. */
  #cut(): void {
    if (this.#length > this.#regionStart) {
      this.#pieces.push(this.#stage.subarray(this.#regionStart, this.#length));
    }
    this.#regionStart = this.#length;
  }

  /** Writes everything gathered (waiting while the socket is full), then starts over. */
  async flush(stream: TcpStream): Promise<void> {
    this.#cut();
    const pieces = this.#pieces;
    if (pieces.length === 1) await stream.writeAll(pieces[0]!);
    else if (pieces.length > 1) await stream.writev(pieces);
    pieces.length = 0;
    this.#length = 0;
    this.#regionStart = 0;
    this.bytes = 0;
  }
}

/**
 * Writes a response head and its body stream (after `prefix`, chunks already read). Chunks that
 * are already queued are gathered and leave together; a slow socket stops the pulls
 * (backpressure: nothing is read while a write waits). Returns the body bytes written. With
 * FRAME_LENGTH, a body that does not match `length` throws.
 */
export async function writeBody(
  stream: TcpStream,
  head: Uint8Array,
  prefix: readonly Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
  framing: number,
  length: number,
): Promise<number> {
  const gather = new Gather();
  gather.add(head);
  let sent = 0;
  const add = (value: Uint8Array): void => {
    sent += value.length;
    if (framing === FRAME_LENGTH && sent > length) {
      throw new RangeError(`the response body is longer than its Content-Length (${length})`);
    }
    if (framing === FRAME_CHUNKED) {
      gather.chunkHead(value.length);
      gather.add(value);
      gather.add(CRLF);
    } else {
      gather.add(value);
    }
  };
  for (const value of prefix) if (value.length > 0) add(value);
  for (;;) {
    const next = reader.read();
    // Gather what is already queued; write before waiting for more.
    let result = await Promise.race([next, pending]);
    if (result === PENDING) {
      await gather.flush(stream);
      result = await next;
    }
    const { done, value } = result as ReadableStreamReadResult<Uint8Array>;
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      throw new TypeError("a response body stream must yield Uint8Array chunks");
    }
    if (value.length === 0) continue;
    add(value);
    if (gather.full) await gather.flush(stream);
  }
  if (framing === FRAME_CHUNKED) gather.add(LAST_CHUNK);
  await gather.flush(stream);
  if (framing === FRAME_LENGTH && sent !== length) {
    throw new RangeError(
      `the response body is shorter (${sent} bytes) than its Content-Length (${length})`,
    );
  }
  return sent;
}
