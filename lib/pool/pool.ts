/**
 * {@linkcode ConnectionPool}: the caps, the FIFO of waiting acquires, lending and returning,
 * connecting, and the idle/lifetime sweep. What it promises is listed in `./mod.ts`; the records
 * it keeps are in `_host.ts`, the health check in `_health.ts`, leak detection in `_leaks.ts`.
 *
 * @module
 */

import { checkObject, checkOptionalInteger } from "../_validate.ts";
import { checkHostname, checkPort } from "../net/address.ts";
import type { TcpStream } from "../net/mod.ts";
import type { TuneSettings } from "../net/options.ts";
import { PoolClosedError, PoolFullError, PoolTimeoutError } from "./errors.ts";
import { Lease } from "./lease.ts";
import type { AcquireOptions, PoolOptions, PoolTarget } from "./options.ts";
import type { HostStats, PoolStats } from "./stats.ts";
import { isUsableWhenIdle } from "./_health.ts";
import { Host, PooledConnection, type Timer, Waiter } from "./_host.ts";
import { LeakDetector } from "./_leaks.ts";
import { resolvePoolSettings } from "./_settings.ts";

/**
 * A bounded pool of TCP connections keyed by `hostname:port`, with waiting acquires, idle
 * health checks, idle and lifetime expiry, leak detection and statistics. The rules it keeps
 * are listed in the documentation of its module, `lib/pool/mod.ts` (the `./pool` export).
 *
 * @example
 * ```ts
 * import { ConnectionPool, TcpListener } from "../../mod.ts";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * await using pool = new ConnectionPool({ maxConnections: 8, tune: { noDelay: true } });
 * const target = { hostname: "127.0.0.1", port: listener.addr.port };
 *
 * const first = await pool.acquire(target);
 * using _server = await listener.accept();
 * await first.stream.writeAll(new TextEncoder().encode("ping"));
 * first.release();
 *
 * const second = await pool.acquire(target); // the same connection, checked, then reused
 * console.log(second.reused, pool.stats().created); // true 1
 * second.release();
 * ```
 */
export class ConnectionPool {
  // The settings, one field each (copied from PoolSettings) so that hot paths read them directly.
  readonly #maxConnections: number;
  readonly #maxPerHost: number;
  readonly #idleTimeoutMs: number;
  readonly #maxLifetimeMs: number;
  readonly #lifetimeJitter: number;
  readonly #acquireTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxPending: number;
  readonly #minIdle: number;
  readonly #checkAfterIdleMs: number;
  readonly #validate: ((stream: TcpStream) => boolean) | undefined;
  readonly #connect: (target: PoolTarget, signal: AbortSignal) => Promise<TcpStream>;
  readonly #tune: TuneSettings | undefined;
  readonly #sweepSlackMs: number;
  readonly #leakDetector: LeakDetector;

  readonly #hosts = new Map<string, Map<number, Host>>();
  #total = 0;
  #idle = 0;
  #inUse = 0;
  #connecting = 0;
  #pending = 0;
  /** Waiters that no connect in flight will serve: they wait for a release (the pending bound). */
  #uncovered = 0;
  /** Hosts with waiters held back by `maxConnections` alone (served when capacity frees). */
  readonly #starved = new Set<Host>();
  #closed = false;
  /** Set by #discard: slots were freed during this operation (see #settle). */
  #freed = false;
  #closing: Promise<void> | undefined;
  readonly #connects = new Set<{ controller: AbortController; done: Promise<boolean> }>();
  /** A recent clock reading (ms), updated on release and by the sweeper: lifetime checks. */
  #now = 0;
  #sweepTimer: Timer | undefined;
  #sweepAt = Infinity;
  #created = 0;
  #reused = 0;
  #staleReplaced = 0;
  #idleEvicted = 0;
  #lifetimeExpired = 0;
  #timeouts = 0;
  #rejectedFull = 0;
  #connectFailures = 0;
  #destroyed = 0;

