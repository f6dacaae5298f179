/**
 * One accepted connection of {@linkcode serveHttp}, and what its state and flags mean. A
 * connection is deliberately small: no buffers, closures or timers while idle.
 *
 * @module
 */

import type { TcpStream } from "../net/stream.ts";
import { Interest } from "../reactor/interest.ts";
import type { Registration } from "../reactor/mod.ts";
import type { RequestParser } from "./request_parser.ts";
import type { Takeover } from "./_takeover.ts";

const EMPTY_INPUT = new Uint8Array(0);
/** Smallest buffer a connection keeps for the unparsed tail of a request. */
export const MIN_TAIL_BUFFER = 1024;

// Connection states (what the deadline means).
/** Waiting for (the rest of) a request head: header deadline. */
export const S_HEAD = 0;
/** Between requests: idle deadline. */
export const S_IDLE = 1;
/** Head parsed, body arriving: idle deadline, renewed by each read. */
export const S_BODY = 2;
/** An async handler is running: no deadline, no reading. */
export const S_HANDLER = 3;
/** Reply sent, write side shut, draining input until EOF or the deadline. */
export const S_LINGER = 4;
/** A {@linkcode Takeover} owns the connection (as a TcpStream): no deadline, no polling here. */
export const S_TAKEN = 5;

// Connection flags.
/** Close once the output is flushed (no keep-alive). */
export const F_CLOSE_AFTER = 1;
/** ... after shutting the write side and draining input (framing errors). */
export const F_LINGER = 2;
/** The peer finished sending. */
export const F_EOF = 4;
/** 100 Continue sent for the current request. */
export const F_CONTINUE_SENT = 8;
/** The pending takeover reads the request's body: input kept meanwhile is its start. */
export const F_BODY_TAKEOVER = 16;

/** One accepted connection: deliberately small (no buffers or closures while idle). */
export class Conn {
  fd: number;
  registration: Registration | null = null;
  /** Index in the server's list of live connections and in its deadlines. */
  slot = 0;
  state = S_HEAD;
  flags = 0;
  /** Unparsed bytes `[0, length)`: part of a request, or requests held back. */
  buffer: Uint8Array<ArrayBuffer> | null = null;
  length = 0;
  /** The parser holding the progress of a partly received request. */
  parser: RequestParser | null = null;
  /** Output not yet written, from `outputOffset`. */
  output: Uint8Array<ArrayBuffer> | null = null;
  outputOffset = 0;
  /**
   * A send on the ring is in flight (io_uring): the connection goes on reading, but more output
   * waits behind it, in `output`, until its end.
   */
  sending = false;
  /** While a takeover runs: the stream that owns the descriptor. */
  stream: TcpStream | null = null;
  /** A takeover waiting for earlier output to drain. */
  takeover: Takeover | null = null;
  /** Told once when the client goes away (EOF, reset) or the connection closes. */
  onGone: { gone(): void } | null = null;
  /** Responses appended to output so far, and how many of them are fully written. */
  responses = 0;
  written = 0;
  /**
   * Called as responses leave: with true when every response appended so far is written (a
   * callback answers whether it is done: its own response may come later), with false when the
   * connection closes first.
   */
  onWritten: ((ok: boolean) => boolean)[] | null = null;
  /** The bytes a waiting takeover gets first (the start of a streamed request body). */
  takeoverInput: Uint8Array<ArrayBuffer> = EMPTY_INPUT;

  constructor(fd: number) {
    this.fd = fd;
  }
}

/** Appends `data[0, n)` to the connection's kept input, growing its buffer (made if none). */
export function appendTail(c: Conn, data: Uint8Array, n: number): void {
  let buffer = c.buffer;
  if (buffer === null) {
    c.buffer = buffer = new Uint8Array(n < MIN_TAIL_BUFFER ? MIN_TAIL_BUFFER : n);
    c.length = 0;
  }
  const needed = c.length + n;
  if (needed > buffer.length) {
    let capacity = buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(buffer.subarray(0, c.length));
    c.buffer = buffer = grown;
  }
  buffer.set(n === data.length ? data : data.subarray(0, n), c.length);
  c.length = needed;
}

/** Changes what the connection's registration waits for (no syscall when it is unchanged). */
export function setInterest(c: Conn, interest: number): void {
  const registration = c.registration!;
  if (registration.interest !== interest) registration.modify(interest);
}

/**
 * Output waits: for writability, or, behind a send on the ring, for that send's end (then
 * nothing is polled); reading stops meanwhile.
 */
export function waitToWrite(c: Conn): void {
  setInterest(c, c.sending ? 0 : Interest.WRITABLE);
}

/** Every response appended so far has been written: tells whoever waits for that. */
export function notifyWritten(c: Conn): void {
  c.written = c.responses;
  const waiting = c.onWritten;
  if (waiting === null) return;
  c.onWritten = null;
  let keep: ((ok: boolean) => boolean)[] | null = null;
  for (const done of waiting) if (!done(true)) (keep ??= []).push(done);
  if (keep !== null) (c.onWritten ??= []).push(...keep);
}

/** Tells the connection's `onGone` (once) that the client went away; `report` gets its error. */
export function tellGone(c: Conn, report: (error: unknown) => void): void {
  const onGone = c.onGone;
  if (onGone === null) return;
  c.onGone = null;
  try {
    onGone.gone();
  } catch (error) {
    report(error);
  }
}
