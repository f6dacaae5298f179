/**
 * io_uring(7) from FFI: setup with a feature check, the submission and completion rings mapped
 * once and read and written as typed arrays (shared memory with the kernel: a completion is read
 * without a syscall), SQE layouts, and a non-blocking `io_uring_enter` for submission. The only
 * home of io_uring's struct layouts.
 *
 * Ring indexes are loaded and stored with `Atomics` (sequentially consistent), which gives the
 * acquire/release order the kernel expects on aarch64 as well as x86_64.
 *
 * @module
 */

import { EINVAL, ErrnoError } from "./errno.ts";
import { fail, libc, ret, sysClose } from "./libc.ts";

// The syscalls (no glibc wrappers; the same numbers on x86_64 and aarch64), from libc's one
// symbol table.

const SYS_IO_URING_SETUP = 425n;
const SYS_IO_URING_ENTER = 426n;
const SYS_IO_URING_REGISTER = 427n;
/** (void *)-1, mmap's failure. */
const MAP_FAILED = 0xffffffffffffffffn;

/** io_uring_setup(2): the ring fd, or -errno; `params` is a struct io_uring_params (120 bytes). */
export function sysIoUringSetup(entries: number, params: Uint8Array<ArrayBuffer>): number {
  const s = libc();
  return ret(s.syscall_io_uring_setup(SYS_IO_URING_SETUP, entries, params));
}

/**
 * io_uring_enter(2) that never blocks (min_complete 0): submits `toSubmit` entries; with
 * IORING_ENTER_GETEVENTS in `flags` it also flushes completions the kernel held back.
 */
export function sysIoUringEnter(fd: number, toSubmit: number, flags: number): number {
  const s = libc();
  return ret(s.syscall_io_uring_enter(SYS_IO_URING_ENTER, fd, toSubmit, 0, flags, null, 0n));
}

/** io_uring_register(2). */
export function sysIoUringRegister(
  fd: number,
  opcode: number,
  arg: Uint8Array<ArrayBuffer>,
  count: number,
): number {
  const s = libc();
  return ret(s.syscall_io_uring_register(SYS_IO_URING_REGISTER, fd, opcode, arg, count));
}

/** mmap(2) of a ring region of `fd` (shared, read/write): its address, or -errno as a number. */
export function sysMmapRing(
  length: number,
  fd: number,
  offset: number,
): Deno.PointerValue | number {
  const s = libc();
  const PROT_READ_WRITE = 0x3;
  const MAP_SHARED_POPULATE = 0x01 | 0x8000;
  const p = s.mmap(null, BigInt(length), PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, BigInt(offset));
  if (p === null || BigInt(Deno.UnsafePointer.value(p)) === MAP_FAILED) return ret(-1);
  return p;
}

/** An anonymous private mapping of `length` bytes (zeroed): its address, or -errno. */
export function sysMmapAnonymous(length: number): Deno.PointerObject | number {
  const s = libc();
  const PROT_READ_WRITE = 0x3;
  const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
  const p = s.mmap(null, BigInt(length), PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0n);
  if (p === null || BigInt(Deno.UnsafePointer.value(p)) === MAP_FAILED) return ret(-1);
  return p;
}

/** munmap(2). */
export function sysMunmap(address: Deno.PointerObject, length: number): number {
  const s = libc();
  return ret(s.munmap(address, BigInt(length)));
}

/** Opcodes (include/uapi/linux/io_uring.h). */
export const IORING_OP_NOP = 0;
/** Poll an fd for a mask of events. */
export const IORING_OP_POLL_ADD = 6;
/** Remove a poll request by its user_data. */
export const IORING_OP_POLL_REMOVE = 7;
/** Send on a socket (send(2)). */
export const IORING_OP_SEND = 26;
/** Receive on a socket (recv(2)). */
export const IORING_OP_RECV = 27;
/** Cancel requests by their user_data. */
export const IORING_OP_ASYNC_CANCEL = 14;
/** CQE flag: the completion used a provided buffer, whose id is `flags >>> 16`. */
export const IORING_CQE_F_BUFFER = 1;
/** Where a CQE's provided-buffer id starts in its flags. */
export const IORING_CQE_BUFFER_SHIFT = 16;
/** `len` of a POLL_ADD: keep it armed after each completion (multishot). */
export const IORING_POLL_ADD_MULTI = 1;
/** CQE flag: more completions will come for this request (a multishot one is still armed). */
export const IORING_CQE_F_MORE = 2;

