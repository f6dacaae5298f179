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

/** The backends a reactor can run on. */
export type BackendName = "epoll" | "uring";

/** The kernel side of a reactor's registrations. */
export interface Backend {
  readonly name: BackendName;
  /** Watched by the parking set: readable when events are ready. */
  readonly fd: number;
  /** Starts watching `fd` (not registered yet) for `interest`; events carry `generation`. */
  add(fd: number, interest: number, generation: number): void;
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
  /** Its {@linkcode Ready} flags. */
  eventReady(i: number): number;
  /** Hands the kernel what is queued (before the reactor parks). */
  flush(): void;
  close(): void;
}

/** epoll(7): one epoll fd, level-triggered unless asked; the data word is (fd, generation). */
export class EpollBackend implements Backend {
  readonly name = "epoll";
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

  flush(): void {}

  close(): void {
    sysClose(this.fd);
  }
}
