/**
 * Interest and readiness flags, and the pure conversions between them and epoll bits (mio's
 * `interests_to_epoll`, `is_readable`, `is_read_closed`, `is_write_closed`). No syscall here.
 *
 * @module
 */

import {
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDHUP,
} from "../../ffi/constants.ts";

/**
 * Interest flags for {@linkcode Reactor.register}. Combine with `|`. Level-triggered unless EDGE
 * is given (the default Netty and libuv settled on).
 *
 * @example
 * ```ts
 * import { Interest } from "./interest.ts";
 * const both = Interest.READABLE | Interest.WRITABLE;
 * console.log(both); // 3
 * ```
 */
export const Interest = {
  /** Readable (EPOLLIN). */
  READABLE: 1,
  /** Writable (EPOLLOUT). */
  WRITABLE: 2,
  /** Peer shut down its write side (EPOLLRDHUP). */
  RDHUP: 4,
  /** Urgent data (EPOLLPRI). */
  PRIORITY: 8,
  /** Edge-triggered (EPOLLET): report changes, not states. */
  EDGE: 16,
  /** One-shot (EPOLLONESHOT): disable after one event until `modify`. */
  ONESHOT: 32,
} as const;

/**
 * Readiness flags passed to callbacks, decoded from epoll bits by {@linkcode readinessFromEpoll}.
 *
 * @example
 * ```ts
 * import { Ready } from "./interest.ts";
 * const onReady = (ready: number) => {
 *   if (ready & Ready.READ_CLOSED) console.log("peer finished sending");
 * };
 * onReady(Ready.READABLE | Ready.READ_CLOSED);
 * ```
 */
export const Ready = {
  /** Data (or EOF, or an error) can be read without blocking. */
  READABLE: 1,
  /** Data can be written without blocking. */
  WRITABLE: 2,
  /** The read side is closed: the peer sent FIN, or the connection is gone. */
  READ_CLOSED: 4,
  /** The write side is closed: the connection is gone or has an error. */
  WRITE_CLOSED: 8,
  /** EPOLLERR: a pending socket error (read it with SO_ERROR or the next I/O call). */
  ERROR: 16,
  /** Urgent data. */
  PRIORITY: 32,
} as const;

/**
 * Turns {@linkcode Interest} flags into epoll event bits (pure; mio's `interests_to_epoll`).
 * RDHUP is always requested with READABLE so read-closed is reported as such.
 *
 * @example
 * ```ts
 * import { Interest, interestToEpoll } from "./interest.ts";
 * console.log(interestToEpoll(Interest.READABLE).toString(16)); // "2001" (EPOLLIN|EPOLLRDHUP)
 * ```
 */
export function interestToEpoll(interest: number): number {
  if (!Number.isInteger(interest) || interest < 0 || interest > 63) {
    throw new RangeError(`invalid interest: ${interest}`);
  }
  let bits = 0;
  if (interest & Interest.READABLE) bits |= EPOLLIN | EPOLLRDHUP;
  if (interest & Interest.WRITABLE) bits |= EPOLLOUT;
  if (interest & Interest.RDHUP) bits |= EPOLLRDHUP;
  if (interest & Interest.PRIORITY) bits |= EPOLLPRI;
  if (interest & Interest.ONESHOT) bits |= EPOLLONESHOT;
  if (interest & Interest.EDGE) bits |= EPOLLET;
  return bits >>> 0;
}

/**
 * Turns epoll event bits into {@linkcode Ready} flags (pure; mio's `is_readable`,
 * `is_read_closed`, `is_write_closed`). HUP means both directions are closed; RDHUP only the read
 * side; ERR closes the write side. EPOLLIN accompanies a read-closed so the data before it is read.
 *
 * @example
 * ```ts
 * import { Ready, readinessFromEpoll } from "./interest.ts";
 * const ready = readinessFromEpoll(0x2001); // EPOLLIN | EPOLLRDHUP
 * console.log((ready & Ready.READ_CLOSED) !== 0); // true
 * ```
 */
export function readinessFromEpoll(bits: number): number {
  let r = 0;
  if (bits & EPOLLIN) r |= Ready.READABLE;
  if (bits & EPOLLPRI) r |= Ready.PRIORITY | Ready.READABLE;
  if (bits & EPOLLOUT) r |= Ready.WRITABLE;
  if (bits & EPOLLHUP) r |= Ready.READ_CLOSED | Ready.WRITE_CLOSED | Ready.READABLE;
  if (bits & EPOLLRDHUP) r |= Ready.READ_CLOSED | Ready.READABLE;
  if (bits & EPOLLERR) r |= Ready.ERROR | Ready.WRITE_CLOSED | Ready.READABLE | Ready.WRITABLE;
  return r;
}
