/**
 * Leak detection (HikariCP's `leakDetectionThreshold`): a lease held longer than
 * `leakDetectionMs` is reported once, with the stack of the acquire that took it.
 *
 * @module
 */

import type { LeakReport } from "./options.ts";
import type { PooledConnection, Timer } from "./_host.ts";

/** The stack without its first line (the error's own message, "Error: acquired here"). */
function stackOf(error: Error | undefined): string {
  const stack = error?.stack ?? "";
  const firstFrame = stack.indexOf("\n");
  return firstFrame < 0 ? "" : stack.slice(firstFrame + 1);
}

/**
 * Watches lent connections and reports those held too long. Off (every method a no-op) when the
 * threshold is 0. Its one timer is unref'd: it never keeps the process alive.
 *
 * @example
 * ```ts
 * import { LeakDetector } from "./_leaks.ts";
 * const detector = new LeakDetector(0, console.warn);
 * console.log(detector.captureStack(), detector.reported); // undefined 0
 * detector.close();
 * ```
 */
export class LeakDetector {
  readonly #thresholdMs: number;
  readonly #onLeak: (report: LeakReport) => void;
  readonly #lent = new Set<PooledConnection>();
  #timer: Timer | undefined;
  #closed = false;
  #reported = 0;

  /**
   * @param thresholdMs how long a lease may be held before it is reported; 0: off
   * @param onLeak receives each report
   */
  constructor(thresholdMs: number, onLeak: (report: LeakReport) => void) {
    this.#thresholdMs = thresholdMs;
    this.#onLeak = onLeak;
  }

  /** Leases reported so far. */
  get reported(): number {
    return this.#reported;
  }

  /** The stack to remember for an acquire, or undefined when off: a capture costs. */
  captureStack(): Error | undefined {
    return this.#thresholdMs > 0 ? new Error("acquired here") : undefined;
  }

  /** A connection was lent by the acquire whose stack is `stack`. */
  lent(conn: PooledConnection, stack: Error | undefined): void {
    if (this.#thresholdMs === 0) return;
    conn.acquiredAt = Date.now();
    conn.stack = stack;
    conn.leakReported = false;
    this.#lent.add(conn);
    if (this.#timer === undefined) this.#arm(conn.acquiredAt + this.#thresholdMs);
  }

  /** A lent connection came back (or was destroyed). */
  returned(conn: PooledConnection): void {
    if (this.#thresholdMs === 0) return;
    this.#lent.delete(conn);
    conn.stack = undefined;
  }

  /** Stops watching: the pool is closed. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lent.clear();
  }

  #arm(at: number): void {
    if (this.#closed) return;
    const timer = setTimeout(this.#check, Math.max(0, Math.ceil(at - Date.now())));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #check = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = Date.now();
    let next = Infinity;
    const leaked: PooledConnection[] = [];
    for (const conn of this.#lent) {
      if (conn.leakReported) continue;
      const due = conn.acquiredAt + this.#thresholdMs;
      if (due <= now) leaked.push(conn);
      else if (due < next) next = due;
    }
    for (const conn of leaked) {
      conn.leakReported = true;
      this.#reported++;
      try {
        this.#onLeak({
          hostname: conn.host.hostname,
          port: conn.host.port,
          heldMs: now - conn.acquiredAt,
          stack: stackOf(conn.stack),
        });
      } catch (error) {
        // A failing reporter must not take the pool down with it.
        console.error("netio ConnectionPool: onLeak threw", error);
      }
    }
    if (next !== Infinity && this.#timer === undefined) this.#arm(next);
  };
}
