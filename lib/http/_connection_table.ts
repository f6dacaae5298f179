/**
 * The live connections of one server and their deadlines, checked by one periodic sweep rather
 * than a timer per connection: arming and clearing a timer on every request would cost more than
 * the request, and an idle connection should cost no timer at all.
 *
 * @module
 */

import type { Conn } from "./_connection.ts";

/** Deadline slots allocated up front; doubled when the server holds more connections. */
const INITIAL_CAPACITY = 1024;

/**
 * Connections by fd (for readiness) and densely by slot (for the sweep), with each one's
 * deadline in a Float64Array indexed by the same slot, so the sweep reads plain doubles and
 * allocates nothing.
 */
export class ConnectionTable {
  #byFd: (Conn | undefined)[] = [];
  #live: Conn[] = [];
  /** When each live connection's state times out (ms since the epoch; 0 for never), by slot. */
  #deadlines = new Float64Array(INITIAL_CAPACITY);
  #now = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #intervalMs: number;
  #onExpired: (c: Conn) => void;

  /** `onExpired` runs from the sweep for each connection whose deadline has passed. */
  constructor(intervalMs: number, onExpired: (c: Conn) => void) {
    this.#intervalMs = intervalMs;
    this.#onExpired = onExpired;
  }

  /** Connections open now. */
  get size(): number {
    return this.#live.length;
  }

  /** The time of the last sweep (or of its start): deadlines count from it. */
  get now(): number {
    return this.#now;
  }

  /** The connection in slot `index` (`0 <= index < size`). */
  at(index: number): Conn {
    return this.#live[index]!;
  }

  /** The live connection on `fd`, if any. */
  get(fd: number): Conn | undefined {
    return this.#byFd[fd];
  }

  /** Adds a connection, with no deadline yet; starts the sweep with the first one. */
  add(c: Conn): void {
    this.#byFd[c.fd] = c;
    c.slot = this.#live.length;
    this.#live.push(c);
    if (c.slot === this.#deadlines.length) {
      const grown = new Float64Array(this.#deadlines.length * 2);
      grown.set(this.#deadlines);
      this.#deadlines = grown;
    }
    if (this.#timer === undefined) this.#start();
  }

  /**
   * Removes the connection that was on `fd`: the last one moves into its slot, so the dense list
   * stays dense. Stops the sweep when none is left.
   */
  remove(c: Conn, fd: number): void {
    this.#byFd[fd] = undefined;
    const live = this.#live;
    const last = live.pop()!;
    if (last !== c) {
      live[c.slot] = last;
      this.#deadlines[c.slot] = this.#deadlines[last.slot]!;
      last.slot = c.slot;
    }
    if (live.length === 0) this.stop();
  }

  /** Sets when the connection's current state times out; 0 for never. */
  setDeadline(c: Conn, deadline: number): void {
    this.#deadlines[c.slot] = deadline;
  }

  /** The deadline `timeoutMs` from now, or 0 (never) for a timeout of 0. */
  after(timeoutMs: number): number {
    return timeoutMs > 0 ? this.#now + timeoutMs : 0;
  }

  /** Stops the sweep (it starts again with the next connection). */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #start(): void {
    this.#now = Date.now();
    const timer = setInterval(this.#sweep, this.#intervalMs);
    // The connections' registrations keep the process alive; the sweep only serves them.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #sweep = (): void => {
    const now = this.#now = Date.now();
    const live = this.#live;
    // Backwards: closing swaps the last connection into the closed one's slot.
    for (let i = live.length - 1; i >= 0; i--) {
      const deadline = this.#deadlines[i]!;
      if (deadline === 0 || deadline > now) continue;
      this.#onExpired(live[i]!);
    }
  };
}
