/**
 * The pool's bookkeeping records: one {@linkcode Host} per `hostname:port`, holding its idle
 * {@linkcode PooledConnection}s and its FIFO queue of {@linkcode Waiter}s. Plain data plus the
 * queue's link/unlink; every decision (caps, health, timers) stays in the pool.
 *
 * @module
 */

import type { TcpStream } from "../net/mod.ts";
import type { Lease, LentConnection } from "./lease.ts";
import type { HostStats } from "./stats.ts";

/** What `setTimeout` returns in Deno. */
export type Timer = ReturnType<typeof setTimeout>;

/** The pool's side of giving a connection back (see {@linkcode LentConnection.giveBack}). */
export type Checkin = (conn: PooledConnection, destroy: boolean) => void;

/**
 * One pooled connection. It is the {@linkcode LentConnection} its leases hold: `giveBack` goes to
 * the pool's one checkin function, stored here once per connection rather than made per lease.
 */
export class PooledConnection implements LentConnection {
  readonly stream: TcpStream;
  readonly host: Host;
  /** When `maxLifetimeMs` (less jitter) runs out; Infinity when there is no lifetime. */
  readonly expiresAt: number;
  readonly #checkin: Checkin;
  /** Date.now() when it last became idle (or was opened). */
  idleSince = 0;
  /** Leak detection only: when it was lent, with the stack of the acquire that took it. */
  acquiredAt = 0;
  stack: Error | undefined = undefined;
  leakReported = false;

  constructor(stream: TcpStream, host: Host, expiresAt: number, checkin: Checkin) {
    this.stream = stream;
    this.host = host;
    this.expiresAt = expiresAt;
    this.#checkin = checkin;
  }

  giveBack(destroy: boolean): void {
    this.#checkin(this, destroy);
  }
}

/** One waiting acquire; an intrusive FIFO node of its host's queue (no array shifting). */
export class Waiter {
  readonly host: Host;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (error: unknown) => void;
  readonly stack: Error | undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  timer: Timer | undefined = undefined;
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  /** False once answered, timed out or aborted: late timers and abort events check it. */
  queued = true;

  constructor(
    host: Host,
    resolve: (lease: Lease) => void,
    reject: (error: unknown) => void,
    stack: Error | undefined,
  ) {
    this.host = host;
    this.resolve = resolve;
    this.reject = reject;
    this.stack = stack;
  }
}

/** The state of one `hostname:port`. */
export class Host {
  readonly hostname: string;
  readonly port: number;
  readonly key: string;
  /** LIFO stack: the most recently released connection on top, the longest idle at index 0. */
  readonly idle: PooledConnection[] = [];
  /** Connections counted against the caps: idle, lent, connecting, and any being closed. */
  open = 0;
  inUse = 0;
  connecting = 0;
  waiting = 0;
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  /** The last connect failure, given as the `cause` of an acquire timeout. */
  lastError: unknown = undefined;

  constructor(hostname: string, port: number) {
    this.hostname = hostname;
    this.port = port;
    this.key = `${hostname}:${port}`;
  }

  /** Appends a waiter to the queue (the caller keeps the `waiting` count). */
  enqueue(w: Waiter): void {
    if (this.tail === undefined) this.head = w;
    else {
      this.tail.next = w;
      w.prev = this.tail;
    }
    this.tail = w;
  }

  /** Unlinks a queued waiter from wherever it stands in the queue. */
  unlink(w: Waiter): void {
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = undefined;
  }

  /** This host's gauges, for {@linkcode PoolStats.hosts}. */
  stats(): HostStats {
    return {
      total: this.open,
      idle: this.idle.length,
      inUse: this.inUse,
      pending: this.waiting,
      connecting: this.connecting,
    };
  }
}
