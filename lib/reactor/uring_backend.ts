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
 * **Receiving** (`add(..., receive = true)`): READABLE interest is served by a multishot RECV
 * into a provided-buffer ring instead of a poll, so the data of a request arrives in shared
 * memory with its completion: no recv(2), no re-arm (measured in a bare JS loop, 2026-12-01:
 * keep-alive hello 7.5-7.9 us of CPU per request against 10.9-12.0 for epoll plus recv). Buffers
 * are lent to JS from a completion until the next poll or flush, then given back to the kernel;
 * an idle connection holds none. A recv that ends without an error or EOF (no free buffer: it is
 * re-armed after the buffers come back; a cancel) is re-armed while READABLE is wanted. Dropping
 * READABLE cancels it; data received before the cancel is still handed out.
 *
 * @module
 */

import {
  EPOLLET,
  EPOLLONESHOT,
  MSG_NOSIGNAL,
  MSG_WAITALL,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../../ffi/constants.ts";
import {
  EAGAIN,
  EBADF,
  ECANCELED,
  EINTR,
  ENOBUFS,
  EPERM,
  EPIPE,
  ErrnoError,
} from "../../ffi/errno.ts";
import { sysFstat } from "../../ffi/libc.ts";
import { decodeStat, STAT_SIZE } from "../../ffi/structs.ts";
import {
  IORING_CQE_BUFFER_SHIFT,
  IORING_CQE_F_BUFFER,
  IORING_CQE_F_MORE,
  IORING_OP_ASYNC_CANCEL,
  IORING_OP_POLL_ADD,
  IORING_OP_POLL_REMOVE,
  IORING_OP_RECV,
  IORING_OP_SEND,
  Ring,
  RingUnavailable,
} from "../../ffi/uring.ts";
import { BufferRing, SendBuffers } from "../../ffi/uring_buffers.ts";
import { type Backend, RECEIVED, SENT } from "./backend.ts";
import { Interest, interestToEpoll, readinessFromEpoll, Ready } from "./interest.ts";

/** Submission slots by default; completions get 8 times as many. */
export const DEFAULT_URING_ENTRIES = 1024;
const CQ_PER_SQ = 8;
/** POLL_REMOVE's answer when the poll is completing right now: it stays armed; try again. */
const EALREADY = 114;
/** Tries of one removal (each after the poll's own completion has run). */
const REMOVE_TRIES = 64;
/** Tokens are non-zero 29-bit numbers; bit 30 of a tag marks a receive, bit 29 a send. */
const TOKEN_LIMIT = 0x1fffffff;
const RECV_TAG = 0x40000000;
const SEND_TAG = 0x20000000;
/**
 * Send buffers: how many (at most one per connection in flight; with none free, the owner writes
 * with send(2)), and how large. Each one used costs a page of memory from then on: a burst of
 * 10,000 connections answered at once touched all of 256, against about 50 for the busiest
 * keep-alive load (wrk -c50), whose CPU per request was the same with 64 (11.3-11.4 us).
 */
export const SEND_BUFFERS = 64;
export const SEND_BUFFER_SIZE = 16384;
/** Bounds of the send buffers. */
export const MAX_SEND_BUFFERS = 32768;
export const MIN_SEND_BUFFER_SIZE = 1024;
export const MAX_SEND_BUFFER_SIZE = 1024 * 1024;
/** send(2) flags of a send on the ring: no SIGPIPE; the kernel retries short sends itself. */
const SEND_FLAGS = MSG_NOSIGNAL | MSG_WAITALL;
/** A completion already handed out by drain(): skipped by poll(). */
const TAKEN_TAG = 0;
/** Receive buffers: the provided-buffer group, how many, and how large. */
const BUFFER_GROUP = 1;
export const RECEIVE_BUFFERS = 256;
export const RECEIVE_BUFFER_SIZE = 16384;
/** Bounds of the receive buffers (a buffer ring holds at most 32768 entries). */
export const MAX_RECEIVE_BUFFERS = 32768;
export const MIN_RECEIVE_BUFFER_SIZE = 1024;
export const MAX_RECEIVE_BUFFER_SIZE = 1024 * 1024;
/** Per-fd receive state. */
const R_MODE = 1; // READABLE is served by receiving
const R_ENDED = 2; // EOF or an error was handed out: never re-armed
const NO_DATA = new Uint8Array(0);

/** A receive's end that is no end of the stream: armed again, not handed out. */
function retryable(res: number): boolean {
  return res === -ENOBUFS || res === -ECANCELED || res === -EAGAIN || res === -EINTR;
}

/** Per-fd state, in arrays indexed by fd. */
const ARMED = 1;
const MULTISHOT = 2;

const statBuf = new Uint8Array(STAT_SIZE);

/** How many receive and send buffers the backend keeps, and their sizes (defaults above). */
export interface UringBuffers {
  receiveBuffers?: number;
  receiveBufferSize?: number;
  sendBuffers?: number;
  sendBufferSize?: number;
}

/**
 * Opens the ring, or says why not (for the fallback). Checks the opcodes this backend uses.
 */
export function openUringBackend(
  entries = DEFAULT_URING_ENTRIES,
  buffers: UringBuffers = {},
): UringBackend | RingUnavailable {
  const receiveBuffers = buffers.receiveBuffers ?? RECEIVE_BUFFERS;
  const receiveBufferSize = buffers.receiveBufferSize ?? RECEIVE_BUFFER_SIZE;
  let ring: Ring;
  try {
    ring = Ring.open(entries, entries * CQ_PER_SQ);
  } catch (error) {
    if (error instanceof RingUnavailable) return error;
    throw error;
  }
  let receive = false;
  let sendOp = false;
  try {
    const [poll, remove, recv, cancel, send] = ring.supports([
      IORING_OP_POLL_ADD,
      IORING_OP_POLL_REMOVE,
      IORING_OP_RECV,
      IORING_OP_ASYNC_CANCEL,
      IORING_OP_SEND,
    ]);
    if (!poll || !remove) {
      ring.close();
      return new RingUnavailable("io_uring has no POLL_ADD/POLL_REMOVE here", 0);
    }
    receive = recv! && cancel!;
    sendOp = send!;
  } catch (error) {
    ring.close();
    return new RingUnavailable(`IORING_REGISTER_PROBE failed: ${String(error)}`, 0);
  }
  // Receiving needs a provided-buffer ring (Linux 5.19) and multishot recv (6.0); without them
  // every READABLE interest is a poll.
  let ringBuffers: BufferRing | null = null;
  if (receive) {
    try {
      ringBuffers = BufferRing.open(ring, BUFFER_GROUP, receiveBuffers, receiveBufferSize);
    } catch (error) {
      if (!(error instanceof RingUnavailable)) throw error;
    }
  }
  let sends: SendBuffers | null = null;
  if (sendOp) {
    try {
      sends = SendBuffers.open(
        buffers.sendBuffers ?? SEND_BUFFERS,
        buffers.sendBufferSize ?? SEND_BUFFER_SIZE,
      );
    } catch (error) {
      if (!(error instanceof RingUnavailable)) throw error;
    }
  }
  return new UringBackend(ring, ringBuffers, sends);
}

/** Readiness on io_uring poll requests. */
export class UringBackend implements Backend {
  readonly name = "uring";
  readonly fd: number;
  readonly ring: Ring;
  readonly receives: boolean;
  readonly sends: boolean;
  readonly cheapPolls = true;
  receiveStalls = 0;
  #buffers: BufferRing | null;
  // Sending: the buffers; per buffer, its fd, the registration's token, length and bytes sent;
  // per fd, the buffer of its send in flight plus one (0: none).
  #sendBuffers: SendBuffers | null;
  #sendFd: Int32Array;
  #sendToken: Int32Array;
  #sendLength: Int32Array;
  #sendDone: Int32Array;
  #sending = new Int32Array(1024);
  // Receiving, per fd: the tag's token (for the registration's life), R_* state, recvs in flight.
  #regTokens = new Int32Array(1024);
  #recvState = new Uint8Array(1024);
  #recvInflight = new Uint8Array(1024);
  // Receives to arm again at the next poll (after buffers came back): fds and tokens.
  #recvRearmFds = new Int32Array(1024);
  #recvRearmTokens = new Int32Array(1024);
  #recvRearmCount = 0;
  // Buffers lent to JS by the last poll, given back at the next poll or flush.
  #lent: Int32Array;
  #lentCount = 0;
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
  #outResult = new Int32Array(1024);
  #outBuffer = new Int32Array(1024);
  #outCount = 0;
  /** The event being dispatched (the last asked for by eventFd). */
  #cursor = 0;

  constructor(ring: Ring, buffers: BufferRing | null = null, sends: SendBuffers | null = null) {
    this.ring = ring;
    this.fd = ring.fd;
    this.#buffers = buffers;
    this.receives = buffers !== null;
    this.#lent = new Int32Array(buffers?.count ?? 0);
    this.#sendBuffers = sends;
    this.sends = sends !== null;
    const count = sends?.count ?? 0;
    this.#sendFd = new Int32Array(count);
    this.#sendToken = new Int32Array(count);
    this.#sendLength = new Int32Array(count);
    this.#sendDone = new Int32Array(count);
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
    const recvTokens = new Int32Array(size);
    recvTokens.set(this.#regTokens);
    this.#regTokens = recvTokens;
    const recvState = new Uint8Array(size);
    recvState.set(this.#recvState);
    this.#recvState = recvState;
    const inflight = new Uint8Array(size);
    inflight.set(this.#recvInflight);
    this.#recvInflight = inflight;
    const sending = new Int32Array(size);
    sending.set(this.#sending);
    this.#sending = sending;
  }

  #token(): number {
    const token = this.#nextToken;
    this.#nextToken = token >= TOKEN_LIMIT ? 1 : token + 1;
    return token;
  }

  #arm(fd: number): void {
    let interest = this.#interests[fd]!;
    // Receiving serves READABLE: the poll (if any) watches the rest.
    if ((this.#recvState[fd]! & R_MODE) !== 0) interest &= ~Interest.READABLE;
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
    this.ring.prepPoll(fd, mask, edge, fd, this.#tokens[fd]!);
    this.#state[fd] = edge ? ARMED | MULTISHOT : ARMED;
  }

  add(fd: number, interest: number, generation: number, receive = false, socket = false): void {
    interestToEpoll(interest); // validates
    // epoll refuses regular files and directories (EPERM) and closed fds (EBADF); a poll on the
    // ring would not, so the same answers are given here (for a socket netio made, nothing to
    // check: one fstat saved per connection).
    if (!socket) {
      const r = sysFstat(fd, statBuf);
      if (r < 0) throw new ErrnoError(EBADF, "epoll_ctl");
      const type = decodeStat(statBuf).mode & S_IFMT;
      if (type === S_IFREG || type === S_IFDIR) throw new ErrnoError(EPERM, "epoll_ctl");
    }
    if (fd >= this.#tokens.length) this.#grow(fd);
    this.#tokens[fd] = this.#token();
    this.#generations[fd] = generation;
    this.#interests[fd] = interest;
    this.#recvInflight[fd] = 0;
    this.#sending[fd] = 0;
    // For the registration's life: tags its receives and sends.
    this.#regTokens[fd] = this.#token();
    this.#recvState[fd] = receive && this.receives ? R_MODE : 0;
    this.#arm(fd);
    this.#syncReceive(fd);
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
    this.#syncReceive(fd);
  }

  remove(fd: number): void {
    if (fd >= this.#tokens.length) return;
    const token = this.#tokens[fd]!;
    const state = this.#state[fd]!;
    this.#tokens[fd] = 0;
    this.#state[fd] = 0;
    this.#interests[fd] = 0;
    const recvToken = this.#regTokens[fd]!;
    const inflight = this.#recvInflight[fd]!;
    // Completions of the receive still in the ring no longer match anyone (their buffers are
    // given back by poll()).
    this.#regTokens[fd] = 0;
    this.#recvState[fd] = 0;
    this.#recvInflight[fd] = 0;
    // The recv holds the socket open: cancelled now, so the owner's close() really closes it.
    if (inflight > 0) this.#cancelNow(fd, recvToken);
    if (this.#sending[fd] !== 0) {
      // A send in flight is left to finish (its completion, no longer anyone's, gives its buffer
      // back), but it must be in the kernel before the owner's close(): the kernel then holds the
      // socket, and the fd number can be reused by no one under it.
      this.#sending[fd] = 0;
      this.ring.submit();
    }
    if ((state & ARMED) !== 0) {
      if ((state & MULTISHOT) !== 0) {
        this.#removeNow(fd, token);
      } else {
        // Now: the poll holds the file open until it is removed. (A one-shot poll that is
        // completing as we remove it ends by itself.)
        this.#prepRemove(fd, token);
        this.ring.submit();
      }
    }
    // What the kernel refused to take (a full ring it could not drain) must not run on the fd
    // number's next owner: it becomes a NOP.
    if (this.ring.pending > 0) this.ring.forget(fd);
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

  /** Cancels the receive (fd, token) for good (see #removeNow). */
  #cancelNow(fd: number, token: number): void {
    const tag = RECV_TAG | token;
    for (let tries = 0; tries < REMOVE_TRIES; tries++) {
      this.ring.prepCancel(fd, tag, fd, -tag);
      const from = this.ring.completionTail();
      this.ring.submit();
      if (this.#removeAnswer(fd, tag, from) !== -EALREADY) return;
    }
  }

  /** Whether `fd` wants a receive armed now. */
  #wantsReceive(fd: number): boolean {
    return this.#recvState[fd] === R_MODE && (this.#interests[fd]! & Interest.READABLE) !== 0;
  }

  /** Arms or cancels the receive of `fd` to match its interest. */
  #syncReceive(fd: number): void {
    if ((this.#recvState[fd]! & R_MODE) === 0) return;
    const inflight = this.#recvInflight[fd]!;
    if (this.#wantsReceive(fd)) {
      // One in flight (maybe being cancelled): its last completion arms the next.
      if (inflight === 0) this.#armReceive(fd);
    } else if (inflight > 0) {
      this.#cancelNow(fd, this.#regTokens[fd]!);
    }
  }

  #armReceive(fd: number): void {
    this.ring.prepRecvMultishot(fd, BUFFER_GROUP, fd, RECV_TAG | this.#regTokens[fd]!);
    this.#recvInflight[fd] = this.#recvInflight[fd]! + 1;
  }

  drain(fd: number, deliver: (data: Uint8Array<ArrayBuffer>, n: number) => void): void {
    if (fd >= this.#tokens.length || (this.#recvState[fd]! & R_MODE) === 0) return;
    const token = this.#regTokens[fd]!;
    if (this.#recvInflight[fd]! > 0) this.#cancelNow(fd, token);
    this.#recvInflight[fd] = 0;
    this.#recvState[fd] = R_MODE | R_ENDED;
    const ring = this.ring;
    const buffers = this.#buffers!;
    // First what the last poll took for this fd and the reactor has not dispatched yet.
    for (let i = this.#cursor + 1; i < this.#outCount; i++) {
      if (this.#outFd[i] !== fd || this.#outReady[i] !== RECEIVED) continue;
      this.#outFd[i] = -1; // the reactor skips it
      const res = this.#outResult[i]!;
      if (res > 0) deliver(buffers.view(this.#outBuffer[i]!), res);
    }
    const tag = RECV_TAG | token;
    const count = ring.ready();
    for (let i = 0; i < count; i++) {
      const at = ring.cqe(i);
      if (ring.tagLo(at) !== fd || ring.tagHi(at) !== tag) continue;
      const res = ring.result(at);
      const flags = ring.flags(at);
      ring.retag(at, TAKEN_TAG, 0);
      if ((flags & IORING_CQE_F_BUFFER) === 0) continue;
      const id = flags >>> IORING_CQE_BUFFER_SHIFT;
      try {
        if (res > 0) deliver(buffers.view(id), res);
      } finally {
        buffers.give(id);
        buffers.publish();
      }
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
    this.ring.prepPollRemove(fd, token, fd, -token);
  }

  /** Gives back the buffers lent by the last poll and arms the receives that ended. */
  #recycle(): void {
    const lent = this.#lentCount;
    if (lent > 0) {
      this.#lentCount = 0;
      const buffers = this.#buffers!;
      for (let i = 0; i < lent; i++) buffers.give(this.#lent[i]!);
      buffers.publish();
    }
    const rearms = this.#recvRearmCount;
    if (rearms > 0) {
      this.#recvRearmCount = 0;
      for (let i = 0; i < rearms; i++) {
        const fd = this.#recvRearmFds[i]!;
        if (
          this.#regTokens[fd] === this.#recvRearmTokens[i] && this.#recvInflight[fd] === 0 &&
          this.#wantsReceive(fd)
        ) {
          this.#armReceive(fd);
        }
      }
    }
  }

  #rearmPending(): void {
    this.#recycle();
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
    this.#outCount = 0;
    if (available === 0) return 0;
    if (available > this.#outFd.length) available = this.#outFd.length;
    let n = 0;
    let used = 0;
    for (; used < available && n < limit; used++) {
      const at = ring.cqe(used);
      const fd = ring.tagLo(at);
      const token = ring.tagHi(at);
      const res = ring.result(at);
      if (token < 0 || token === TAKEN_TAG) continue; // a removal's answer, or drained
      if ((token & RECV_TAG) !== 0) {
        if (this.#received(fd, token & TOKEN_LIMIT, res, ring.flags(at), n)) n++;
        continue;
      }
      if ((token & SEND_TAG) !== 0) {
        if (this.#sent(fd, token & TOKEN_LIMIT, res, n)) n++;
        continue;
      }
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
    this.#outCount = n;
    this.#cursor = 0;
    return n;
  }

  /**
   * One receive completion: hands out its data, EOF or error as event `n` (true), or takes
   * care of its end (a stale one's buffer comes back; an ended recv is armed again).
   */
  #received(fd: number, token: number, res: number, flags: number, n: number): boolean {
    let id = -1;
    if ((flags & IORING_CQE_F_BUFFER) !== 0) {
      id = flags >>> IORING_CQE_BUFFER_SHIFT;
      this.#lent[this.#lentCount++] = id; // given back at the next poll or flush
    }
    if (fd < 0 || fd >= this.#regTokens.length || this.#regTokens[fd] !== token) return false;
    const more = (flags & IORING_CQE_F_MORE) !== 0;
    if (!more) {
      this.#recvInflight[fd] = this.#recvInflight[fd]! - 1;
      // Ended without EOF or an error (no buffer, a cancel, an overflow; EAGAIN or EINTR, which
      // say only "try again"): armed again if wanted.
      if (res > 0 || retryable(res)) {
        this.#recvRearmFds[this.#recvRearmCount] = fd;
        this.#recvRearmTokens[this.#recvRearmCount++] = token;
      }
    }
    if (res === -ENOBUFS) {
      this.receiveStalls++;
      return false;
    }
    if (retryable(res)) return false;
    if (res <= 0) this.#recvState[fd] = this.#recvState[fd]! | R_ENDED;
    this.#outFd[n] = fd;
    this.#outGen[n] = this.#generations[fd]!;
    this.#outReady[n] = RECEIVED;
    this.#outResult[n] = res;
    this.#outBuffer[n] = id;
    return true;
  }

  send(fd: number, data: Uint8Array, n: number): boolean {
    const sends = this.#sendBuffers;
    if (
      sends === null || fd < 0 || fd >= this.#regTokens.length || this.#regTokens[fd] === 0 ||
      this.#sending[fd] !== 0 || n > sends.size || n <= 0
    ) {
      return false;
    }
    const id = sends.take();
    if (id < 0) return false;
    sends.view(id).set(n === data.length ? data : data.subarray(0, n));
    const token = this.#regTokens[fd]!;
    this.#sendFd[id] = fd;
    this.#sendToken[id] = token;
    this.#sendLength[id] = n;
    this.#sendDone[id] = 0;
    this.#sending[fd] = id + 1;
    this.ring.prepSend(fd, sends.address(id), n, SEND_FLAGS, id, SEND_TAG | token);
    return true;
  }

  /**
   * One send completion (tagged with its buffer `id`): a short send goes on from where it
   * stopped; the end (everything sent, or an error) is handed out as event `n` (true) when the
   * registration is still the one that sent.
   */
  #sent(id: number, token: number, res: number, n: number): boolean {
    const sends = this.#sendBuffers!;
    const fd = this.#sendFd[id]!;
    const live = this.#sendToken[id] === token && this.#regTokens[fd] === token &&
      this.#sending[fd] === id + 1;
    const length = this.#sendLength[id]!;
    let done = this.#sendDone[id]!;
    if (res > 0) this.#sendDone[id] = done += res;
    if (live && done < length && (res > 0 || res === -EINTR || res === -EAGAIN)) {
      const rest = length - done;
      this.ring.prepSend(fd, sends.address(id) + done, rest, SEND_FLAGS, id, SEND_TAG | token);
      return false;
    }
    sends.release(id);
    if (!live) return false;
    this.#sending[fd] = 0;
    this.#outFd[n] = fd;
    this.#outGen[n] = this.#generations[fd]!;
    this.#outReady[n] = SENT;
    // Short without an error (the kernel took nothing more): the connection takes no more.
    this.#outResult[n] = res < 0 ? res : done < length ? -EPIPE : done;
    this.#outBuffer[n] = -1;
    return true;
  }

  eventFd(i: number): number {
    this.#cursor = i;
    return this.#outFd[i]!;
  }

  eventGeneration(i: number): number {
    return this.#outGen[i]!;
  }

  eventReady(i: number): number {
    return this.#outReady[i]!;
  }

  eventResult(i: number): number {
    return this.#outResult[i]!;
  }

  eventData(i: number): Uint8Array<ArrayBuffer> {
    const id = this.#outBuffer[i]!;
    return id < 0 ? NO_DATA : this.#buffers!.view(id);
  }

  flush(): void {
    this.#rearmPending();
    this.ring.submit();
  }

  close(): void {
    // No receive picks a buffer once the group is unregistered; the memory goes after the ring.
    this.#buffers?.unregister();
    this.ring.close();
    this.#buffers?.unmap();
    this.#sendBuffers?.unmap();
  }
}