const IORING_ENTER_GETEVENTS = 1;
/** SQE flag: take the buffer from the provided-buffer group in `buf_group`. */
const IOSQE_BUFFER_SELECT = 1 << 5;
/** A RECV's ioprio: keep receiving (multishot) until an error, EOF or no buffer. */
const IORING_RECV_MULTISHOT = 1 << 1;
/** An ASYNC_CANCEL's flags: every request with the user_data, not just the first. */
const IORING_ASYNC_CANCEL_ALL = 1 << 0;
/** `sq_ring->flags`: completions overflowed and wait in the kernel (flush with GETEVENTS). */
const IORING_SQ_CQ_OVERFLOW = 2;
/** `sq_ring->flags`: completion work waits for the thread to enter the kernel (TASKRUN_FLAG). */
const IORING_SQ_TASKRUN = 4;
const IORING_SETUP_CQSIZE = 8;
const IORING_SETUP_SUBMIT_ALL = 1 << 7;
// Cooperative task running (Linux 5.19): a completion's work is queued for the thread without
// interrupting it (no IPI); it runs when the thread next enters the kernel, and a thread asleep
// in an interruptible wait (Deno's event loop in epoll_wait) is woken for it. Measured
// 2026-12-01, keep-alive hello with the server pinned to one core and the load on the other:
// 16.4-16.7 us of CPU per request with it, 34-37 without (the interruption per arriving request
// costs more than the request). TASKRUN_FLAG marks pending work in the SQ flags, so a turn that
// makes no syscall still sees it and enters the kernel (see submit()). DEFER_TASKRUN is not used:
// with it nothing woke the parked reactor (its work runs only inside io_uring_enter).
const IORING_SETUP_COOP_TASKRUN = 1 << 8;
const IORING_SETUP_TASKRUN_FLAG = 1 << 9;
/** Features (params.features) netio relies on. */
export const IORING_FEAT_SINGLE_MMAP = 1;
/** Completions are never dropped: an overflowing CQ keeps them in the kernel. */
export const IORING_FEAT_NODROP = 2;
const IORING_REGISTER_PROBE = 8;
const IO_URING_OP_SUPPORTED = 1;
const IORING_OFF_SQ_RING = 0;
const IORING_OFF_SQES = 0x10000000;

/** struct io_uring_params and its offsets (bytes). */
const PARAMS_SIZE = 120;
const P_SQ_ENTRIES = 0;
const P_CQ_ENTRIES = 4;
const P_FLAGS = 8;
const P_FEATURES = 20;
const P_SQ_OFF = 40;
const P_CQ_OFF = 80;
// struct io_sqring_offsets / io_cqring_offsets: u32 fields in this order.
const OFF_HEAD = 0;
const OFF_TAIL = 4;
const OFF_MASK = 8;
const SQ_OFF_FLAGS = 16;
const SQ_OFF_ARRAY = 24;
const CQ_OFF_CQES = 20;
/** SQE and CQE sizes (no SQE128/CQE32). */
const SQE_BYTES = 64;
const SQE_WORDS = SQE_BYTES / 4;
/** Refills of the ring from the backlog per submit (each one io_uring_enter). */
const BACKLOG_ROUNDS = 8;
const CQE_WORDS = 4;
const WORD = 4;
/** struct io_uring_probe: 16-byte header, then 8 bytes per op. */
const PROBE_HEADER = 16;
const PROBE_OP = 8;
const PROBE_OPS = 256;

/** Why a ring could not be made, for the fallback's report. */
export class RingUnavailable extends Error {
  /** The errno (ENOSYS, EPERM, EINVAL, ...), or 0 for a missing feature. */
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.name = "RingUnavailable";
    this.errno = errno;
  }
}

/**
 * One io_uring: `sqEntries` submission slots, `cqEntries` completion slots. Entries are queued
 * with the `prep*` methods (no allocation), leave with {@linkcode Ring.submit}, and completions
 * are read with {@linkcode Ring.ready} / the accessors / {@linkcode Ring.advance}.
 */
