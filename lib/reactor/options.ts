/**
 * {@linkcode ReactorOptions}, {@linkcode ReactorStats} and the measured defaults of the
 * reactor's fairness policy.
 *
 * @module
 */

import type { ParkingDesign } from "./parking.ts";

/**
 * Default {@linkcode ReactorOptions.turnBudget}: events dispatched plus operations completed
 * without waiting, per reactor turn. Chosen by measurement (bench/load/fairness_compare.ts).
 */
export const DEFAULT_TURN_BUDGET = 64;

/**
 * Default {@linkcode ReactorOptions.yieldIntervalMs}: the most busy time between two yields to
 * Deno's runtime when its sockets show nothing (its timers need one too). Chosen by measurement
 * (bench/load/fairness_compare.ts): a yield costs 100-170 us of wall time when spaced out, so 10 ms
 * keeps the cost near 1-2% of a saturated loop.
 */
export const DEFAULT_YIELD_INTERVAL_MS = 10;

/** Options of {@linkcode Reactor}. */
export interface ReactorOptions {
  /**
   * The readiness backend: "epoll", or "uring" (io_uring poll requests: completions read from
   * shared memory, one io_uring_enter per turn). Default: `NETIO_BACKEND` when set (read only
   * if env access is granted), else epoll. Where io_uring is missing or refused (old kernel,
   * seccomp, `kernel.io_uring_disabled`) the reactor runs on epoll and says why in
   * `backendInfo()`.
   */
  backend?: "epoll" | "uring";
  /**
   * Submission queue entries of the io_uring backend (the kernel rounds up to a power of two
   * and allows at most 32768: more is refused, and the reactor falls back to epoll). Default
   * 1024; completions get 8 times as many. A full queue is submitted, never dropped.
   */
  uringEntries?: number;
  /**
   * Receive buffers of the io_uring backend (a power of two, at most 32768; default 256): the
   * data of receiving registrations lands in them and they come back to the kernel after each
   * turn. When all are in use, receiving waits for the next turn (nothing is lost). Memory is
   * taken only as buffers are used.
   */
  uringReceiveBuffers?: number;
  /** The size of each receive buffer in bytes (1024 to 1 MiB; default 16384). */
  uringReceiveBufferSize?: number;
  /**
   * Send buffers of the io_uring backend (1 to 32768; default 64): `Registration.send` copies
   * into one, held until its send ends; with none free it answers false and the caller writes
   * with send(2). Memory is taken only as buffers are used.
   */
  uringSendBuffers?: number;
  /** The size of each send buffer in bytes, the most one send takes (1024 to 1 MiB; 16384). */
  uringSendBufferSize?: number;
  /** Events taken per poll (default 1024). */
  maxEvents?: number;
  /** Empty polls (one macrotask turn each) before parking (default 8). */
  spinBeforePark?: number;
  /**
   * How to park when idle (default "nonblocking"). "worker" wakes faster (measured p50 ~36 us vs
   * ~60 us here) but starts a thread per busy period; see bench/load/wake_latency.ts.
   */
  parking?: ParkingDesign;
  /** Called when a readiness callback throws; the reactor keeps serving (default console.error). */
  onError?: (error: unknown, fd: number) => void;
  /**
   * The work one turn may do (default {@linkcode DEFAULT_TURN_BUDGET}): events dispatched, plus
   * socket operations that complete without waiting for readiness. Past it, operations wait for
   * the next turn, so a turn (its microtasks included) stays short. An integer in 1..65536.
   */
  turnBudget?: number;
  /**
   * While the reactor is busy, the most milliseconds between two yields that let Deno's runtime
   * park and poll its own I/O driver and timers, whether or not its sockets show events. Default
   * {@linkcode DEFAULT_YIELD_INTERVAL_MS}; 0 yields every other turn; `Infinity` never yields on
   * time (with `yieldOnRuntimeIo: false` too, Deno's sockets and timers progress only every ~61
   * turns while netio is saturated).
   */
  yieldIntervalMs?: number;
  /**
   * Yield at the start of a turn whenever Deno's own I/O driver has events it has not polled yet
   * (default true). Costs one epoll_wait per turn; off, only the periodic yield serves Deno's
   * sockets.
   */
  yieldOnRuntimeIo?: boolean;
}

/**
 * What {@linkcode Reactor.backendInfo} says.
 *
 * @example
 * ```ts
 * import type { BackendInfo } from "./options.ts";
 *
 * const info: BackendInfo = {
 *   backend: "epoll",
 *   requested: "uring",
 *   requestedBy: "option",
 *   receives: false,
 *   sends: false,
 * };
 * ```
 */
export interface BackendInfo {
  /** The backend running. */
  backend: "epoll" | "uring";
  /** The backend asked for. */
  requested: "epoll" | "uring";
  /** Who asked: the `backend` option, the `NETIO_BACKEND` variable, or the default. */
  requestedBy: "option" | "NETIO_BACKEND" | "default";
  /** Why the requested backend is not the one running. */
  fallbackReason?: string;
  /**
   * Whether READABLE interest can be served by receiving into the backend's own buffers
   * (io_uring with provided-buffer rings and multishot recv: Linux 6.0 or later); see
   * `RegisterOptions.onData`.
   */
  receives: boolean;
  /**
   * Whether a registration can send through the backend (io_uring: sends submitted with the
   * turn's other requests); see `RegisterOptions.onSent`.
   */
  sends: boolean;
}

/** Counters of a reactor, from {@linkcode Reactor.stats}. */
export interface ReactorStats {
  /** The backend running ("epoll" or "uring"). */
  backend: "epoll" | "uring";
  /** Registered fds. */
  registrations: number;
  /** Synchronous epoll_wait calls. */
  polls: number;
  /** Events dispatched (receive completions included). */
  events: number;
  /** Receive completions handed to `onData` callbacks (io_uring). */
  received: number;
  /** Receives that found every receive buffer in use and waited for the next turn. */
  receiveStalls: number;
  /** Sends queued on the backend by `Registration.send` (io_uring). */
  sent: number;
  /** Times the reactor parked. */
  parks: number;
  /** Times a parked wait returned. */
  unparks: number;
  /** Explicit `wake()` calls. */
  wakes: number;
  /** Events dropped because their registration was gone or replaced. */
  staleEvents: number;
  /** Callbacks that threw. */
  callbackErrors: number;
  /** Pending `readable`/`writable` waits. */
  pendingWaits: number;
  /**
   * Yields to Deno's runtime (see {@linkcode ReactorOptions.yieldOnRuntimeIo} and
   * {@linkcode ReactorOptions.yieldIntervalMs}).
   */
  yields: number;
  /** Whether the reactor watches Deno's I/O driver (its fd was found and the option is on). */
  watchingRuntimeIo: boolean;
  /**
   * Turns cut short by the budget: the dispatch limit was reached, or an operation had to wait for
   * the next turn (see {@linkcode ReactorOptions.turnBudget}).
   */
  budgetCutoffs: number;
  /** Operations that waited for the next turn because the turn's budget was spent. */
  deferredOperations: number;
}
