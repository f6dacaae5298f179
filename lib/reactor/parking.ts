/**
 * How an idle reactor parks off the JS thread, and the two designs measured
 * (bench/load/wake_latency.ts): a `nonblocking` FFI epoll_wait on Deno's blocking pool, and a
 * Worker blocked in a synchronous epoll_wait that signals through `Atomics.waitAsync`. Both wait
 * on the reactor's *outer* epoll fd, which holds only the inner epoll fd and the waker eventfd, so
 * a parked wait never consumes an inner event.
 *
 * @module
 */

import { epollWaitNonblocking } from "../../ffi/libc.ts";
import { EpollEventArray } from "../../ffi/structs.ts";
import { PARK_EVENT_SLOTS, PARK_EXIT, PARK_IDLE, PARK_REQUESTED } from "../../ffi/park_protocol.ts";

/** How an idle reactor waits for the next event. */
export type ParkingDesign = "nonblocking" | "worker";

const PARK_WORKER_URL = new URL("../../ffi/park_worker.ts", import.meta.url);

/**
 * A local Worker module needs read access: check it when the reactor is made, not at its first
 * park deep inside the loop, and fail with Deno's own error naming the flag.
 */
export function checkWorkerPermission(): void {
  if (PARK_WORKER_URL.protocol !== "file:") return;
  const desc = { name: "read", path: decodeURIComponent(PARK_WORKER_URL.pathname) } as const;
  if (Deno.permissions.querySync(desc).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Reactor({ parking: "worker" }) requires read access to "${desc.path}" (its worker ` +
        `module), run again with the --allow-read flag`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Parking

export interface Parker {
  /** Waits (off-thread) until the outer epoll fd is ready, then calls `onUnpark`. */
  park(onUnpark: () => void): void;
  /** The reactor has nothing to wait for: release whatever keeps the process alive. */
  idle(): void;
  /** Waits for a pending park (already woken through the eventfd) and releases everything. */
  close(): Promise<void>;
}

/** Parks in a `nonblocking` epoll_wait on the outer fd (Deno's blocking thread pool). */
export class NonblockingParker implements Parker {
  #outerFd: number;
  #buf: EpollEventArray;
  #pending: Promise<unknown> | undefined;

  constructor(outerFd: number) {
    this.#outerFd = outerFd;
    this.#buf = new EpollEventArray(PARK_EVENT_SLOTS);
  }

  park(onUnpark: () => void): void {
    // The buffer belongs to this call until it settles; it is never read (the outer set holds
    // only the inner epoll fd and the waker). -1 (EINTR) counts as a wake: we re-poll.
    const p = epollWaitNonblocking(this.#outerFd, this.#buf.bytes, PARK_EVENT_SLOTS, -1).then(
      () => {
        this.#pending = undefined;
        onUnpark();
      },
    );
    this.#pending = p;
  }

  idle(): void {
    // Nothing is pending when idle: a pending nonblocking call is what keeps the process alive.
  }

  async close(): Promise<void> {
    if (this.#pending) await this.#pending;
  }
}

/**
 * Parks in a Worker blocked in a synchronous epoll_wait on the outer fd; the worker signals with
 * `Atomics.notify` and the main thread awaits `Atomics.waitAsync`. A live Worker keeps the
 * process alive (a pending `waitAsync` does not), so the worker is asked to exit as soon as the
 * reactor has no referenced work, and a new one starts on the next park. Its runtime's own
 * descriptors are released a few milliseconds after it exits.
 */
export class WorkerParker implements Parker {
  #outerFd: number;
  #worker: Worker | undefined;
  #state = new Int32Array(new SharedArrayBuffer(4));
  #pending: Promise<unknown> | undefined;

  constructor(outerFd: number) {
    this.#outerFd = outerFd;
  }

  park(onUnpark: () => void): void {
    if (!this.#worker) {
      this.#state[0] = PARK_IDLE;
      this.#worker = new Worker(PARK_WORKER_URL, {
        type: "module",
      });
      this.#worker.postMessage({ state: this.#state.buffer, outerFd: this.#outerFd });
    }
    const s = this.#state;
    Atomics.store(s, 0, PARK_REQUESTED);
    Atomics.notify(s, 0);
    const r = Atomics.waitAsync(s, 0, PARK_REQUESTED);
    const done = (): void => {
      this.#pending = undefined;
      onUnpark();
    };
    if (r.async) {
      this.#pending = r.value.then(done);
    } else {
      queueMicrotask(done);
    }
  }

  idle(): void {
    // Nothing to wait for: let the thread exit so the process may too.
    this.#stop();
  }

  #stop(): void {
    if (!this.#worker) return;
    Atomics.store(this.#state, 0, PARK_EXIT);
    Atomics.notify(this.#state, 0);
    this.#worker = undefined;
  }

  async close(): Promise<void> {
    if (this.#pending) await this.#pending;
    this.#stop();
  }
}