export class Ring {
  readonly fd: number;
  readonly features: number;
  readonly sqEntries: number;
  readonly cqEntries: number;
  #map: Deno.PointerObject;
  #mapLength: number;
  #sqesMap: Deno.PointerObject;
  #sqesLength: number;
  #ring: Int32Array;
  #sqes: Int32Array;
  #sqHead: number;
  #sqTail: number;
  #sqMask: number;
  #sqFlags: number;
  #cqHead: number;
  #cqTail: number;
  #cqMask: number;
  #cqes: number;
  /** Our tail: entries prepared but not yet published to the kernel. */
  #tail = 0;
  #scratch = new Int32Array(SQE_WORDS);
  /** Where the SQE being prepared is written (see #begin), and its first word. */
  #target: Int32Array = this.#scratch;
  #at = 0;
  /** SQEs waiting for room in the ring (16 words each), in order. */
  #backlog = new Int32Array(SQE_WORDS * 16);
  #backlogCount = 0;
  #submitted = 0;
  #closed = false;

  private constructor(
    fd: number,
    params: DataView,
    map: Deno.PointerObject,
    mapLength: number,
    sqesMap: Deno.PointerObject,
    sqesLength: number,
  ) {
    this.fd = fd;
    this.features = params.getUint32(P_FEATURES, true);
    this.sqEntries = params.getUint32(P_SQ_ENTRIES, true);
    this.cqEntries = params.getUint32(P_CQ_ENTRIES, true);
    this.#map = map;
    this.#mapLength = mapLength;
    this.#sqesMap = sqesMap;
    this.#sqesLength = sqesLength;
    this.#ring = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(map, mapLength));
    this.#sqes = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(sqesMap, sqesLength));
    const sq = (field: number) => params.getUint32(P_SQ_OFF + field, true) / WORD;
    const cq = (field: number) => params.getUint32(P_CQ_OFF + field, true) / WORD;
    this.#sqHead = sq(OFF_HEAD);
    this.#sqTail = sq(OFF_TAIL);
    this.#sqFlags = sq(SQ_OFF_FLAGS);
    this.#cqHead = cq(OFF_HEAD);
    this.#cqTail = cq(OFF_TAIL);
    this.#cqes = cq(CQ_OFF_CQES);
    // The masks are read from the ring itself: the offsets locate them.
    this.#sqMask = this.#ring[sq(OFF_MASK)]!;
    this.#cqMask = this.#ring[cq(OFF_MASK)]!;
    // The SQ index array maps ring slots to SQEs one to one, once.
    const array = sq(SQ_OFF_ARRAY);
    for (let i = 0; i < this.sqEntries; i++) this.#ring[array + i] = i;
    this.#tail = this.#submitted = Atomics.load(this.#ring, this.#sqTail);
  }

  /**
   * Sets up a ring. Throws {@linkcode RingUnavailable} when the kernel refuses (ENOSYS: too
   * old; EPERM: seccomp or `kernel.io_uring_disabled`; ENOMEM/EINVAL) or lacks a feature netio
   * needs (a single mapping for both rings, completions never dropped).
   */
  static open(entries: number, cqEntries: number): Ring {
    const params = new Uint8Array(PARAMS_SIZE);
    const view = new DataView(params.buffer);
    const base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    view.setUint32(P_FLAGS, base | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, true);
    view.setUint32(P_CQ_ENTRIES, cqEntries, true);
    let fd = sysIoUringSetup(entries, params);
    if (fd === -EINVAL) {
      // Before 5.19: no cooperative task running; completions then interrupt the thread.
      params.fill(0);
      view.setUint32(P_FLAGS, base, true);
      view.setUint32(P_CQ_ENTRIES, cqEntries, true);
      fd = sysIoUringSetup(entries, params);
    }
    if (fd < 0) {
      throw new RingUnavailable(`io_uring_setup: ${fail(fd, "io_uring_setup").message}`, -fd);
    }
    try {
      const features = view.getUint32(P_FEATURES, true);
      const needed = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP;
      if ((features & needed) !== needed) {
        throw new RingUnavailable(
          `io_uring lacks features netio needs (0x${features.toString(16)})`,
          0,
        );
      }
      const sqEntries = view.getUint32(P_SQ_ENTRIES, true);
      const cqCount = view.getUint32(P_CQ_ENTRIES, true);
      const sqBytes = view.getUint32(P_SQ_OFF + SQ_OFF_ARRAY, true) + sqEntries * WORD;
      const cqBytes = view.getUint32(P_CQ_OFF + CQ_OFF_CQES, true) + cqCount * CQE_WORDS * WORD;
      const mapLength = Math.max(sqBytes, cqBytes);
      const map = sysMmapRing(mapLength, fd, IORING_OFF_SQ_RING);
      if (typeof map === "number" || map === null) {
        throw new RingUnavailable(`mmap of the rings: errno ${-Number(map)}`, -Number(map));
      }
      const sqesLength = sqEntries * SQE_BYTES;
      const sqes = sysMmapRing(sqesLength, fd, IORING_OFF_SQES);
      if (typeof sqes === "number" || sqes === null) {
        sysMunmap(map, mapLength);
        throw new RingUnavailable(`mmap of the SQEs: errno ${-Number(sqes)}`, -Number(sqes));
      }
      return new Ring(fd, view, map, mapLength, sqes, sqesLength);
    } catch (error) {
      sysClose(fd);
      throw error;
    }
  }

