/**
 * How the server core takes input from its connections: on readiness (`recv` into one shared
 * buffer, at most {@linkcode READS_PER_WAKE} times a wake-up), or as data the reactor received
 * itself (io_uring). Input that arrives while a connection is not reading (a handler runs, output
 * waits, a takeover starts) is kept as the connection's tail; an EOF is remembered until what
 * came before it is answered. What to do with the input is the server's ({@linkcode ReaderHost}).
 *
 * @module
 */

import { MSG_PEEK } from "../../ffi/constants.ts";
import { EAGAIN, EINTR } from "../../ffi/errno.ts";
import { sysRecv } from "../../ffi/libc.ts";
import { Interest, Ready } from "../reactor/interest.ts";
import type { Registration } from "../reactor/registration.ts";
import {
  appendTail,
  type Conn,
  F_CLOSE_AFTER,
  F_EOF,
  S_HANDLER,
  S_LINGER,
  setInterest,
  tellGone,
} from "./_connection.ts";

const READ_BUFFER_SIZE = 64 * 1024;
/** Reads per wake-up for one connection (fairness: libuv reads at most 32 times). */
const READS_PER_WAKE = 16;
/** Input kept while a connection is not reading, past which receiving pauses. */
const PAUSE_RECEIVING_AT = READ_BUFFER_SIZE;
/** A peeked byte: whether a connection that is not being read has data or an EOF waiting. */
const PEEK = new Uint8Array(1);

/** What the reader asks of the server. */
export interface ReaderHost {
  /** The live connection registered as `registration`, if any. */
  conn(registration: Registration): Conn | undefined;
  /** Parses and answers the requests in `buf[0, end)`; keeps the rest. */
  serve(c: Conn, buf: Uint8Array<ArrayBuffer>, end: number): void;
  /** Writes the connection's pending output (it became writable). */
  writePending(c: Conn): void;
  close(c: Conn, reset?: boolean): void;
  report(error: unknown): void;
}

/** One per server: the callbacks of every connection's registration. */
export class Reader {
  #host: ReaderHost;
  #readBuffer = new Uint8Array(READ_BUFFER_SIZE);

  constructor(host: ReaderHost) {
    this.#host = host;
  }

  /** Readiness of a connection. */
  onReady = (ready: number, registration: Registration): void => {
    const host = this.#host;
    const c = host.conn(registration);
    if (c === undefined) return;
    try {
      if (c.output !== null) {
        // Reading is paused while output waits: only writability (or an error) matters.
        if (ready & (Ready.WRITABLE | Ready.WRITE_CLOSED | Ready.ERROR)) host.writePending(c);
      } else if (c.state === S_HANDLER) {
        this.#whileHandling(c, ready);
      } else if (c.state === S_LINGER) {
        this.#drainLinger(c);
      } else {
        this.#read(c);
      }
    } catch (error) {
      host.report(error);
      host.close(c, true);
    }
  };

  /**
   * Data received by the reactor itself (io_uring: a multishot recv into provided buffers),
   * in place of READABLE readiness and #read's recv. While the connection is not reading (a
   * handler runs, output waits, a takeover starts), what arrives is kept as the tail, as the
   * kernel would keep it; past {@linkcode PAUSE_RECEIVING_AT} receiving pauses.
   */
  onData = (data: Uint8Array<ArrayBuffer>, n: number, registration: Registration): void => {
    const host = this.#host;
    const c = host.conn(registration);
    if (c === undefined) return;
    try {
      if (n <= 0) {
        this.#receivedEnd(c, n);
      } else if (c.state === S_LINGER) {
        // Discarded until the client closes.
      } else if (c.output !== null || c.state === S_HANDLER || c.takeover !== null) {
        appendTail(c, data, n);
        if (c.length >= PAUSE_RECEIVING_AT) {
          setInterest(c, registration.interest & ~Interest.READABLE);
        }
      } else if (c.buffer === null) {
        host.serve(c, data, n);
      } else {
        appendTail(c, data, n);
        host.serve(c, c.buffer!, c.length);
      }
    } catch (error) {
      host.report(error);
      host.close(c, true);
    }
  };

  /** A receive ended: EOF (0) or an error (-errno). */
  #receivedEnd(c: Conn, n: number): void {
    if (n < 0 || c.state === S_LINGER) {
      this.#host.close(c, n < 0);
      return;
    }
    if (c.state === S_HANDLER && c.length === 0 && c.output === null) {
      // As #whileHandling: the handler is told; the answer still goes out, then the close.
      c.flags |= F_EOF | F_CLOSE_AFTER;
      tellGone(c, this.#host.report);
    } else if (c.output !== null || c.state === S_HANDLER || c.takeover !== null) {
      c.flags |= F_EOF; // what came before is answered first, then the connection closes
    } else {
      this.#onEof(c);
    }
  }

  /**
   * Readiness while a handler runs. Errors and hang-ups (always reported): the client is gone.
   * Readable: the connection stays polled for reading while a handler runs (no epoll_ctl per
   * request); the first event tells an EOF (the client went away: its handler is told) from
   * pipelined input, which waits unpolled until the handler is done.
   */
  #whileHandling(c: Conn, ready: number): void {
    if (ready & (Ready.ERROR | Ready.WRITE_CLOSED)) {
      this.#host.close(c, true);
      return;
    }
    if ((ready & Ready.READABLE) === 0) return;
    const n = sysRecv(c.fd, PEEK, MSG_PEEK);
    if (n === -EAGAIN || n === -EINTR) return;
    if (n < 0) {
      this.#host.close(c, true);
      return;
    }
    if (n === 0 && c.length === 0) {
      // The client finished sending (FIN) with nothing pipelined: its handler is told, as
      // Deno.serve aborts `request.signal`, but a half-closed client may still read: the answer
      // still goes out, then the connection closes. (With requests pipelined before the FIN,
      // they are answered first and the EOF is read after them.)
      c.flags |= F_EOF | F_CLOSE_AFTER;
      tellGone(c, this.#host.report);
    }
    setInterest(c, 0);
  }

  #read(c: Conn): void {
    const host = this.#host;
    const buf = this.#readBuffer;
    for (let i = 0; i < READS_PER_WAKE; i++) {
      const n = sysRecv(c.fd, buf, 0);
      if (n > 0) {
        if (c.buffer === null) {
          host.serve(c, buf, n);
        } else {
          appendTail(c, buf, n);
          host.serve(c, c.buffer!, c.length);
        }
        // Stop when the socket is drained (level-triggered: more is reported again), or the
        // connection stopped reading.
        if (n < buf.length || c.fd < 0 || c.output !== null || c.state >= S_HANDLER) return;
        continue;
      }
      if (n === 0) {
        this.#onEof(c);
        return;
      }
      if (n === -EAGAIN) return;
      if (n === -EINTR) continue;
      host.close(c, true);
      return;
    }
  }

  #onEof(c: Conn): void {
    c.flags |= F_EOF;
    // Complete requests were all answered; a partial one can never complete.
    this.#host.close(c);
  }

  /** Reads and discards input until the client closes (after a framing error's reply). */
  #drainLinger(c: Conn): void {
    const buf = this.#readBuffer;
    for (let i = 0; i < READS_PER_WAKE; i++) {
      const n = sysRecv(c.fd, buf, 0);
      if (n === -EAGAIN) return;
      if (n === -EINTR || n > 0) continue;
      this.#host.close(c); // EOF or an error: the client has what we sent
      return;
    }
  }
}
