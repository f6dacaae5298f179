/**
 * {@linkcode Waiters}: the one mechanism by which netio parks a promise until a direction of a
 * descriptor is ready. Sockets (`IoState`, lib/net/readiness.ts) keep one per direction and allow
 * one waiter in it; `Reactor.readable()`/`writable()` (readiness_waits.ts) keep one per direction
 * and allow many. Each waiter keeps the process alive while it waits, and may carry an AbortSignal.
 *
 * @module
 */

/** What the waiters keep alive: `addRef(1)` per waiter, `addRef(-1)` when it settles. */
export interface WaiterHost {
  /** Adds to the count of things keeping the process alive. */
  addRef(delta: number): void;
}

interface Waiter {
  resolve: (ready: number) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * The waiters of one direction of one descriptor, settled together: `wake(ready)` resolves them
 * all with the readiness flags, `fail(error)` rejects them all. An aborted waiter leaves at once
 * (rejected with the signal's reason) and `onAbandoned` runs, so the owner can drop interest
 * nobody needs any more.
 *
 * @example
 * ```ts
 * import { Waiters } from "./waiters.ts";
 *
 * let refs = 0;
 * const waiters = new Waiters({ addRef: (d) => refs += d });
 * const ready = waiters.wait(undefined);
 * console.log(waiters.count, refs); // 1 1
 * waiters.wake(1);
 * console.log(await ready, refs); // 1 0
 * ```
 */
export class Waiters {
  #host: WaiterHost;
  #onAbandoned: (() => void) | undefined;
  #list: Waiter[] = [];
  // Swapped with #list on every wake, so waking allocates no array.
  #spare: Waiter[] = [];

  /** Waiters kept alive through `host`; `onAbandoned` runs after an abort removed one. */
  constructor(host: WaiterHost, onAbandoned?: () => void) {
    this.#host = host;
    this.#onAbandoned = onAbandoned;
  }

  /** Waiters now. */
  get count(): number {
    return this.#list.length;
  }

  /**
   * A promise that resolves with the Ready flags of the next `wake`, or rejects with `fail`'s error
   * or the signal's reason. The caller checks `signal.aborted` first.
   */
  wait(signal: AbortSignal | undefined): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined };
      this.#list.push(w);
      this.#host.addRef(1);
      if (signal) {
        w.onAbort = () => {
          const i = this.#list.indexOf(w);
          if (i < 0) return;
          this.#list.splice(i, 1);
          this.#settle(w, signal.reason, 0);
          this.#onAbandoned?.();
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
    });
  }

  /** Resolves every waiter with `ready`. */
  wake(ready: number): void {
    if (this.#list.length === 0) return;
    const list = this.#list;
    this.#list = this.#spare;
    for (const w of list) this.#settle(w, undefined, ready);
    list.length = 0;
    this.#spare = list;
  }

  /** Rejects every waiter with `error`. */
  fail(error: unknown): void {
    if (this.#list.length === 0) return;
    const list = this.#list;
    this.#list = this.#spare;
    for (const w of list) this.#settle(w, error, 0);
    list.length = 0;
    this.#spare = list;
  }

  #settle(w: Waiter, error: unknown, ready: number): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener("abort", w.onAbort);
    w.onAbort = undefined;
    this.#host.addRef(-1);
    if (error !== undefined) w.reject(error);
    else w.resolve(ready);
  }
}
