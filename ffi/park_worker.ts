/**
 * The parking thread for the "worker" parking design (see lib/reactor/parking.ts): a Deno Worker that
 * blocks in a synchronous epoll_wait on the reactor's outer epoll fd (which holds only the inner
 * epoll fd and the waker eventfd, so no inner event is ever consumed here) and tells the main
 * thread through `Atomics.notify` when something is ready.
 *
 * Protocol on the shared Int32Array `state[0]`: see ./park_protocol.ts.
 *
 * @module
 */

import { sysEpollWait } from "./libc.ts";
import { EpollEventArray } from "./structs.ts";
import { PARK_EVENT_SLOTS, PARK_EXIT, PARK_REQUESTED, PARK_WOKE } from "./park_protocol.ts";

interface ParkInit {
  state: SharedArrayBuffer;
  outerFd: number;
}

const self = globalThis as unknown as {
  onmessage: ((e: MessageEvent<ParkInit>) => void) | null;
  postMessage(m: unknown): void;
  close(): void;
};

self.onmessage = (e: MessageEvent<ParkInit>): void => {
  self.onmessage = null;
  const state = new Int32Array(e.data.state);
  const outerFd = e.data.outerFd;
  const events = new EpollEventArray(PARK_EVENT_SLOTS);
  for (;;) {
    const c = Atomics.load(state, 0);
    if (c === PARK_EXIT) break;
    if (c === PARK_REQUESTED) {
      // Blocks this thread only. -1 (EINTR) is treated like a wake: the main thread re-polls.
      sysEpollWait(outerFd, events.bytes, PARK_EVENT_SLOTS, -1);
      if (Atomics.compareExchange(state, 0, PARK_REQUESTED, PARK_WOKE) === PARK_REQUESTED) {
        Atomics.notify(state, 0);
      }
      continue;
    }
    Atomics.wait(state, 0, c);
  }
  self.close();
};
