/**
 * Tells the reactor when Deno's own I/O driver has events it has not polled yet, so that the
 * reactor can yield to it exactly then (see the fairness section of `reactor.ts`).
 *
 * Deno's runtime is a tokio runtime; its I/O driver is an epoll fd that the thread running
 * JavaScript waits on when it parks. An epoll fd is itself pollable (readable while its ready list
 * is not empty), and polling it from another epoll set consumes none of its events. So a set of
 * ours that holds the driver's epoll fd, level-triggered, answers "are Deno's sockets waiting?" in
 * one `epoll_wait(…, 0)`.
 *
 * Which epoll fd is ours to watch: the runtime makes its driver before any JavaScript runs, but
 * `deno run` runs JavaScript on the main thread's runtime (fd 3 in Deno 2.9.6) while `deno test`
 * runs it on a runtime of its own (fd 34 in one run here), and every Worker has one. No syscall
 * tells which one this thread waits on, so every epoll fd that exists when the first reactor is made
 * is watched (told apart with no side effect: EPOLL_CTL_DEL of a fresh eventfd, which no set can
 * hold, fails with ENOENT on an epoll fd and EINVAL on anything else). Another thread's driver that
 * shows events makes the reactor yield for nothing: at worst every other turn, ~30 us each when
 * yields come back to back. A pruning rule ("still ready after a yield, so not ours") was tried and
 * dropped: under steady traffic this thread's own driver is ready again right after most yields
 * (94% in one run), and pruning it starved Deno's sockets.
 *
 * @module
 */

import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLIN,
} from "../../ffi/constants.ts";
import { ENOENT } from "../../ffi/errno.ts";
import {
  sysClose,
  sysEpollCreate1,
  sysEpollCtl,
  sysEpollWait,
  sysEventfd,
} from "../../ffi/libc.ts";
import { EpollEventArray } from "../../ffi/structs.ts";

/** Deno's runtimes make their drivers among their very first descriptors. */
const SEARCH_LIMIT = 256;

/** The epoll fds that existed before netio made any (looked for once); null: not yet. */
let preexisting: number[] | null = null;

/**
 * The epoll fds of the process that are not netio's, found once, before the first reactor makes
 * its own. Bounded scan of fds 0..255.
 */
export function runtimeEpollFds(): readonly number[] {
  if (preexisting) return preexisting;
  preexisting = [];
  const probe = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (probe < 0) return preexisting;
  for (let fd = 0; fd < SEARCH_LIMIT; fd++) {
    if (fd !== probe && sysEpollCtl(fd, EPOLL_CTL_DEL, probe, null) === -ENOENT) {
      preexisting.push(fd);
    }
  }
  sysClose(probe);
  return preexisting;
}

/**
 * A watch over Deno's I/O driver(s): `pending()` at the start of a turn says whether to yield.
 *
 * @example
 * ```ts ignore
 * const watch = RuntimeWatch.open(runtimeEpollFds());
 * if (watch?.pending()) {
 *   // yield to the runtime
 * }
 * watch?.close();
 * ```
 */
export class RuntimeWatch {
  #fd: number;
  #watched: Set<number>;
  #events = new EpollEventArray(1);

  /** @internal Use {@linkcode RuntimeWatch.open}. */
  constructor(fd: number, watched: Set<number>) {
    this.#fd = fd;
    this.#watched = watched;
  }

  /**
   * A watch over `candidates`, or null when there is nothing to watch or the kernel refuses (the
   * watch is an optimisation: the reactor's periodic yield still holds).
   */
  static open(candidates: readonly number[]): RuntimeWatch | null {
    if (candidates.length === 0) return null;
    const fd = sysEpollCreate1(EPOLL_CLOEXEC);
    if (fd < 0) return null;
    const event = new EpollEventArray(1);
    const watched = new Set<number>();
    for (const candidate of candidates) {
      event.set(0, EPOLLIN, candidate, 0);
      if (sysEpollCtl(fd, EPOLL_CTL_ADD, candidate, event.bytes) === 0) watched.add(candidate);
    }
    if (watched.size === 0) {
      sysClose(fd);
      return null;
    }
    return new RuntimeWatch(fd, watched);
  }

  /** The driver fds still watched. */
  get watched(): number {
    return this.#watched.size;
  }

  /** True when a watched driver has events its runtime has not polled yet. */
  pending(): boolean {
    return this.#poll() > 0;
  }

  #poll(): number {
    if (this.#watched.size === 0) return 0;
    return sysEpollWait(this.#fd, this.#events.bytes, 1, 0);
  }

  /** Closes the watch's own epoll fd (the watched fds are Deno's and stay open). */
  close(): void {
    if (this.#fd < 0) return;
    sysClose(this.#fd);
    this.#fd = -1;
    this.#watched.clear();
  }
}
