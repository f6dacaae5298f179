/**
 * How the server core hands a connection to a {@linkcode Takeover} (serve()'s streamed bodies,
 * upgrades, responses that stream): once earlier output has left, the descriptor is deregistered
 * and wrapped in a TcpStream with the input read for it; the takeover's answer decides whether
 * the connection comes back for the next requests, is closed, or is no longer the server's.
 *
 * @module
 */

import { sysClose } from "../../ffi/libc.ts";
import { detachStream, TcpStream } from "../net/stream.ts";
import type { Reactor } from "../reactor/reactor.ts";
import type { Registration } from "../reactor/registration.ts";
import { EMPTY } from "./_bytes.ts";
import {
  appendTail,
  type Conn,
  F_BODY_TAKEOVER,
  F_CLOSE_AFTER,
  notifyWritten,
  S_HANDLER,
  S_IDLE,
  S_TAKEN,
  waitToWrite,
} from "./_connection.ts";
import type { ConnectionTable } from "./_connection_table.ts";
import { TAKEOVER } from "./_takeover.ts";

/** What takeovers ask of the server. */
export interface TakeoverHost {
  readonly reactor: Reactor;
  readonly table: ConnectionTable;
  /** Whether connections keep the process alive. */
  readonly refd: boolean;
  /** Whether a shutdown has begun. */
  readonly draining: boolean;
  /** Registers a connection's descriptor for reading (as at accept). */
  register(fd: number): Registration;
  /** Serves what the connection holds, or waits for its next request. */
  resume(c: Conn): void;
  /** Drops the connection's kept input and parser. */
  dropTail(c: Conn): void;
  close(c: Conn, reset?: boolean): void;
  /** Drops a connection whose descriptor is closed or no longer the server's. */
  forget(c: Conn, fd: number): void;
  report(error: unknown): void;
}

/** One per server: begins and ends the takeovers of its connections. */
export class Takeovers {
  #host: TakeoverHost;

  constructor(host: TakeoverHost) {
    this.#host = host;
  }

  /**
   * Hands the connection to `c.takeover` as a TcpStream, once earlier output has left. The
   * descriptor is deregistered here; the takeover's answer decides whether it comes back.
   */
  begin(c: Conn): void {
    const host = this.#host;
    if (c.output !== null || c.sending) {
      // Earlier responses first: the server's writing starts the takeover once they are out.
      c.state = S_HANDLER;
      waitToWrite(c);
      return;
    }
    // What the reactor received and not yet handed over is kept first (io_uring).
    c.registration?.drainReceived();
    const takeover = c.takeover!;
    let input = c.takeoverInput;
    if ((c.flags & F_BODY_TAKEOVER) !== 0 && c.length > 0) {
      // Received while the takeover was pending: more of the body it reads (other takeovers
      // leave the input kept for the requests after them).
      const joined = new Uint8Array(input.length + c.length);
      joined.set(input);
      joined.set(c.buffer!.subarray(0, c.length), input.length);
      input = joined;
      host.dropTail(c);
    }
    c.takeover = null;
    c.takeoverInput = EMPTY;
    c.flags &= ~F_BODY_TAKEOVER;
    c.registration?.deregister();
    c.registration = null;
    c.state = S_TAKEN;
    host.table.setDeadline(c, 0);
    const stream = new TcpStream(c.fd, host.reactor);
    if (!host.refd) stream.unref();
    c.stream = stream;
    let done: Promise<Uint8Array | null | undefined>;
    try {
      done = takeover[TAKEOVER](stream, input);
    } catch (error) {
      done = Promise.reject(error);
    }
    done.then(
      (rest) => this.#done(c, stream, rest),
      (error) => {
        host.report(error);
        if (c.stream === stream) host.close(c, true);
      },
    );
  }

  /** The takeover is over: take the descriptor back for the next requests, or forget it. */
  #done(c: Conn, stream: TcpStream, rest: Uint8Array | null | undefined): void {
    const host = this.#host;
    if (c.stream !== stream) return; // the server closed it meanwhile (shutdown timeout)
    if (rest === null) {
      // The exchange failed (its response was not all written).
      host.close(c, true);
      return;
    }
    c.responses++;
    notifyWritten(c);
    if (rest === undefined || stream.closed) {
      // The takeover closed the stream or handed it on (an upgrade): no longer ours.
      c.stream = null;
      host.forget(c, c.fd);
      return;
    }
    if ((c.flags & F_CLOSE_AFTER) !== 0 || host.draining) {
      host.close(c);
      return;
    }
    c.stream = null;
    const fd = detachStream(stream);
    try {
      c.registration = host.register(fd);
    } catch (error) {
      host.report(error);
      sysClose(fd);
      host.forget(c, fd);
      return;
    }
    c.state = S_IDLE;
    // After any input kept from before the takeover.
    if (rest.length > 0) appendTail(c, rest, rest.length);
    host.resume(c);
  }
}
