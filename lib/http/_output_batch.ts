/**
 * The output batch of the connection being served: small responses copied into one buffer,
 * large ones kept by reference, so that every response of a pipelined batch leaves in one `send`
 * (or one `writev` when a large body is passed by reference), through lib/net/write.ts like every
 * other socket write. What the socket does not take is
 * copied into the connection as its pending output.
 *
 * @module
 */

import { sendSome, WritevCursor } from "../net/write.ts";
import { type Conn, F_CLOSE_AFTER } from "./_connection.ts";

/** The batch buffer small responses are copied into. */
const BATCH_BUFFER_SIZE = 64 * 1024;
/** Responses up to this size are copied into the batch buffer; larger ones go by reference. */
const COPY_LIMIT = 16 * 1024;
/** Flush a batch early beyond this many bytes or segments (bounds memory and iovecs). */
const BATCH_BYTES_LIMIT = 1024 * 1024;
const BATCH_SEGMENTS_LIMIT = 256;

/** One per server; it holds the batch of one connection at a time. */
export class OutputBatch {
  // Small responses copied into `#batch`, large ones kept by reference in `#segments` (then the
  // batch leaves in one writev).
  #batch = new Uint8Array(BATCH_BUFFER_SIZE);
  #batchLength = 0;
  #batchRegionStart = 0;
  #batchTotal = 0;
  #single: Uint8Array | null = null;
  #segments: Uint8Array[] = [];
  #cursor = new WritevCursor();
  /** The server's close, for a connection whose write failed. */
  #close: (c: Conn, reset: boolean) => void;

  constructor(close: (c: Conn, reset: boolean) => void) {
    this.#close = close;
  }

  /** Whether the batch should be flushed before more is added (bounds memory and iovecs). */
  get full(): boolean {
    return this.#batchTotal >= BATCH_BYTES_LIMIT || this.#segments.length >= BATCH_SEGMENTS_LIMIT;
  }

  /** Adds a response (or a part of one) to the batch. */
  append(bytes: Uint8Array): void {
    const length = bytes.length;
    if (this.#batchTotal === 0) {
      // Most batches are one response: send it as it is, without a copy.
      this.#single = bytes;
      this.#batchTotal = length;
      return;
    }
    const single = this.#single;
    if (single !== null) {
      this.#single = null;
      this.#place(single);
    }
    this.#place(bytes);
    this.#batchTotal += length;
  }

  #place(bytes: Uint8Array): void {
    const length = bytes.length;
    if (length <= COPY_LIMIT && this.#batchLength + length <= this.#batch.length) {
      this.#batch.set(bytes, this.#batchLength);
      this.#batchLength += length;
      return;
    }
    if (this.#batchLength > this.#batchRegionStart) {
      this.#segments.push(this.#batch.subarray(this.#batchRegionStart, this.#batchLength));
    }
    this.#segments.push(bytes);
    this.#batchRegionStart = this.#batchLength;
  }

  /** Writes the batch; keeps what did not fit as the connection's pending output. */
  flush(c: Conn): void {
    const total = this.#batchTotal;
    if (total === 0) return;
    let written: number;
    const single = this.#single;
    if (c.output !== null || c.sending) {
      // Earlier output still waits for the client: queue behind it, never around it.
      written = 0;
    } else if (single !== null) {
      written = this.#send(c, single as Uint8Array<ArrayBuffer>);
    } else if (this.#segments.length === 0) {
      written = this.#send(c, this.#batch.subarray(0, this.#batchLength));
    } else {
      if (this.#batchLength > this.#batchRegionStart) {
        this.#segments.push(this.#batch.subarray(this.#batchRegionStart, this.#batchLength));
      }
      // One writev step (fewer segments than IOV_MAX by the batch limit); what it leaves is kept.
      this.#cursor.reset();
      written = this.#cursor.step(c.fd, this.#segments as Uint8Array<ArrayBuffer>[]);
    }
    if (written >= 0 && written < total) this.#keepOutput(c, written, total);
    this.#single = null;
    this.#segments.length = 0;
    this.#batchLength = 0;
    this.#batchRegionStart = 0;
    this.#batchTotal = 0;
    if (written < 0) this.#close(c, true);
  }

  /**
   * One contiguous batch: on the ring where the registration sends (io_uring; copied, so the
   * batch buffer is free again at once; its end comes to the server's `onSent`), else send(2).
   * A connection that closes or is taken over after this batch writes it with send(2), so that
   * the close or the takeover follows it at once.
   */
  #send(c: Conn, bytes: Uint8Array<ArrayBuffer>): number {
    const registration = c.registration;
    if (
      registration !== null && registration.sending && c.takeover === null &&
      (c.flags & F_CLOSE_AFTER) === 0 && registration.send(bytes)
    ) {
      c.sending = true;
      return bytes.length;
    }
    return sendSome(c.fd, bytes);
  }

  /** Copies the unwritten part of the batch (from byte `written`) into the connection. */
  #keepOutput(c: Conn, written: number, total: number): void {
    const pending = c.output === null ? 0 : c.output.length - c.outputOffset;
    const rest = new Uint8Array(pending + total - written);
    if (pending > 0) rest.set(c.output!.subarray(c.outputOffset));
    let skip = written;
    let at = pending;
    const take = (piece: Uint8Array): void => {
      if (skip >= piece.length) {
        skip -= piece.length;
        return;
      }
      const part = skip > 0 ? piece.subarray(skip) : piece;
      skip = 0;
      rest.set(part, at);
      at += part.length;
    };
    if (this.#single !== null) take(this.#single);
    else if (this.#segments.length === 0) take(this.#batch.subarray(0, this.#batchLength));
    else for (const piece of this.#segments) take(piece);
    c.output = rest;
    c.outputOffset = 0;
  }
}
