/**
 * Buffers that io_uring reads or writes while JS goes on: a provided-buffer ring for receives
 * ({@linkcode BufferRing}) and owned buffers for sends ({@linkcode SendBuffers}), each one
 * anonymous mapping whose pages are touched only when used.
 *
 * @module
 */

import {
  type Ring,
  RingUnavailable,
  sysIoUringRegister,
  sysMmapAnonymous,
  sysMunmap,
} from "./uring.ts";

const IORING_REGISTER_PBUF_RING = 22;
const IORING_UNREGISTER_PBUF_RING = 23;

/** struct io_uring_buf: 16 bytes (addr u64, len u32, bid u16, resv u16). */
const BUF_BYTES = 16;
/** struct io_uring_buf_reg: ring_addr u64, ring_entries u32, bgid u16, flags u16, resv[3]. */
const BUF_REG_SIZE = 40;
/** The ring's tail: a u16 over the resv field of its first entry (byte 14). */
const BUF_TAIL_INDEX = 7;

/**
 * A provided-buffer ring (IORING_REGISTER_PBUF_RING): `count` buffers of `size` bytes in one
 * anonymous mapping, which the kernel fills on receive and JS reads as typed arrays. A buffer the
 * kernel filled is lent to JS until {@linkcode BufferRing.give} hands it back (memory writes; the
 * tail is published once by {@linkcode BufferRing.publish}). Pages are touched only when used, so
 * idle connections cost no buffer.
 */
export class BufferRing {
  readonly group: number;
  readonly count: number;
  readonly size: number;
  #ring: Deno.PointerObject;
  #ringBytes: number;
  #memory: Deno.PointerObject;
  #memoryBytes: number;
  #entries: DataView;
  #tail16: Uint16Array;
  #tail = 0;
  #base: number;
  /** One view per buffer, made once. */
  #views: Uint8Array<ArrayBuffer>[] = [];
  #ringFd: number;
  #unregistered = false;
  #closed = false;

