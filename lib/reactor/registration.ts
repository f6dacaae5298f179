/**
 * {@linkcode Registration}: one fd registered with a reactor, and the callback and options types
 * of `Reactor.register`.
 *
 * @module
 */

import type {} from "./interest.ts";

/** @internal What a registration asks of the reactor that made it. */
export interface RegistrationOwner {
  /** EPOLL_CTL_MOD with new interest flags. */
  modify(registration: Registration, interest: number): void;
  /** EPOLL_CTL_DEL; idempotent. */
  deregister(registration: Registration): void;
  /** Whether the registration keeps the process alive. */
  setRef(registration: Registration, on: boolean): void;
  /** Stops receiving and hands over what was received. */
  drainReceived(registration: Registration): void;
  /** Queues a send of `data` on the backend, or answers false. */
  send(registration: Registration, data: Uint8Array): boolean;
}

/** A readiness callback: `ready` is a set of {@linkcode Ready} flags. */
export type ReadyCallback = (ready: number, registration: Registration) => void;

/**
 * Data received for a registration made with {@linkcode RegisterOptions.onData}: `data[0, n)`
 * when `n > 0` (valid only during the call), the end of the stream when `n` is 0, or `-errno`.
 * After 0 or an error nothing more is received.
 *
 * @example
 * ```ts
 * import type { DataCallback } from "./registration.ts";
 *
 * const chunks: Uint8Array[] = [];
 * const onData: DataCallback = (data, n) => {
 *   if (n > 0) chunks.push(data.slice(0, n)); // copy: the view is the reactor's buffer
 * };
 * onData(new Uint8Array([104, 105]), 2, null as never);
 * console.log(chunks.length); // 1
 * ```
 */
export type DataCallback = (
  data: Uint8Array<ArrayBuffer>,
  n: number,
  registration: Registration,
) => void;

/**
 * The end of a {@linkcode Registration.send}: `result` is the number of bytes sent (all of them)
 * or `-errno` (what was sent before an error is not said: the connection is broken).
 *
 * @example
 * ```ts
 * import type { SentCallback } from "./registration.ts";
 *
 * let failed = 0;
 * const onSent: SentCallback = (result) => {
 *   if (result < 0) failed++;
 * };
 * onSent(-32, null as never); // EPIPE
 * console.log(failed); // 1
 * ```
 */
export type SentCallback = (result: number, registration: Registration) => void;

/** Options of {@linkcode Reactor.register}. */
export interface RegisterOptions {
  /**
   * Whether this registration keeps the process alive (default true, like a pending accept).
   * Sockets register unref'd and keep the process alive only while a read or write waits.
   */
  ref?: boolean;
  /**
   * Receive instead of polling, where the backend can (io_uring): while the interest includes
   * READABLE, the reactor reads the socket itself and calls `onData` with what arrived, and
   * READABLE readiness is not reported. {@linkcode Registration.receiving} says whether this
   * applies; on epoll it does not, and the owner reads on readiness as usual.
   */
  onData?: DataCallback;
  /**
   * Send through the backend, where it can (io_uring): {@linkcode Registration.send} copies the
   * bytes into a buffer of the reactor's, the send leaves with the turn's other requests in one
   * `io_uring_enter`, and `onSent` is called with its result. {@linkcode Registration.sending}
   * says whether this applies; on epoll it does not.
   */
  onSent?: SentCallback;
}

/**
 * One fd registered with a reactor. Returned by {@linkcode Reactor.register}.
 *
 * @example
 * ```ts ignore
 * const reg = reactor.register(fd, Interest.READABLE, (ready) => {});
 * reg.modify(Interest.READABLE | Interest.WRITABLE);
 * reg.deregister();
 * ```
 */
export class Registration {
  /** The registered descriptor. */
  readonly fd: number;
  /** Generation stamp carried in the epoll data word. */
  readonly generation: number;
  #owner: RegistrationOwner;
  /** @internal */
  callback: ReadyCallback;
  /** Current interest flags. */
  interest: number;
  /** @internal */
  refd: boolean;
  /** @internal */
  active = true;
  /** @internal Where received data goes (receiving registrations only). */
  onData: DataCallback | null;
  /** @internal Where send results go (sending registrations only). */
  onSent: SentCallback | null;

  /** @internal */
  constructor(
    owner: RegistrationOwner,
    fd: number,
    generation: number,
    interest: number,
    callback: ReadyCallback,
    refd: boolean,
    onData: DataCallback | null = null,
    onSent: SentCallback | null = null,
  ) {
    this.#owner = owner;
    this.fd = fd;
    this.generation = generation;
    this.interest = interest;
    this.callback = callback;
    this.refd = refd;
    this.onData = onData;
    this.onSent = onSent;
  }

  /**
   * Whether READABLE is served by receiving: data comes to the `onData` callback given to
   * `register`, not as readiness.
   */
  get receiving(): boolean {
    return this.onData !== null;
  }

  /**
   * Stops receiving and, before returning, hands every byte already received to `onData`:
   * what follows stays in the socket, for whoever reads it next. Call it before handing the fd
   * to another reader. Nothing happens on a registration that does not receive.
   */
  drainReceived(): void {
    if (this.onData !== null) this.#owner.drainReceived(this);
  }

  /** Whether {@linkcode Registration.send} can send (a registration with `onSent` on io_uring). */
  get sending(): boolean {
    return this.onSent !== null;
  }

  /**
   * Queues `data` to be sent by the reactor: copied (the caller may reuse it at once), submitted
   * with the turn's other requests, ended by the `onSent` callback given to `register`. One send
   * at a time: false (nothing queued) while one is in flight, for data larger than a send buffer
   * (`uringSendBufferSize`, 16 KiB by default), when every buffer is in use (`uringSendBuffers`),
   * or where the registration does not send ({@linkcode Registration.sending}); write the usual
   * way then, after any send in flight ends.
   */
  send(data: Uint8Array): boolean {
    return this.onSent !== null && this.#owner.send(this, data);
  }

  /** True until deregistered. */
  get registered(): boolean {
    return this.active;
  }

  /** Changes the interest (EPOLL_CTL_MOD); re-arms a ONESHOT registration. */
  modify(interest: number): void {
    this.#owner.modify(this, interest);
  }

  /** Removes the fd from the reactor (EPOLL_CTL_DEL). Idempotent. */
  deregister(): void {
    this.#owner.deregister(this);
  }

  /** Makes this registration keep the process alive. */
  ref(): void {
    this.#owner.setRef(this, true);
  }

  /** Stops this registration from keeping the process alive. */
  unref(): void {
    this.#owner.setRef(this, false);
  }
}
