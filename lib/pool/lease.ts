/**
 * {@linkcode Lease}: one connection lent by a {@linkcode ConnectionPool}, and the small internal
 * interface ({@linkcode LentConnection}) through which it goes back.
 *
 * @module
 */

import { ClosedError } from "../net/fd.ts";
import type { TcpStream } from "../net/mod.ts";

/**
 * What a {@linkcode Lease} holds: the connection lent and the way to give it back. The pool's own
 * connection record implements it, so a lease needs nothing else from the pool and this file
 * imports nothing from it (no import cycle, no access to the pool's private state).
 *
 * This is how netio keeps a constructor internal: the constructor is public to the type system,
 * marked `@internal`, and takes an internal object that only the library builds. There are no
 * module-level hooks and no static blocks reaching into another class's private fields.
 *
 * @internal
 *
 * @example
 * ```ts
 * import { Lease, type LentConnection } from "./lease.ts";
 * import type { TcpStream } from "../net/mod.ts";
 *
 * // What the pool does when it lends a connection (its own record is the LentConnection):
 * function lend(stream: TcpStream, giveBack: (destroy: boolean) => void): Lease {
 *   const lent: LentConnection = { stream, giveBack };
 *   return new Lease(lent, false);
 * }
 * console.log(typeof lend); // function
 * ```
 */
export interface LentConnection {
  /** The connection's stream. */
  readonly stream: TcpStream;
  /** Gives the connection back to its pool: to be reused, or closed when `destroy` is true. */
  giveBack(destroy: boolean): void;
}

/**
 * One connection lent by a {@linkcode ConnectionPool}. Give it back with `release()` (or let
 * `using` / `await using` do it); `destroy()` closes it instead, for a connection left in an
 * unknown state (an error mid-request, a protocol that ended it). Both are idempotent, and after
 * either `stream` throws: the connection may already belong to someone else.
 *
 * @example
 * ```ts
 * import { ConnectionPool, TcpListener } from "../../mod.ts";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * await using pool = new ConnectionPool({ maxConnections: 4 });
 * {
 *   using lease = await pool.acquire({ hostname: "127.0.0.1", port: listener.addr.port });
 *   using _server = await listener.accept();
 *   await lease.stream.writeAll(new TextEncoder().encode("hello"));
 *   console.log(lease.reused); // false: a new connection
 * } // released here (after the server side closed: the pool will find it stale and replace it)
 * console.log(pool.stats().idle); // 1
 * ```
 */
export class Lease {
  /** Undefined once released or destroyed: that is what makes both idempotent. */
  #lent: LentConnection | undefined;
  /** Kept apart from `#lent` so that `stream` costs no extra hop on every use. */
  readonly #stream: TcpStream;
  readonly #reused: boolean;

  /**
   * @internal Leases come from {@linkcode ConnectionPool.acquire} and
   * {@linkcode ConnectionPool.tryAcquire}.
   *
   * @param lent the connection and the way back to its pool
   * @param reused whether it came from the idle set
   */
  constructor(lent: LentConnection, reused: boolean) {
    this.#lent = lent;
    this.#stream = lent.stream;
    this.#reused = reused;
  }

  /** The connection. Throws {@linkcode ClosedError} once the lease was released or destroyed. */
  get stream(): TcpStream {
    if (this.#lent === undefined) throw new ClosedError("lease.stream");
    return this.#stream;
  }

  /** Whether the connection was reused from the idle set (false: opened for this acquire). */
  get reused(): boolean {
    return this.#reused;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.#lent === undefined;
  }

  /**
   * Gives the connection back for reuse. Release only a connection whose last exchange is
   * complete (nothing left unread): bytes left over are found by the next check and the
   * connection is discarded. A second call does nothing.
   */
  release(): void {
    const lent = this.#lent;
    if (lent === undefined) return;
    this.#lent = undefined;
    lent.giveBack(false);
  }

  /** Closes the connection instead of returning it (its slot is freed). A second call does nothing. */
  destroy(): void {
    const lent = this.#lent;
    if (lent === undefined) return;
    this.#lent = undefined;
    lent.giveBack(true);
  }

  /** Same as `release()`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Same as `release()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
