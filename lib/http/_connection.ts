/**
 * One accepted connection of {@linkcode serveHttp}, and what its state and flags mean. A
 * connection is deliberately small: no buffers, closures or timers while idle.
 *
 * @module
 */

import type { Registration } from "../reactor/mod.ts";
import type { RequestParser } from "./request_parser.ts";

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

// Connection flags.
/** Close once the output is flushed (no keep-alive). */
export const F_CLOSE_AFTER = 1;
/** ... after shutting the write side and draining input (framing errors). */
export const F_LINGER = 2;
/** The peer finished sending. */
export const F_EOF = 4;
/** 100 Continue sent for the current request. */
export const F_CONTINUE_SENT = 8;

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

  constructor(fd: number) {
    this.fd = fd;
  }
}
