/**
 * The parking thread for the "worker" parking design (see lib/reactor.ts): a Deno Worker that
 * blocks in a synchronous epoll_wait on the reactor's outer epoll fd (which holds only the inner
 * epoll fd and the waker eventfd, so no inner event is ever consumed here) and tells the main
 * thread through `Atomics.notify` when something is ready.
 *
 * Protocol on the shared Int32Array `state[0]`: 0 idle, 1 park requested (by main), 2 woke (by
 * this worker), 3 exit (by main).
 *
 * @module
 */

import { sysEpollWait } from "./libc.ts";
import { epollEventLayout } from "./structs.ts";

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
  const events = new Uint8Array(epollEventLayout().size * 4);
  for (;;) {
    const c = Atomics.load(state, 0);
    if (c === 3) break;
    if (c === 1) {
      // Blocks this thread only. -1 (EINTR) is treated like a wake: the main thread re-polls.
      sysEpollWait(outerFd, events, 4, -1);
      if (Atomics.compareExchange(state, 0, 1, 2) === 1) Atomics.notify(state, 0);
      continue;
    }
    Atomics.wait(state, 0, c);
  }
  self.close();
};
