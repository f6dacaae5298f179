/**
 * The io_uring readiness backend: each registration is a poll request on the ring
 * (IORING_OP_POLL_ADD). Completions are read from shared memory, so a turn with nothing to
 * submit makes no syscall at all; everything queued in a turn (re-arms, interest changes) leaves
 * in one `io_uring_enter`.
 *
 * - Level-triggered (the default): a one-shot poll, re-armed after each completion. Arming
 *   checks the fd's current state, so an fd that is still ready completes again at once.
 * - `Interest.EDGE`: a multishot poll with EPOLLET, re-armed only when the kernel ends it.
 * - `Interest.ONESHOT`: one poll, re-armed by `modify()`.
 *
 * user_data is (fd, token). A token is new for every arming by `add`/`modify`, so the
 * completion of a poll that was removed or replaced (or of an fd number since reused) never
 * reaches the new owner. `remove()` submits its POLL_REMOVE at once: a pending poll holds a
 * reference to the file, which must not outlive the owner's close().
 *
 * @module
 */

import { EPOLLET, EPOLLONESHOT, S_IFDIR, S_IFMT, S_IFREG } from "../../ffi/constants.ts";
import { EBADF, ECANCELED, EPERM, ErrnoError } from "../../ffi/errno.ts";
import { sysFstat } from "../../ffi/libc.ts";
import { decodeStat, STAT_SIZE } from "../../ffi/structs.ts";
import {
  IORING_CQE_F_MORE,
  IORING_OP_POLL_ADD,
  IORING_OP_POLL_REMOVE,
  Ring,
  RingUnavailable,
} from "../../ffi/uring.ts";
import type { Backend } from "./backend.ts";
import { Interest, interestToEpoll, readinessFromEpoll, Ready } from "./interest.ts";

/** Submission slots by default; completions get 8 times as many. */
export const DEFAULT_URING_ENTRIES = 1024;
const CQ_PER_SQ = 8;
/** POLL_REMOVE's answer when the poll is completing right now: it stays armed; try again. */
const EALREADY = 114;
/** Tries of one removal (each after the poll's own completion has run). */
const REMOVE_TRIES = 64;
/** Tokens are non-zero 31-bit numbers. */
const TOKEN_LIMIT = 0x7fffffff;

/** Per-fd state, in arrays indexed by fd. */
const ARMED = 1;
const MULTISHOT = 2;

const statBuf = new Uint8Array(STAT_SIZE);

/**
 * Opens the ring, or says why not (for the fallback). Checks the opcodes this backend uses.
 */
export function openUringBackend(
  entries = DEFAULT_URING_ENTRIES,
): UringBackend | RingUnavailable {
  let ring: Ring;
  try {
    ring = Ring.open(entries, entries * CQ_PER_SQ);
  } catch (error) {
    if (error instanceof RingUnavailable) return error;
    throw error;
  }
  try {
    const [poll, remove] = ring.supports([IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE]);
    if (!poll || !remove) {
      ring.close();
      return new RingUnavailable("io_uring has no POLL_ADD/POLL_REMOVE here", 0);
    }
  } catch (error) {
    ring.close();
    return new RingUnavailable(`IORING_REGISTER_PROBE failed: ${String(error)}`, 0);
  }
  return new UringBackend(ring);
}

/** Readiness on io_uring poll requests. */
export class UringBackend implements Backend {
  readonly name = "uring";
  readonly fd: number;
  readonly ring: Ring;
  #tokens = new Int32Array(1024);
  #generations = new Uint32Array(1024);
  #interests = new Uint8Array(1024);
  #state = new Uint8Array(1024);
  #nextToken = 1;
  // Level-triggered polls that completed in the last poll: armed again at the start of the next
  // one (or before a park), after this turn's callbacks have run. Armed at once, the poll of an
  // fd that a callback is about to drain would be submitted by any submit of that callback (a
  // remove()) and complete again for data already read.
  #rearmFds = new Int32Array(1024);
  #rearmTokens = new Int32Array(1024);
  #rearmCount = 0;
  // The events of the last poll.
  #outFd = new Int32Array(1024);
  #outGen = new Uint32Array(1024);
  #outReady = new Int32Array(1024);

  constructor(ring: Ring) {
    this.ring = ring;
    this.fd = ring.fd;
  }

