/**
 * The readiness backends of the {@linkcode Reactor}: epoll, and io_uring (uring_backend.ts).
 * A backend keeps the kernel's side of the registrations and hands out ready events as
 * (fd, generation, readiness) triples; the reactor does the rest (callbacks, budget, parking,
 * fairness) the same way for both. Its `fd` is what the outer parking set watches: readable when
 * events are ready.
 *
 * @module
 */

import { EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD } from "../../ffi/constants.ts";
import { EINTR } from "../../ffi/errno.ts";
import {
  check,
  fail,
  sysClose,
  sysEpollCreate1,
  sysEpollCtl,
  sysEpollWait,
} from "../../ffi/libc.ts";
import { EpollEventArray } from "../../ffi/structs.ts";
import { interestToEpoll, readinessFromEpoll } from "./interest.ts";

/**
 * The `eventReady` of a receive completion (not a {@linkcode Ready} flag): the data is
 * `eventData(i)[0, eventResult(i))`, or an EOF (0) or an error (-errno).
 */
export const RECEIVED = 1 << 30;

/**
 * The `eventReady` of a send completion (not a {@linkcode Ready} flag): `eventResult(i)` is the
 * number of bytes sent (all of them) or -errno.
 */
export const SENT = 1 << 29;

/** The backends a reactor can run on. */
export type BackendName = "epoll" | "uring";

/** The kernel side of a reactor's registrations. */
export interface Backend {
  readonly name: BackendName;
  /** Watched by the parking set: readable when events are ready. */
  readonly fd: number;
  /**
   * Whether READABLE interest can be served by receiving: the backend reads the data itself
   * into buffers of its own and hands it out as {@linkcode RECEIVED} events.
   */
  readonly receives: boolean;
  /** Receives that ran out of buffers and waited for the next turn. */
  readonly receiveStalls: number;
  /** Whether {@linkcode Backend.send} can send (io_uring). */
  readonly sends: boolean;
  /**
   * Whether a poll with nothing queued costs no syscall (io_uring: completions are read from
   * shared memory), so the reactor may poll again within a turn.
   */
  readonly cheapPolls: boolean;
  /**
   * Starts watching `fd` (not registered yet) for `interest`; events carry `generation`. With
   * `receive` (only where {@linkcode Backend.receives}), READABLE interest is served by receiving.
   * `socket` says the caller knows `fd` is a socket (no need to check its type).
   */
  add(fd: number, interest: number, generation: number, receive: boolean, socket: boolean): void;
  /** Changes the interest of a watched fd. */
  modify(fd: number, interest: number, generation: number): void;
  /** Stops watching `fd`, before its owner closes it. */
  remove(fd: number): void;
  /** Takes up to `limit` ready events; read them with the accessors below. Never blocks. */
  poll(limit: number): number;
  /** The fd of event `i` of the last poll. */
  eventFd(i: number): number;
  /** Its generation (a stale event's does not match the registration's). */
  eventGeneration(i: number): number;
  /** Its {@linkcode Ready} flags, or {@linkcode RECEIVED}. */
  eventReady(i: number): number;
  /** A receive event's byte count, 0 for EOF, or -errno. */
  eventResult(i: number): number;
  /** A receive event's data (valid until the next poll or flush). */
  eventData(i: number): Uint8Array<ArrayBuffer>;
  /**
   * Stops receiving on `fd` now and hands every byte already received (not yet handed out) to
   * `deliver`, in order, before returning: what follows stays in the socket.
   */
  drain(fd: number, deliver: (data: Uint8Array<ArrayBuffer>, n: number) => void): void;
  /**
   * Sends `data[0, n)` on the watched `fd`, copied into a buffer of the backend's own: queued
   * now, submitted with the turn's other requests, ended by one {@linkcode SENT} event. False
   * (nothing queued) where it cannot: no such backend, a send of `fd` in flight, `n` larger than
   * a buffer, or no free buffer; the caller then writes as usual.
   */
  send(fd: number, data: Uint8Array, n: number): boolean;
  /** Hands the kernel what is queued (before the reactor parks). */
  flush(): void;
  close(): void;
}

const NO_DATA = new Uint8Array(0);

/** epoll(7): one epoll fd, level-triggered unless asked; the data word is (fd, generation). */
export class EpollBackend implements Backend {
  readonly name = "epoll";
  readonly receives = false;
  readonly receiveStalls = 0;
  readonly sends = false;
  readonly cheapPolls = false;
  readonly fd: number;
  #events: EpollEventArray;
  #ctlEvent = new EpollEventArray(1);

  constructor(maxEvents: number) {
    this.fd = check(sysEpollCreate1(EPOLL_CLOEXEC), "epoll_create1");
    this.#events = new EpollEventArray(maxEvents);
  }

  #ctl(op: number, fd: number, interest: number, generation: number): void {
    this.#ctlEvent.set(0, interestToEpoll(interest), fd, generation);
    const r = sysEpollCtl(this.fd, op, fd, this.#ctlEvent.bytes);
    if (r < 0) throw fail(r, "epoll_ctl");
  }

  add(fd: number, interest: number, generation: number): void {
    this.#ctl(EPOLL_CTL_ADD, fd, interest, generation);
  }

  modify(fd: number, interest: number, generation: number): void {
    this.#ctl(EPOLL_CTL_MOD, fd, interest, generation);
  }

  remove(fd: number): void {
    sysEpollCtl(this.fd, EPOLL_CTL_DEL, fd, null);
  }

  poll(limit: number): number {
    // Fewer slots than ready fds is safe: epoll keeps the rest on its ready list (edge-triggered
    // ones included) and hands them out first on the next call.
    const n = sysEpollWait(this.fd, this.#events.bytes, limit, 0);
    if (n < 0) {
      if (n === -EINTR) return 0;
      throw fail(n, "epoll_wait");
    }
    return n;
  }

  eventFd(i: number): number {
    return this.#events.fd(i);
  }

  eventGeneration(i: number): number {
    return this.#events.generation(i);
  }

  eventReady(i: number): number {
    return readinessFromEpoll(this.#events.events(i));
  }

  eventResult(_i: number): number {
    return 0;
  }

  eventData(_i: number): Uint8Array<ArrayBuffer> {
    return NO_DATA;
  }

  drain(): void {}

  send(): boolean {
    return false;
  }

  flush(): void {}

  close(): void {
    sysClose(this.fd);
  }
}