  /** Creates an empty pool: nothing connects before the first acquire. Bad options throw. */
  constructor(options: PoolOptions = {}) {
    const settings = resolvePoolSettings(options);
    this.#maxConnections = settings.maxConnections;
    this.#maxPerHost = settings.maxPerHost;
    this.#idleTimeoutMs = settings.idleTimeoutMs;
    this.#maxLifetimeMs = settings.maxLifetimeMs;
    this.#lifetimeJitter = settings.lifetimeJitter;
    this.#acquireTimeoutMs = settings.acquireTimeoutMs;
    this.#connectTimeoutMs = settings.connectTimeoutMs;
    this.#maxPending = settings.maxPendingAcquires;
    this.#minIdle = settings.minIdle;
    this.#checkAfterIdleMs = settings.checkAfterIdleMs;
    this.#validate = settings.validate;
    this.#connect = settings.connect;
    this.#tune = settings.tune;
    this.#sweepSlackMs = settings.sweepSlackMs;
    this.#leakDetector = new LeakDetector(settings.leakDetectionMs, settings.onLeak);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Lends a connection to `target`: an idle one (checked first, most recently used first), a
   * new one while under the caps, or the next one released, in FIFO order. Rejects with
   * {@linkcode PoolTimeoutError} after `acquireTimeoutMs`, {@linkcode PoolFullError} at once when
   * `maxPendingAcquires` are waiting, {@linkcode PoolClosedError} once closed, the signal's
   * reason on abort, and the connect's error when a connect made for it fails. Bad targets reject
   * with TypeError/RangeError.
   */
  acquire(target: PoolTarget, options?: AcquireOptions): Promise<Lease> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let host: Host;
    try {
      host = this.#hostFor(target);
    } catch (error) {
      return Promise.reject(error);
    }
    const stack = this.#leakDetector.captureStack();
    if (host.head === undefined && host.idle.length > 0) {
      const conn = this.#takeIdle(host);
      if (conn !== undefined) {
        const lease = this.#lend(conn, true, stack);
        if (this.#freed) this.#settle(host, true);
        return Promise.resolve(lease);
      }
    }
    return this.#wait(host, signal, stack);
  }

  /**
   * Lends an idle connection to `target` now, checked like any other, or returns null: it never
   * waits and never connects (nor does it jump ahead of acquires already waiting). Throws
   * {@linkcode PoolClosedError} once closed, TypeError/RangeError for a bad target.
   */
  tryAcquire(target: PoolTarget): Lease | null {
    const host = this.#hostFor(target);
    let lease: Lease | null = null;
    if (host.head === undefined && host.idle.length > 0) {
      const conn = this.#takeIdle(host);
      if (conn !== undefined) {
        lease = this.#lend(conn, true, this.#leakDetector.captureStack());
      }
    }
    if (lease === null || this.#freed) this.#settle(host, false);
    return lease;
  }

  /**
   * Opens connections to `target` until it has `count` idle (default `minIdle`, at least 1),
   * within the caps; resolves with how many were opened. Connect failures are counted in
   * `stats().connectFailures`, not thrown.
   */
  async warmUp(target: PoolTarget, count?: number): Promise<number> {
    const want = checkOptionalInteger(count, "count", 0, Infinity) ?? Math.max(1, this.#minIdle);
    const host = this.#hostFor(target);
    const attempts: Promise<boolean>[] = [];
    while (
      host.idle.length + host.connecting < want + host.waiting &&
      host.open < this.#maxPerHost && this.#total < this.#maxConnections
    ) {
      attempts.push(this.#startConnect(host));
    }
    this.#forgetIfUnused(host);
    let opened = 0;
    for (const ok of await Promise.all(attempts)) if (ok) opened++;
    return opened;
  }

  /** Gauges and counters; `hosts` holds the same gauges per target. */
  stats(): PoolStats {
    const hosts: Record<string, HostStats> = {};
    for (const byPort of this.#hosts.values()) {
      for (const h of byPort.values()) hosts[h.key] = h.stats();
    }
    return {
      total: this.#total,
      idle: this.#idle,
      inUse: this.#inUse,
      pending: this.#pending,
      connecting: this.#connecting,
      created: this.#created,
      reused: this.#reused,
      staleReplaced: this.#staleReplaced,
      idleEvicted: this.#idleEvicted,
      lifetimeExpired: this.#lifetimeExpired,
      timeouts: this.#timeouts,
      rejectedFull: this.#rejectedFull,
      connectFailures: this.#connectFailures,
      destroyed: this.#destroyed,
      leaks: this.#leakDetector.reported,
      hosts,
    };
  }

  /**
   * Closes the pool: pending acquires reject with {@linkcode PoolClosedError}, idle connections
   * close, connects in flight are aborted, and connections still lent out close when released.
   * Resolves once every connect in flight has settled. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    this.#leakDetector.close();
    this.#starved.clear();
    const error = new PoolClosedError();
    for (const byPort of this.#hosts.values()) {
      for (const host of byPort.values()) {
        while (host.head !== undefined) {
          const w = host.head;
          this.#dequeue(w);
          w.reject(error);
        }
        for (const conn of host.idle.splice(0)) {
          this.#idle--;
          this.#discard(conn);
        }
      }
    }
    const pending: Promise<boolean>[] = [];
    for (const c of this.#connects) {
      c.controller.abort(error);
      pending.push(c.done);
    }
    for (const byPort of [...this.#hosts.values()]) {
      for (const host of [...byPort.values()]) this.#forgetIfUnused(host);
    }
    return this.#closing = Promise.all(pending).then(() => {});
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------------------------
  // Hosts

  #hostFor(target: PoolTarget): Host {
    if (this.#closed) throw new PoolClosedError();
    checkObject(target, "acquire target");
    const hostname = target.hostname;
    const port = target.port;
    const host = this.#hosts.get(hostname)?.get(port);
    if (host !== undefined) return host;
    checkHostname(hostname);
    checkPort(port, false);
    const created = new Host(hostname, port);
    this.#register(created);
    return created;
  }

  #register(host: Host): void {
    let byPort = this.#hosts.get(host.hostname);
    if (byPort === undefined) this.#hosts.set(host.hostname, byPort = new Map());
    if (!byPort.has(host.port)) byPort.set(host.port, host);
  }

  /** Drops a host's entry once it holds nothing, so failing targets leave no state behind. */
  #forgetIfUnused(host: Host): void {
    if (host.open !== 0 || host.waiting !== 0) return;
    const byPort = this.#hosts.get(host.hostname);
    if (byPort?.get(host.port) !== host) return;
    byPort.delete(host.port);
    if (byPort.size === 0) this.#hosts.delete(host.hostname);
    this.#starved.delete(host);
  }

  /**
   * The end of every operation on `host`: serve its waiters, then (when slots were freed) hosts
   * held back by `maxConnections`, top it up to `minIdle`, and drop it if it holds nothing.
   * `refill` is false after a failed connect, so that a dead target is not retried in a loop.
   */
  #settle(host: Host, refill: boolean): void {
    const freed = this.#freed;
    this.#freed = false;
    if (!this.#closed) {
      if (host.head !== undefined) this.#dispatch(host);
      if (freed && this.#starved.size > 0) this.#serveStarved();
      if (refill && this.#minIdle > 0) this.#refill(host);
    }
    this.#forgetIfUnused(host);
  }

  // -------------------------------------------------------------------------------------------
  // Lending and returning

  /** Pops idle connections until one passes the check; the others are closed. */
  #takeIdle(host: Host): PooledConnection | undefined {
    const idle = host.idle;
    let conn: PooledConnection | undefined;
    while ((conn = idle.pop()) !== undefined) {
      this.#idle--;
      if (conn.expiresAt <= this.#now) {
        this.#lifetimeExpired++;
        this.#discard(conn);
      } else if (this.#healthy(conn)) {
        return conn;
      } else {
        this.#staleReplaced++;
        this.#discard(conn);
      }
    }
    return undefined;
  }

  #healthy(conn: PooledConnection): boolean {
    if (this.#checkAfterIdleMs > 0 && Date.now() - conn.idleSince < this.#checkAfterIdleMs) {
      return true;
    }
    if (!isUsableWhenIdle(conn.stream)) return false;
    const validate = this.#validate;
    if (validate === undefined) return true;
    try {
      return validate(conn.stream) === true;
    } catch {
      return false;
    }
  }

  #lend(conn: PooledConnection, reused: boolean, stack: Error | undefined): Lease {
    conn.host.inUse++;
    this.#inUse++;
    if (reused) this.#reused++;
    this.#leakDetector.lent(conn, stack);
    return new Lease(conn, reused);
  }

  /** Where every lease's connection comes back (`PooledConnection.giveBack`). */
  #checkin = (conn: PooledConnection, destroy: boolean): void => {
    const host = conn.host;
    host.inUse--;
    this.#inUse--;
    this.#leakDetector.returned(conn);
    if (destroy || this.#closed || conn.stream.closed) {
      if (destroy || conn.stream.closed) this.#destroyed++;
      this.#discard(conn);
      this.#settle(host, true);
      return;
    }
    const now = Date.now();
    this.#now = now;
    conn.idleSince = now;
    if (now >= conn.expiresAt) {
      this.#lifetimeExpired++;
      this.#discard(conn);
      this.#settle(host, true);
      return;
    }
    this.#offer(conn, false);
    if (this.#freed) this.#settle(host, true);
  };

  /**
   * Gives a connection to the host's first waiter (checked first, unless fresh from connect),
   * or closes it when another host waits for capacity, or puts it on the idle stack.
   */
  #offer(conn: PooledConnection, fresh: boolean): void {
    const host = conn.host;
    const waiter = host.head;
    if (waiter !== undefined) {
      if (!fresh && !this.#healthy(conn)) {
        this.#staleReplaced++;
        this.#discard(conn);
        return;
      }
      this.#dequeue(waiter);
      waiter.resolve(this.#lend(conn, !fresh, waiter.stack));
      return;
    }
    if (this.#starved.size > 0) {
      // Another target waits for a slot under maxConnections: it is worth more than an idle socket.
      this.#discard(conn);
      return;
    }
    host.idle.push(conn);
    this.#idle++;
    const deadline = this.#deadline(conn);
    if (deadline < this.#sweepAt) this.#armSweep(deadline);
  }

  /** Closes a connection that is in no list any more and frees its slot. */
  #discard(conn: PooledConnection): void {
    conn.stream.close();
    conn.host.open--;
    this.#total--;
    this.#freed = true;
  }

  // -------------------------------------------------------------------------------------------
  // Waiting

  #wait(host: Host, signal: AbortSignal | undefined, stack: Error | undefined): Promise<Lease> {
    let resolve!: (lease: Lease) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Lease>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const w = new Waiter(host, resolve, reject, stack);
    host.enqueue(w);
    this.#adjust(host, 1, 0);
    this.#pending++;
    this.#settle(host, true);
    if (!w.queued) return promise;
    if (host.waiting > host.connecting && this.#uncovered > this.#maxPending) {
      // Saturated, and the queue of acquires waiting for a release is full: fail fast.
      this.#dequeue(w);
      this.#rejectedFull++;
      this.#forgetIfUnused(host);
      reject(new PoolFullError(host.key, this.#maxPending));
      return promise;
    }
    if (this.#acquireTimeoutMs !== Infinity) {
      w.timer = setTimeout(() => {
        w.timer = undefined;
        if (!w.queued) return;
        this.#dequeue(w);
        this.#timeouts++;
        const cause = host.lastError;
        this.#forgetIfUnused(host);
        w.reject(
          new PoolTimeoutError(
            host.key,
            this.#acquireTimeoutMs,
            cause === undefined ? undefined : { cause },
          ),
        );
      }, this.#acquireTimeoutMs);
    }
    if (signal !== undefined) {
      w.signal = signal;
      w.onAbort = () => {
        if (!w.queued) return;
        this.#dequeue(w);
        this.#forgetIfUnused(host);
        w.reject(signal.reason);
      };
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, a signal fires "abort" at most once, and #dequeue takes the listener off first whatever ends the wait
      signal.addEventListener("abort", w.onAbort, { once: true });
    }
    return promise;
  }

  /** Removes a waiter from its queue and drops its timer and abort listener. */
  #dequeue(w: Waiter): void {
    if (!w.queued) return;
    w.queued = false;
    const host = w.host;
    host.unlink(w);
    this.#adjust(host, -1, 0);
    this.#pending--;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (w.onAbort !== undefined) w.signal!.removeEventListener("abort", w.onAbort);
    w.timer = w.onAbort = w.signal = undefined;
  }

  /** Changes a host's waiting/connecting counts, keeping `#uncovered` (and `#starved`) exact. */
  #adjust(host: Host, waiting: number, connecting: number): void {
    const before = host.waiting > host.connecting ? host.waiting - host.connecting : 0;
    host.waiting += waiting;
    host.connecting += connecting;
    this.#connecting += connecting;
    const after = host.waiting > host.connecting ? host.waiting - host.connecting : 0;
    this.#uncovered += after - before;
    if (after === 0 && this.#starved.size > 0) this.#starved.delete(host);
  }

  /** Serves a host's waiters: idle connections first, then new connects within the caps. */
  #dispatch(host: Host): void {
    while (host.head !== undefined) {
      if (host.idle.length > 0) {
        const conn = this.#takeIdle(host);
        if (conn !== undefined) {
          const w = host.head;
          this.#dequeue(w);
          w.resolve(this.#lend(conn, true, w.stack));
        }
        continue;
      }
      if (host.connecting >= host.waiting || host.open >= this.#maxPerHost) break;
      if (this.#total >= this.#maxConnections && !this.#evictIdleElsewhere(host)) {
        this.#starved.add(host);
        return;
      }
      this.#startConnect(host);
    }
    // Whatever still waits here waits for this host's own connects or releases.
    this.#starved.delete(host);
  }

  /** Serves hosts held back by `maxConnections`, oldest first, while capacity lasts. */
  #serveStarved(): void {
    for (const host of [...this.#starved]) {
      if (this.#total >= this.#maxConnections && this.#idle === 0) return;
      this.#starved.delete(host);
      this.#dispatch(host);
    }
  }

  /** Closes the longest-idle connection of another host to make room; false when there is none. */
  #evictIdleElsewhere(host: Host): boolean {
    if (this.#idle === 0) return false;
    let victim: Host | undefined;
    let since = Infinity;
    for (const byPort of this.#hosts.values()) {
      for (const h of byPort.values()) {
        const oldest = h.idle[0];
        if (h !== host && oldest !== undefined && oldest.idleSince < since) {
          since = oldest.idleSince;
          victim = h;
        }
      }
    }
    if (victim === undefined) return false;
    const conn = victim.idle.shift()!;
    this.#idle--;
    this.#idleEvicted++;
    this.#discard(conn);
    this.#forgetIfUnused(victim);
    return true;
  }

  /** Tops a host up to `minIdle` idle connections, within the caps. */
  #refill(host: Host): void {
    while (
      host.idle.length + host.connecting - host.waiting < this.#minIdle &&
      host.open < this.#maxPerHost && this.#total < this.#maxConnections
    ) {
      this.#startConnect(host);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connecting

  /** Starts one connect for `host`; resolves true when it produced a connection. */
  #startConnect(host: Host): Promise<boolean> {
    // A host whose entry was dropped while this operation ran (it was evicted to make room)
    // gets it back before it holds anything again.
    this.#register(host);
    host.open++;
    this.#total++;
    this.#adjust(host, 0, 1);
    const controller = new AbortController();
    let timer: Timer | undefined;
    if (this.#connectTimeoutMs !== Infinity) {
      timer = setTimeout(() => {
        controller.abort(
          new PoolTimeoutError(host.key, this.#connectTimeoutMs, { what: "connect" }),
        );
      }, this.#connectTimeoutMs);
    }
    const target: PoolTarget = { hostname: host.hostname, port: host.port };
    const entry = { controller, done: Promise.resolve(false) };
    entry.done = new Promise<TcpStream>((resolve) => {
      resolve(this.#connect(target, controller.signal));
    }).then(
      (stream) => {
        clearTimeout(timer);
        this.#connects.delete(entry);
        return this.#connected(host, stream);
      },
      (error) => {
        clearTimeout(timer);
        this.#connects.delete(entry);
        this.#connectFailed(host, error, false);
        return false;
      },
    );
    this.#connects.add(entry);
    return entry.done;
  }

  #connected(host: Host, stream: TcpStream): boolean {
    this.#adjust(host, 0, -1);
    if (this.#closed) {
      stream.close();
      host.open--;
      this.#total--;
      this.#forgetIfUnused(host);
      return false;
    }
    if (this.#tune !== undefined) {
      try {
        stream.tune(this.#tune);
      } catch (error) {
        stream.close();
        this.#connectFailed(host, error, true);
        return false;
      }
    }
    this.#created++;
    host.lastError = undefined;
    const now = Date.now();
    this.#now = now;
    const lifetime = this.#maxLifetimeMs;
    const expiresAt = lifetime === 0 || lifetime === Infinity
      ? Infinity
      : now + lifetime * (1 - this.#lifetimeJitter * Math.random());
    const conn = new PooledConnection(stream, host, expiresAt, this.#checkin);
    conn.idleSince = now;
    this.#offer(conn, true);
    this.#settle(host, true);
    return true;
  }

  #connectFailed(host: Host, error: unknown, adjusted: boolean): void {
    if (!adjusted) this.#adjust(host, 0, -1);
    host.open--;
    this.#total--;
    this.#freed = true;
    if (!this.#closed) {
      this.#connectFailures++;
      host.lastError = error;
      // A waiter that no other connect in flight covers has lost its connection: tell it why.
      if (host.waiting > host.connecting && host.head !== undefined) {
        const w = host.head;
        this.#dequeue(w);
        w.reject(error);
      }
    }
    this.#settle(host, false);
  }

  // -------------------------------------------------------------------------------------------
  // Timers: idle/lifetime sweeping, unref'd (leak detection has its own, in _leaks.ts)

  #deadline(conn: PooledConnection): number {
    const idle = this.#idleTimeoutMs;
    const idleAt = idle === 0 || idle === Infinity ? Infinity : conn.idleSince + idle;
    return idleAt < conn.expiresAt ? idleAt : conn.expiresAt;
  }

  #armSweep(at: number): void {
    if (at === Infinity || this.#closed) return;
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    const delay = Math.max(0, Math.ceil(at - Date.now())) + this.#sweepSlackMs;
    const timer = setTimeout(this.#sweep, delay);
    Deno.unrefTimer(timer);
    this.#sweepTimer = timer;
  }

  #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    if (this.#closed) return;
    const now = Date.now();
    this.#now = now;
    const idleTimeout = this.#idleTimeoutMs === Infinity ? 0 : this.#idleTimeoutMs;
    let next = Infinity;
    const touched: Host[] = [];
    for (const byPort of this.#hosts.values()) {
      for (const host of byPort.values()) {
        const idle = host.idle;
        if (idle.length === 0) continue;
        // Oldest first (index 0); idle eviction stops at minIdle, lifetime expiry does not.
        let evictable = idle.length - this.#minIdle;
        let kept = 0;
        for (let i = 0; i < idle.length; i++) {
          const conn = idle[i]!;
          if (conn.expiresAt <= now) {
            this.#lifetimeExpired++;
          } else if (idleTimeout > 0 && evictable > 0 && now - conn.idleSince >= idleTimeout) {
            this.#idleEvicted++;
            evictable--;
          } else {
            idle[kept++] = conn;
            const at = evictable > 0 && idleTimeout > 0
              ? Math.min(conn.idleSince + idleTimeout, conn.expiresAt)
              : conn.expiresAt;
            if (at < next) next = at;
            continue;
          }
          this.#idle--;
          this.#discard(conn);
        }
        if (kept !== idle.length) {
          idle.length = kept;
          touched.push(host);
        }
      }
    }
    for (const host of touched) this.#settle(host, true);
    if (next < this.#sweepAt) this.#armSweep(next);
  };
}