  #grow(fd: number): void {
    let size = this.#tokens.length;
    while (size <= fd) size *= 2;
    const tokens = new Int32Array(size);
    tokens.set(this.#tokens);
    this.#tokens = tokens;
    const gens = new Uint32Array(size);
    gens.set(this.#generations);
    this.#generations = gens;
    const interests = new Uint8Array(size);
    interests.set(this.#interests);
    this.#interests = interests;
    const state = new Uint8Array(size);
    state.set(this.#state);
    this.#state = state;
  }

  #token(): number {
    const token = this.#nextToken;
    this.#nextToken = token >= TOKEN_LIMIT ? 1 : token + 1;
    return token;
  }

  /** Room for `n` more entries: submits what is queued when the ring is full. */
  #room(n: number): void {
    if (this.ring.free < n) this.ring.submit();
  }

  #arm(fd: number): void {
    const interest = this.#interests[fd]!;
    if (
      (interest & (Interest.READABLE | Interest.WRITABLE | Interest.RDHUP | Interest.PRIORITY)) ===
        0
    ) {
      this.#state[fd] = 0;
      return; // nothing to watch (epoll would report only errors and hang-ups: see modify)
    }
    const edge = (interest & Interest.EDGE) !== 0;
    let mask = interestToEpoll(interest) & ~(EPOLLET | EPOLLONESHOT);
    if (edge) mask |= EPOLLET;
    this.#room(1);
    this.ring.prepPoll(fd, mask, edge, fd, this.#tokens[fd]!);
    this.#state[fd] = edge ? ARMED | MULTISHOT : ARMED;
  }

  add(fd: number, interest: number, generation: number): void {
    interestToEpoll(interest); // validates
    // epoll refuses regular files and directories (EPERM) and closed fds (EBADF); a poll on the
    // ring would not, so the same answers are given here.
    const r = sysFstat(fd, statBuf);
    if (r < 0) throw new ErrnoError(EBADF, "epoll_ctl");
    const type = decodeStat(statBuf).mode & S_IFMT;
    if (type === S_IFREG || type === S_IFDIR) throw new ErrnoError(EPERM, "epoll_ctl");
    if (fd >= this.#tokens.length) this.#grow(fd);
    this.#tokens[fd] = this.#token();
    this.#generations[fd] = generation;
    this.#interests[fd] = interest;
    this.#arm(fd);
  }

  modify(fd: number, interest: number, generation: number): void {
    interestToEpoll(interest);
    const old = this.#tokens[fd]!;
    const state = this.#state[fd]!;
    if ((state & MULTISHOT) !== 0) this.#removeNow(fd, old);
    else if ((state & ARMED) !== 0) this.#prepRemove(fd, old);
    this.#tokens[fd] = this.#token();
    this.#generations[fd] = generation;
    this.#interests[fd] = interest;
    this.#arm(fd);
  }

  remove(fd: number): void {
    if (fd >= this.#tokens.length) return;
    const token = this.#tokens[fd]!;
    const state = this.#state[fd]!;
    this.#tokens[fd] = 0;
    this.#state[fd] = 0;
    this.#interests[fd] = 0;
    if ((state & ARMED) === 0) return;
    if ((state & MULTISHOT) !== 0) {
      this.#removeNow(fd, token);
      return;
    }
    // Now: the poll holds the file open until it is removed. (A one-shot poll that is
    // completing as we remove it ends by itself.)
    this.#prepRemove(fd, token);
    this.ring.submit();
  }

  /**
   * Removes a multishot poll for good. One that is completing right now answers EALREADY and
   * re-arms itself: left so, it would hold the socket open after the owner's close() and keep
   * firing for nobody, and the reactor may be idle and read no completion for a long time. So
   * the answer is read here (a removal completes during the submitting call) and the removal
   * repeated until it takes.
   */
  #removeNow(fd: number, token: number): void {
    this.#prepRemove(fd, token);
    for (let tries = 0; tries < REMOVE_TRIES; tries++) {
      const from = this.ring.completionTail();
      this.ring.submit();
      if (this.#removeAnswer(fd, token, from) !== -EALREADY) return;
      this.#prepRemove(fd, token);
    }
  }

  /** The result of the removal of (fd, token) among completions from `from`, if there. */
  #removeAnswer(fd: number, token: number, from: number): number | undefined {
    const ring = this.ring;
    const to = ring.completionTail();
    for (let seq = from; seq !== to; seq = (seq + 1) | 0) {
      const at = ring.cqeAt(seq);
      if (ring.tagLo(at) === fd && ring.tagHi(at) === -token) return ring.result(at);
    }
    return undefined;
  }

  /** A POLL_REMOVE of the poll (fd, token); its own completion is tagged (fd, -token). */
  #prepRemove(fd: number, token: number): void {
    this.#room(1);
    this.ring.prepPollRemove(fd, token, fd, -token);
  }

  #rearmPending(): void {
    const count = this.#rearmCount;
    this.#rearmCount = 0;
    for (let i = 0; i < count; i++) {
      const fd = this.#rearmFds[i]!;
      // Not removed, replaced or re-armed by modify() meanwhile.
      if (this.#tokens[fd] === this.#rearmTokens[i] && this.#state[fd] === 0) this.#arm(fd);
    }
  }

  poll(limit: number): number {
    const ring = this.ring;
    this.#rearmPending();
    ring.submit();
    let available = ring.ready();
    if (available === 0) return 0;
    if (available > this.#outFd.length) available = this.#outFd.length;
    let n = 0;
    let used = 0;
    for (; used < available && n < limit; used++) {
      const at = ring.cqe(used);
      const fd = ring.tagLo(at);
      const token = ring.tagHi(at);
      const res = ring.result(at);
      if (token < 0) continue; // a POLL_REMOVE's own completion (answered in #removeNow)
      if (fd < 0 || fd >= this.#tokens.length || this.#tokens[fd] !== token) {
        // A poll removed or replaced meanwhile (-ECANCELED, or a last event): not for anyone.
        continue;
      }
      const more = (ring.flags(at) & IORING_CQE_F_MORE) !== 0;
      if (!more) this.#state[fd] = 0;
      if (res === -ECANCELED) continue;
      this.#outFd[n] = fd;
      this.#outGen[n] = this.#generations[fd]!;
      this.#outReady[n] = res < 0
        ? Ready.ERROR | Ready.READABLE | Ready.WRITABLE
        : readinessFromEpoll(res);
      n++;
      // Level-triggered (and an ended multishot): armed again once this turn's callbacks ran.
      if (!more && res >= 0 && (this.#interests[fd]! & Interest.ONESHOT) === 0) {
        this.#rearmFds[this.#rearmCount] = fd;
        this.#rearmTokens[this.#rearmCount++] = token;
      }
    }
    ring.advance(used);
    return n;
  }

  eventFd(i: number): number {
    return this.#outFd[i]!;
  }

  eventGeneration(i: number): number {
    return this.#outGen[i]!;
  }

  eventReady(i: number): number {
    return this.#outReady[i]!;
  }

  flush(): void {
    this.#rearmPending();
    this.ring.submit();
  }

  close(): void {
    this.ring.close();
  }
}
