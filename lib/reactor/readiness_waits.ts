/**
 * The promises behind `Reactor.readable(fd)` and `Reactor.writable(fd)`, for descriptors the
 * reactor does not own: one level-triggered registration per fd, made when the first wait begins,
 * its interest the directions someone waits on, and dropped as soon as nobody waits (so the owner
 * may close the fd without telling the reactor). Any number of waiters per direction; each may
 * carry an AbortSignal. Sockets use `IoState` (lib/net/readiness.ts) instead: they own their fd,
 * so they keep one edge-triggered registration and a readiness cache.
 *
 * @module
 */

import { EEXIST } from "../../ffi/errno.ts";
import { fail } from "../../ffi/libc.ts";
import { ClosedError } from "../net/fd.ts";
import { Interest, Ready } from "./interest.ts";
import type { ReadyCallback, RegisterOptions, Registration } from "./registration.ts";

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

interface Waiter {
  resolve: (ready: number) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Per-fd state: the waiters of each direction and the registration serving them. */
class WaitSource {
  readers: Waiter[] = [];
  writers: Waiter[] = [];
  registration: Registration | undefined;
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
      ws = new WaitSource();
      const source = ws;
      try {
        ws.registration = this.#host.register(
          fd,
          read ? Interest.READABLE : Interest.WRITABLE,
          (ready) => this.#onReady(fd, source, ready),
          { ref: false },
        );
      } catch (e) {
        return Promise.reject(e);
      }
      this.#sources.set(fd, ws);
    }
    const source = ws;
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined };
      (read ? source.readers : source.writers).push(w);
      this.#pending++;
      this.#host.addRef(1);
      if (signal) {
        w.onAbort = () => {
          const list = read ? source.readers : source.writers;
          const i = list.indexOf(w);
          if (i >= 0) list.splice(i, 1);
          this.#settle(w, signal.reason);
          this.#updateInterest(fd, source);
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      this.#updateInterest(fd, source);
    });
  }

  /** The reactor dropped `registration`: if it served waits, they reject with ClosedError. */
  deregistered(registration: Registration): void {
    const ws = this.#sources.get(registration.fd);
    if (!ws || ws.registration !== registration) return;
    this.#sources.delete(registration.fd);
    const err = new ClosedError("readiness wait (fd deregistered)");
    for (const w of ws.readers) this.#settle(w, err);
    for (const w of ws.writers) this.#settle(w, err);
  }

  /** Rejects every pending wait with `error` (the reactor is closing). */
  rejectAll(error: unknown): void {
    for (const [fd, ws] of [...this.#sources]) {
      this.#sources.delete(fd);
      for (const w of ws.readers) this.#settle(w, error);
      for (const w of ws.writers) this.#settle(w, error);
    }
  }

  #settle(w: Waiter, error: unknown, ready = 0): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener("abort", w.onAbort);
    w.onAbort = undefined;
    this.#pending--;
    this.#host.addRef(-1);
    if (error !== undefined) w.reject(error);
    else w.resolve(ready);
  }

  #onReady(fd: number, ws: WaitSource, ready: number): void {
    if (ready & (Ready.READABLE | Ready.READ_CLOSED | Ready.ERROR)) {
      const readers = ws.readers;
      ws.readers = [];
      for (const w of readers) this.#settle(w, undefined, ready);
    }
    if (ready & (Ready.WRITABLE | Ready.WRITE_CLOSED | Ready.ERROR)) {
      const writers = ws.writers;
      ws.writers = [];
      for (const w of writers) this.#settle(w, undefined, ready);
    }
    this.#updateInterest(fd, ws);
  }

  #updateInterest(fd: number, ws: WaitSource): void {
    const reg = ws.registration;
    if (!reg || !reg.active) return;
    if (ws.readers.length === 0 && ws.writers.length === 0) {
      // No one waits: drop the registration so a later close of the fd needs nothing from us.
      this.#sources.delete(fd);
      this.#host.deregister(reg);
      return;
    }
    const interest = (ws.readers.length ? Interest.READABLE : 0) |
      (ws.writers.length ? Interest.WRITABLE : 0);
    if (interest !== reg.interest) this.#host.modify(reg, interest);
  }
}
