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
}

/** A readiness callback: `ready` is a set of {@linkcode Ready} flags. */
export type ReadyCallback = (ready: number, registration: Registration) => void;

/** Options of {@linkcode Reactor.register}. */
export interface RegisterOptions {
  /**
   * Whether this registration keeps the process alive (default true, like a pending accept).
   * Sockets register unref'd and keep the process alive only while a read or write waits.
   */
  ref?: boolean;
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

  /** @internal */
  constructor(
    owner: RegistrationOwner,
    fd: number,
    generation: number,
    interest: number,
    callback: ReadyCallback,
    refd: boolean,
  ) {
    this.#owner = owner;
    this.fd = fd;
    this.generation = generation;
    this.interest = interest;
    this.callback = callback;
    this.refd = refd;
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
