/**
 * The states of the "worker" parking design's shared Int32Array `state[0]`, written by the main
 * thread (lib/reactor/parking.ts) and by the parking Worker (ffi/park_worker.ts). A module of its
 * own so that both import the same names, and the main thread never loads the Worker's module.
 *
 * @module
 */

/** Nothing asked. */
export const PARK_IDLE = 0;
/** The main thread asks the worker to wait on the outer epoll fd. */
export const PARK_REQUESTED = 1;
/** The worker's wait returned; the main thread's `Atomics.waitAsync` resolves. */
export const PARK_WOKE = 2;
/** The main thread asks the worker to exit. */
export const PARK_EXIT = 3;

/** Events a parked wait takes at most (never read: only their arrival matters). */
export const PARK_EVENT_SLOTS = 4;
