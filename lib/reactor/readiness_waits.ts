/**
 * The promises behind `Reactor.readable(fd)` and `Reactor.writable(fd)`, for descriptors the
 * reactor does not own: one level-triggered registration per fd, made when the first wait begins,
 * its interest the directions someone waits on, and dropped as soon as nobody waits (so the owner
 * may close the fd without telling the reactor). Any number of waiters per direction; each may
 * carry an AbortSignal. The waiters themselves are {@linkcode Waiters}, the same mechanism sockets
 * use; what differs is the registration: sockets (`IoState`, lib/net/readiness.ts) own their fd, so
 * they keep one edge-triggered registration and a readiness cache, while these fds are borrowed.
 *
 * @module
 */

import { EEXIST } from "../../ffi/errno.ts";
import { fail } from "../../ffi/libc.ts";
import { ClosedError } from "../net/fd.ts";
import { Interest, Ready } from "./interest.ts";
import type { ReadyCallback, RegisterOptions, Registration } from "./registration.ts";
import { type WaiterHost, Waiters } from "./waiters.ts";

/** @internal What the waits need from their reactor. */
export interface WaitHost {
  /** Reactor.register. */
  register(
    fd: number,
    interest: number,
    onReady: ReadyCallback,
    options: RegisterOptions,
  ): Registration;
  /** Reactor.modify. */
  modify(registration: Registration, interest: number): void;
  /** Reactor.deregister. */
  deregister(registration: Registration): void;
  /** Keeps the process alive while > 0. */
  addRef(delta: number): void;
  /** Whether `fd` is registered already (by anyone). */
  isRegistered(fd: number): boolean;
}

/** Per-fd state: the waiters of each direction and the registration serving them. */
class WaitSource {
  readers: Waiters;
  writers: Waiters;
  registration: Registration | undefined;

  constructor(host: WaiterHost, onAbandoned: () => void) {
    this.readers = new Waiters(host, onAbandoned);
    this.writers = new Waiters(host, onAbandoned);
  }
}

/**
 * @internal The readable/writable waits of one reactor.
 *
 * @example
 * ```ts ignore
 * const waits = new ReadinessWaits(host);
 * const ready = await waits.wait(fd, true, undefined);
 * ```
 */
export class ReadinessWaits {
  #host: WaitHost;
  #sources = new Map<number, WaitSource>();
  #pending = 0;
  // Keeps the process alive through the reactor and counts the pending waits.
  #refs: WaiterHost = {
    addRef: (delta) => {
      this.#pending += delta;
      this.#host.addRef(delta);
    },
  };

  /** Waits served through `host`. */
  constructor(host: WaitHost) {
    this.#host = host;
  }

  /** Pending waits. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves with Ready flags when `fd` is ready in direction `read` (readable) or writable. */
  wait(fd: number, read: boolean, signal: AbortSignal | undefined): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let ws = this.#sources.get(fd);
    if (!ws) {
      if (this.#host.isRegistered(fd)) return Promise.reject(fail(-EEXIST, "epoll_ctl"));
      const source: WaitSource = new WaitSource(this.#refs, () => this.#updateInterest(fd, source));
      try {
        source.registration = this.#host.register(
          fd,
          read ? Interest.READABLE : Interest.WRITABLE,
          (ready) => this.#onReady(fd, source, ready),
          { ref: false },
        );
      } catch (e) {
        return Promise.reject(e);
      }
      this.#sources.set(fd, source);
      ws = source;
    }
    const promise = (read ? ws.readers : ws.writers).wait(signal);
    this.#updateInterest(fd, ws);
    return promise;
  }

  /** The reactor dropped `registration`: if it served waits, they reject with ClosedError. */
  deregistered(registration: Registration): void {
    const ws = this.#sources.get(registration.fd);
    if (!ws || ws.registration !== registration) return;
    this.#sources.delete(registration.fd);
    const err = new ClosedError("readiness wait (fd deregistered)");
    ws.readers.fail(err);
    ws.writers.fail(err);
  }

  /** Rejects every pending wait with `error` (the reactor is closing). */
  rejectAll(error: unknown): void {
    for (const [fd, ws] of [...this.#sources]) {
      this.#sources.delete(fd);
      ws.readers.fail(error);
      ws.writers.fail(error);
    }
  }

  #onReady(fd: number, ws: WaitSource, ready: number): void {
    if (ready & (Ready.READABLE | Ready.READ_CLOSED | Ready.ERROR)) ws.readers.wake(ready);
    if (ready & (Ready.WRITABLE | Ready.WRITE_CLOSED | Ready.ERROR)) ws.writers.wake(ready);
    this.#updateInterest(fd, ws);
  }

  #updateInterest(fd: number, ws: WaitSource): void {
    const reg = ws.registration;
    if (!reg || !reg.active) return;
    if (ws.readers.count === 0 && ws.writers.count === 0) {
      // No one waits: drop the registration so a later close of the fd needs nothing from us.
      this.#sources.delete(fd);
      this.#host.deregister(reg);
      return;
    }
    const interest = (ws.readers.count ? Interest.READABLE : 0) |
      (ws.writers.count ? Interest.WRITABLE : 0);
    if (interest !== reg.interest) this.#host.modify(reg, interest);
  }
}
