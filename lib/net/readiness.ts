/**
 * Readiness bookkeeping shared by {@linkcode TcpListener} and {@linkcode TcpStream}: one
 * edge-triggered registration per socket, readiness cached as last known (tokio's model), at most
 * one waiter per direction, and the reactor's turn budget for operations that need no wait.
 *
 * @module
 */

import { ClosedError } from "./fd.ts";
import { Interest, type Reactor, Ready, type Registration } from "../reactor/mod.ts";
import { Waiters } from "../reactor/waiters.ts";

/** Thrown when a second read (or write) is started while one is already waiting. */
export class BusyError extends Error {
  /**
   * Builds the error for a second pending `what`.
   *
   * @param what "read" or "write"
   */
  constructor(what: string) {
    super(`a ${what} is already pending on this stream`);
    this.name = "BusyError";
  }
}

/** What a wait that needs no edge resolves with: the direction is (still) known ready. */
const RESOLVED_READY: Promise<number> = Promise.resolve(Ready.READABLE | Ready.WRITABLE);

/** @internal The per-socket readiness state; see the module documentation. */
export class IoState {
  readonly reactor: Reactor;
  registration: Registration | undefined;
  /**
   * Readiness as last known (tokio's model): true until a call finds the socket drained (EAGAIN,
   * or a read/write shorter than asked), set again by the next edge. While false, a read or write
   * waits for the edge first instead of making a syscall that would only say EAGAIN.
   */
  readReady = true;
  writeReady = true;
  /**
   * Sticky conditions (tokio keeps READ_CLOSED the same way): once the peer's FIN, a hang-up or an
   * error has been reported, that edge will not come again, so readiness is never cleared after
   * it: a short read before EOF must not make the next read wait for an edge that already passed.
   */
  readClosed = false;
  writeClosed = false;
  /**
   * Directions currently in the epoll interest set. A direction whose edge arrives while nobody
   * waits on it is dropped from the set (one EPOLL_CTL_MOD), and added back when a wait on it
   * begins (the MOD re-checks readiness, so nothing is missed). Without this, the idle direction of
   * a proxy (ACKs, data arriving while its pump waits on the other side) wakes a parked reactor
   * thousands of times per GiB for nothing.
   */
  interest = Interest.READABLE | Interest.WRITABLE;
  /** The read and write waiters (netio's one waiter mechanism); at most one each. */
  readonly readers: Waiters;
  readonly writers: Waiters;
  readonly onReady = (ready: number): void => {
    // Writable/error first, then readable (data before a read-close is read by the waiter).
    let unwanted = 0;
    if (ready & (Ready.WRITABLE | Ready.WRITE_CLOSED | Ready.ERROR)) {
      this.writeReady = true;
      if (ready & (Ready.WRITE_CLOSED | Ready.ERROR)) this.writeClosed = true;
      if (this.writers.count > 0) this.writers.wake(ready);
      else if (ready & Ready.WRITABLE) unwanted |= Interest.WRITABLE;
    }
    if (ready & (Ready.READABLE | Ready.READ_CLOSED | Ready.ERROR)) {
      this.readReady = true;
      if (ready & (Ready.READ_CLOSED | Ready.ERROR)) this.readClosed = true;
      if (this.readers.count > 0) this.readers.wake(ready);
      else if (ready & Ready.READABLE) unwanted |= Interest.READABLE;
    }
    if (unwanted & this.interest) this.#setInterest(this.interest & ~unwanted);
  };

  #setInterest(interest: number): void {
    const reg = this.registration;
    if (!reg || !reg.active) return;
    this.interest = interest;
    reg.modify(interest | Interest.EDGE);
  }

  /** Whether pending waits keep the process alive (`ref()`/`unref()` of the socket). */
  #refd = true;
  // Every waiter counts here; the reactor sees the count only while the socket is ref'd.
  #waiting = 0;
  #host = {
    addRef: (delta: number): void => {
      this.#waiting += delta;
      if (this.#refd) this.reactor.addRef(delta);
    },
  };

  constructor(reactor: Reactor) {
    this.reactor = reactor;
    this.readers = new Waiters(this.#host);
    this.writers = new Waiters(this.#host);
  }

  /** Makes pending waits keep the process alive, or stop doing so (Deno.Conn's ref/unref). */
  setRef(on: boolean): void {
    if (this.#refd === on) return;
    this.#refd = on;
    if (this.#waiting > 0) this.reactor.addRef(on ? this.#waiting : -this.#waiting);
  }

  #ensureRegistered(fd: number): void {
    if (this.registration === undefined) {
      this.registration = this.reactor.register(
        fd,
        Interest.READABLE | Interest.WRITABLE | Interest.EDGE,
        this.onReady,
        { ref: false },
      );
    }
  }

  /**
   * Resolves when an operation in direction `read` may go ahead: at once while the direction is
   * known ready and the reactor's turn budget lasts, at the next turn when the budget is spent,
   * otherwise at the next readiness edge. Operations that skip the wait because the direction is
   * ready call {@linkcode IoState.spend} instead.
   */
  wait(fd: number, read: boolean, signal: AbortSignal | undefined): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const waiters = read ? this.readers : this.writers;
    if (waiters.count > 0) return Promise.reject(new BusyError(read ? "read" : "write"));
    this.#ensureRegistered(fd);
    if (read ? this.readReady : this.writeReady) {
      return this.reactor.spend() ? RESOLVED_READY : this.#afterTurn(signal);
    }
    const want = read ? Interest.READABLE : Interest.WRITABLE;
    if (!(this.interest & want)) this.#setInterest(this.interest | want);
    return waiters.wait(signal);
  }

  /**
   * For an operation about to run on a direction known ready: resolves at once (undefined) while
   * the reactor's turn budget lasts, or returns the wait for the next turn.
   */
  spend(signal: AbortSignal | undefined): Promise<number> | undefined {
    return this.reactor.spend() ? undefined : this.#afterTurn(signal);
  }

  async #afterTurn(signal: AbortSignal | undefined): Promise<number> {
    await this.reactor.nextTurn();
    signal?.throwIfAborted();
    return Ready.READABLE | Ready.WRITABLE;
  }

  cancel(read: boolean, reason: unknown): void {
    (read ? this.readers : this.writers).fail(reason);
  }

  close(operation: string): void {
    this.cancel(true, new ClosedError(operation));
    this.cancel(false, new ClosedError(operation));
    if (this.registration) {
      this.registration.deregister();
      this.registration = undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