  private constructor(
    ringFd: number,
    group: number,
    count: number,
    size: number,
    ring: Deno.PointerObject,
    memory: Deno.PointerObject,
  ) {
    this.#ringFd = ringFd;
    this.group = group;
    this.count = count;
    this.size = size;
    this.#ring = ring;
    this.#ringBytes = count * BUF_BYTES;
    this.#memory = memory;
    this.#memoryBytes = count * size;
    const entries = Deno.UnsafePointerView.getArrayBuffer(ring, this.#ringBytes);
    this.#entries = new DataView(entries);
    this.#tail16 = new Uint16Array(entries);
    this.#base = Number(Deno.UnsafePointer.value(memory));
    const all = Deno.UnsafePointerView.getArrayBuffer(memory, this.#memoryBytes);
    for (let i = 0; i < count; i++) this.#views.push(new Uint8Array(all, i * size, size));
  }

  /**
   * Maps and registers a ring of `count` (a power of two up to 32768) buffers of `size` bytes as
   * group `group` of `ring`, every buffer given to the kernel. Throws {@linkcode RingUnavailable}
   * when the kernel refuses (before 5.19: EINVAL).
   */
  static open(ring: Ring, group: number, count: number, size: number): BufferRing {
    const entries = sysMmapAnonymous(count * BUF_BYTES);
    if (typeof entries === "number") {
      throw new RingUnavailable(`mmap of a buffer ring: errno ${-entries}`, -entries);
    }
    const memory = sysMmapAnonymous(count * size);
    if (typeof memory === "number") {
      sysMunmap(entries, count * BUF_BYTES);
      throw new RingUnavailable(`mmap of ring buffers: errno ${-memory}`, -memory);
    }
    const reg = new Uint8Array(BUF_REG_SIZE);
    const view = new DataView(reg.buffer);
    view.setBigUint64(0, BigInt(Deno.UnsafePointer.value(entries)), true);
    view.setUint32(8, count, true);
    view.setUint16(12, group, true);
    const r = sysIoUringRegister(ring.fd, IORING_REGISTER_PBUF_RING, reg, 1);
    if (r < 0) {
      sysMunmap(memory, count * size);
      sysMunmap(entries, count * BUF_BYTES);
      throw new RingUnavailable(`IORING_REGISTER_PBUF_RING: errno ${-r}`, -r);
    }
    const buffers = new BufferRing(ring.fd, group, count, size, entries, memory);
    for (let i = 0; i < count; i++) buffers.give(i);
    buffers.publish();
    return buffers;
  }

  /** Buffer `id`'s memory (valid while it is lent to JS). */
  view(id: number): Uint8Array<ArrayBuffer> {
    return this.#views[id]!;
  }

  /** Hands buffer `id` back to the kernel (seen after {@linkcode BufferRing.publish}). */
  give(id: number): void {
    const at = (this.#tail & (this.count - 1)) * BUF_BYTES;
    const e = this.#entries;
    const address = this.#base + id * this.size; // below 2^53: exact as a number
    e.setUint32(at, address % 0x100000000, true);
    e.setUint32(at + 4, Math.floor(address / 0x100000000), true);
    e.setUint32(at + 8, this.size, true);
    e.setUint16(at + 12, id, true);
    this.#tail = (this.#tail + 1) & 0xffff;
  }

  /** Publishes the buffers given since the last call (one release store of the tail). */
  publish(): void {
    Atomics.store(this.#tail16, BUF_TAIL_INDEX, this.#tail);
  }

  /**
   * Takes the group back from the kernel: no receive can pick a buffer after this. Call before
   * the ring closes, and {@linkcode BufferRing.unmap} after.
   */
  unregister(): void {
    if (this.#unregistered) return;
    this.#unregistered = true;
    const reg = new Uint8Array(BUF_REG_SIZE);
    new DataView(reg.buffer).setUint16(12, this.group, true);
    sysIoUringRegister(this.#ringFd, IORING_UNREGISTER_PBUF_RING, reg, 1);
  }

  /** Unmaps the memory (once the group is unregistered and the ring closed). */
  unmap(): void {
    if (this.#closed) return;
    this.#closed = true;
    sysMunmap(this.#memory, this.#memoryBytes);
    sysMunmap(this.#ring, this.#ringBytes);
  }
}

/**
 * Send buffers: `count` buffers of `size` bytes in one anonymous mapping, so that what a SEND on
 * the ring reads stays put until its completion, whatever JS does with its own memory meanwhile.
 * Pages are touched only when used. {@linkcode SendBuffers.take} lends one (or answers -1),
 * {@linkcode SendBuffers.release} takes it back.
 */
export class SendBuffers {
  readonly count: number;
  readonly size: number;
  #memory: Deno.PointerObject;
  #base: number;
  #views: Uint8Array<ArrayBuffer>[] = [];
  /** Free ids, a stack: the most recently used (warm) buffer goes out first. */
  #free: Int32Array;
  #freeCount: number;
  #closed = false;

  private constructor(count: number, size: number, memory: Deno.PointerObject) {
    this.count = count;
    this.size = size;
    this.#memory = memory;
    this.#base = Number(Deno.UnsafePointer.value(memory));
    const all = Deno.UnsafePointerView.getArrayBuffer(memory, count * size);
    this.#free = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      this.#views.push(new Uint8Array(all, i * size, size));
      this.#free[i] = count - 1 - i;
    }
    this.#freeCount = count;
  }

  /** Maps `count` buffers of `size` bytes; throws {@linkcode RingUnavailable} when mmap fails. */
  static open(count: number, size: number): SendBuffers {
    const memory = sysMmapAnonymous(count * size);
    if (typeof memory === "number") {
      throw new RingUnavailable(`mmap of send buffers: errno ${-memory}`, -memory);
    }
    return new SendBuffers(count, size, memory);
  }

  /** Buffers not lent. */
  get free(): number {
    return this.#freeCount;
  }

  /** Lends a buffer: its id, or -1 when every buffer is lent. */
  take(): number {
    return this.#freeCount === 0 ? -1 : this.#free[--this.#freeCount]!;
  }

  /** Takes buffer `id` back. */
  release(id: number): void {
    this.#free[this.#freeCount++] = id;
  }

  /** Buffer `id`'s memory. */
  view(id: number): Uint8Array<ArrayBuffer> {
    return this.#views[id]!;
  }

  /** Buffer `id`'s address, for an SQE. */
  address(id: number): number {
    return this.#base + id * this.size;
  }

  /** Unmaps the memory (once the ring that sent from it is closed). */
  unmap(): void {
    if (this.#closed) return;
    this.#closed = true;
    sysMunmap(this.#memory, this.count * this.size);
  }
}