  /** Which of `opcodes` the kernel supports (IORING_REGISTER_PROBE). */
  supports(opcodes: readonly number[]): boolean[] {
    const probe = new Uint8Array(PROBE_HEADER + PROBE_OPS * PROBE_OP);
    const r = sysIoUringRegister(this.fd, IORING_REGISTER_PROBE, probe, PROBE_OPS);
    if (r < 0) throw fail(r, "io_uring_register", "IORING_REGISTER_PROBE");
    const lastOp = probe[0]!;
    return opcodes.map((op) =>
      op <= lastOp &&
      (probe[PROBE_HEADER + op * PROBE_OP + 2]! & IO_URING_OP_SUPPORTED) !== 0
    );
  }

  /** Entries prepared and not yet submitted. */
  get pending(): number {
    return this.#tail - this.#submitted + this.#backlogCount;
  }

  /** Free submission slots. */
  get free(): number {
    return this.sqEntries - (this.#tail - Atomics.load(this.#ring, this.#sqHead));
  }

  /**
   * Starts an SQE (zeroed) and returns the words to write it into, from {@linkcode Ring.#at}: the
   * ring's next slot itself while it has room (the common case: no copy), else a scratch entry
   * that #push queues in the backlog. A full ring is first handed to the kernel.
   */
  #begin(): Int32Array {
    let free = this.#backlogCount === 0 ? this.free : 0;
    if (free === 0 && this.#backlogCount === 0) {
      this.#enter(0);
      free = this.free;
    }
    if (free > 0 && this.#backlogCount === 0) {
      const at = (this.#tail & this.#sqMask) * SQE_WORDS;
      const sqes = this.#sqes;
      sqes.fill(0, at, at + SQE_WORDS);
      this.#target = sqes;
      this.#at = at;
      return sqes;
    }
    const scratch = this.#scratch;
    scratch.fill(0);
    this.#target = scratch;
    this.#at = 0;
    return scratch;
  }

  /**
   * Queues the prepared SQE: written in the ring's slot, it is counted; written in the scratch
   * entry (the ring full, and the kernel taking no more: a submit refused with EBUSY/EAGAIN), it
   * goes to a JS backlog that the next submits move to the ring in order. Nothing is dropped or
   * overwritten.
   */
  #push(): void {
    if (this.#target === this.#sqes) {
      this.#tail = (this.#tail + 1) | 0;
      return;
    }
    let backlog = this.#backlog;
    if ((this.#backlogCount + 1) * SQE_WORDS > backlog.length) {
      const grown = new Int32Array(backlog.length * 2);
      grown.set(backlog);
      this.#backlog = backlog = grown;
    }
    backlog.set(this.#scratch, this.#backlogCount * SQE_WORDS);
    this.#backlogCount++;
  }

  /** Copies an SQE (16 words of `from` at `offset`) to the ring's next slot. */
  #place(from: Int32Array, offset: number): void {
    const at = (this.#tail & this.#sqMask) * SQE_WORDS;
    this.#sqes.set(from.subarray(offset, offset + SQE_WORDS), at);
    this.#tail = (this.#tail + 1) | 0;
  }

  /** Moves what the backlog holds to the ring, as far as there is room. */
  #moveBacklog(): void {
    const count = this.#backlogCount;
    let moved = 0;
    for (let free = this.free; moved < count && free > 0; free--) {
      this.#place(this.#backlog, moved * SQE_WORDS);
      moved++;
    }
    if (moved === 0) return;
    this.#backlog.copyWithin(0, moved * SQE_WORDS, count * SQE_WORDS);
    this.#backlogCount = count - moved;
  }

  /**
   * A POLL_ADD of `fd` for the poll mask `events` (EPOLLET honoured with `multishot`), tagged
   * (`tagLo`, `tagHi`): the two 32-bit halves of user_data.
   */
  prepPoll(fd: number, events: number, multishot: boolean, tagLo: number, tagHi: number): void {
    const s = this.#begin();
    const a = this.#at;
    s[a] = IORING_OP_POLL_ADD;
    s[a + 1] = fd;
    s[a + 6] = multishot ? IORING_POLL_ADD_MULTI : 0;
    s[a + 7] = events;
    s[a + 8] = tagLo;
    s[a + 9] = tagHi;
    this.#push();
  }

  /**
   * A POLL_REMOVE of the poll tagged (`targetLo`, `targetHi`); its own completion is tagged
   * (`tagLo`, `tagHi`).
   */
  prepPollRemove(targetLo: number, targetHi: number, tagLo: number, tagHi: number): void {
    const s = this.#begin();
    const a = this.#at;
    s[a] = IORING_OP_POLL_REMOVE;
    s[a + 1] = -1;
    s[a + 4] = targetLo;
    s[a + 5] = targetHi;
    s[a + 8] = tagLo;
    s[a + 9] = tagHi;
    this.#push();
  }

  /**
   * A multishot RECV on `fd` into buffers of the provided-buffer group `group`, tagged (`tagLo`,
   * `tagHi`): one completion per arrival, until EOF (result 0), an error, or no free buffer
   * (-ENOBUFS). Each completion with data names its buffer in its flags.
   */
  prepRecvMultishot(fd: number, group: number, tagLo: number, tagHi: number): void {
    const s = this.#begin();
    const a = this.#at;
    s[a] = IORING_OP_RECV | (IOSQE_BUFFER_SELECT << 8) | (IORING_RECV_MULTISHOT << 16);
    s[a + 1] = fd;
    s[a + 8] = tagLo;
    s[a + 9] = tagHi;
    s[a + 10] = group;
    this.#push();
  }

  /**
   * An ASYNC_CANCEL of every request tagged (`targetLo`, `targetHi`); its own completion is
   * tagged (`tagLo`, `tagHi`) and answers how many were cancelled (or -ENOENT, -EALREADY).
   */
  prepCancel(targetLo: number, targetHi: number, tagLo: number, tagHi: number): void {
    const s = this.#begin();
    const a = this.#at;
    s[a] = IORING_OP_ASYNC_CANCEL;
    s[a + 1] = -1;
    s[a + 4] = targetLo;
    s[a + 5] = targetHi;
    s[a + 7] = IORING_ASYNC_CANCEL_ALL;
    s[a + 8] = tagLo;
    s[a + 9] = tagHi;
    this.#push();
  }

  /**
   * A SEND on `fd` of `length` bytes at `address` (memory that must stay put until the
   * completion) with send(2)'s `flags`, tagged (`tagLo`, `tagHi`).
   */
  prepSend(
    fd: number,
    address: number,
    length: number,
    flags: number,
    tagLo: number,
    tagHi: number,
  ): void {
    const s = this.#begin();
    const a = this.#at;
    s[a] = IORING_OP_SEND;
    s[a + 1] = fd;
    s[a + 4] = address % 0x100000000; // below 2^53: exact as a number
    s[a + 5] = Math.floor(address / 0x100000000);
    s[a + 6] = length;
    s[a + 7] = flags;
    s[a + 8] = tagLo;
    s[a + 9] = tagHi;
    this.#push();
  }

  /**
   * Turns every entry for `fd` that the kernel has not taken yet (prepared in the ring, or waiting
   * in the backlog) into a NOP with the same tag, so that nothing queued for `fd` can reach the
   * next owner of its number once the owner closes it. Returns how many were turned.
   */
  forget(fd: number): number {
    let turned = 0;
    const sqes = this.#sqes;
    for (let seq = this.#submitted; seq !== this.#tail; seq = (seq + 1) | 0) {
      turned += nopFor(sqes, (seq & this.#sqMask) * SQE_WORDS, fd);
    }
    for (let i = 0; i < this.#backlogCount; i++) {
      turned += nopFor(this.#backlog, i * SQE_WORDS, fd);
    }
    return turned;
  }

  /** A NOP tagged (`tagLo`, `tagHi`). */
  prepNop(tagLo: number, tagHi: number): void {
    const s = this.#begin();
    const a = this.#at;
    s[a] = IORING_OP_NOP;
    s[a + 8] = tagLo;
    s[a + 9] = tagHi;
    this.#push();
  }

  /**
   * Publishes what was prepared and submits it with one non-blocking io_uring_enter, which also
   * flushes completions held back by an overflow and runs completion work queued for this
   * thread (cooperative task running). Without anything to submit or flush, no syscall. Returns
   * the number submitted.
   */
  submit(): number {
    let submitted = 0;
    // The backlog goes first (in order); a ring it filled is submitted and refilled, bounded.
    for (let round = 0; round < BACKLOG_ROUNDS; round++) {
      if (this.#backlogCount > 0) this.#moveBacklog();
      const flags = Atomics.load(this.#ring, this.#sqFlags);
      const flush = (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
      const count = this.#tail - this.#submitted;
      if (count === 0 && !flush) break;
      const r = this.#enter(flush ? IORING_ENTER_GETEVENTS : 0);
      submitted += r;
      if (this.#backlogCount === 0 || r <= 0) break;
    }
    return submitted;
  }

  /** One non-blocking io_uring_enter of what is published; the number the kernel took. */
  #enter(flags: number): number {
    const count = this.#tail - this.#submitted;
    Atomics.store(this.#ring, this.#sqTail, this.#tail);
    let r = sysIoUringEnter(this.fd, count, flags);
    // EINTR and EAGAIN/EBUSY (no memory for requests now, or a full CQ): try again next turn.
    if (r < 0) {
      const errno = -r;
      if (errno === 4 || errno === 11 || errno === 16) return 0;
      throw new ErrnoError(errno, "io_uring_enter");
    }
    if (r > count) r = count;
    this.#submitted = (this.#submitted + r) | 0;
    return r;
  }

  /** Completions ready to read now (no syscall). */
  ready(): number {
    return (Atomics.load(this.#ring, this.#cqTail) - this.#ring[this.#cqHead]!) | 0;
  }

  /** The completion queue's tail now: the sequence number the next completion will get. */
  completionTail(): number {
    return Atomics.load(this.#ring, this.#cqTail);
  }

  /** The word index of the completion with sequence number `seq` (not consumed yet). */
  cqeAt(seq: number): number {
    return this.#cqes + (seq & this.#cqMask) * CQE_WORDS;
  }

  /** The `i`-th ready completion's word index (for the accessors below). */
  cqe(i: number): number {
    return this.#cqes + ((this.#ring[this.#cqHead]! + i) & this.#cqMask) * CQE_WORDS;
  }

  /** user_data's low half of the CQE at word `at`. */
  tagLo(at: number): number {
    return this.#ring[at]!;
  }

  /** user_data's high half. */
  tagHi(at: number): number {
    return this.#ring[at + 1]!;
  }

  /** The result (`-errno` on failure). */
  result(at: number): number {
    return this.#ring[at + 2]!;
  }

  /** The CQE flags (IORING_CQE_F_MORE, ...). */
  flags(at: number): number {
    return this.#ring[at + 3]!;
  }

  /** Overwrites the tag's high half and the flags of the completion at `at` (marks it taken). */
  retag(at: number, tagHi: number, flags: number): void {
    this.#ring[at + 1] = tagHi;
    this.#ring[at + 3] = flags;
  }

  /** Marks `n` completions as consumed. */
  advance(n: number): void {
    Atomics.store(this.#ring, this.#cqHead, (this.#ring[this.#cqHead]! + n) | 0);
  }

  /** Unmaps the rings and closes the fd (the kernel cancels whatever is still in flight). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    sysMunmap(this.#sqesMap, this.#sqesLength);
    sysMunmap(this.#map, this.#mapLength);
    sysClose(this.fd);
  }
}

/** Turns the SQE at `words[at]` into a NOP (its tag kept) if it is for `fd`: 1 if it was. */
function nopFor(words: Int32Array, at: number, fd: number): number {
  if (words[at + 1] !== fd || (words[at]! & 0xff) === IORING_OP_NOP) return 0;
  const lo = words[at + 8]!;
  const hi = words[at + 9]!;
  words.fill(0, at, at + SQE_WORDS);
  words[at] = IORING_OP_NOP;
  words[at + 8] = lo;
  words[at + 9] = hi;
  return 1;
}
