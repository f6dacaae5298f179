/**
 * The listening side of {@linkcode serveHttp}: binds, accepts in bounded bursts, and stops
 * polling the listener at the connection cap, so further clients wait in the kernel's backlog
 * instead of costing descriptors, until a connection closes.
 *
 * @module
 */

import type { SocketAddress } from "../net/address.ts";
import { Interest, type Reactor, type Registration } from "../reactor/mod.ts";
import { TcpListener } from "../net/mod.ts";
import { getOption, setOption } from "../net/options.ts";

/** Accepts per wake-up of the listener, so a connection storm cannot starve the others. */
const ACCEPTS_PER_WAKE = 128;
/** Interest of a paused listener: still registered, reporting nothing. */
const NO_INTEREST = 0;

/** Where and how to listen. */
export interface AcceptorOptions {
  hostname: string;
  port: number;
  backlog?: number;
  reusePort?: boolean;
  /** TCP_NODELAY on the listener, which Linux copies to every socket it accepts. */
  noDelay?: boolean;
  reactor: Reactor;
}

/** What the acceptor asks of its server; the callbacks are made once, not per connection. */
export interface AcceptorHooks {
  /** Whether another connection may be served now (false at the cap). */
  canAccept: () => boolean;
  /** Takes an accepted descriptor. */
  adopt: (fd: number) => void;
  /** Hears of accept failures, which do not stop the server. */
  report: (error: unknown) => void;
}

/** A bound, registered listener that hands accepted descriptors to its server. */
export class Acceptor {
  /** The bound address (the real port when bound to port 0). */
  readonly addr: SocketAddress;
  #listener: TcpListener;
  #registration: Registration | null;
  #hooks: AcceptorHooks;
  #paused = false;
  #pauses = 0;
  #noDelay: boolean;
  /** Whether accepted sockets come with the listener's TCP_NODELAY (known at the first). */
  #noDelayInherited: boolean | undefined;

  /** Binds and registers, synchronously: a port conflict throws here. */
  constructor(options: AcceptorOptions, hooks: AcceptorHooks) {
    this.#hooks = hooks;
    this.#noDelay = options.noDelay ?? false;
    this.#listener = TcpListener.bind({
      hostname: options.hostname,
      port: options.port,
      reactor: options.reactor,
      ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
      ...(options.reusePort !== undefined ? { reusePort: options.reusePort } : {}),
    });
    this.addr = this.#listener.addr;
    try {
      if (options.noDelay) setOption(this.#listener.fd, "noDelay", true);
      this.#registration = options.reactor.register(
        this.#listener.fd,
        Interest.READABLE,
        this.#onReady,
      );
    } catch (error) {
      this.#listener.close();
      throw error;
    }
  }

  /** Whether accepting is paused at the cap. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Times accepting was paused at the cap. */
  get pauses(): number {
    return this.#pauses;
  }

  /** Polls the listener again, after a connection closed below the cap. */
  resume(): void {
    this.#paused = false;
    if (this.#registration === null) return;
    this.#registration.modify(Interest.READABLE);
  }

  /** Whether the listener keeps the process alive while it waits for connections. */
  setRef(on: boolean): void {
    if (on) this.#registration?.ref();
    else this.#registration?.unref();
  }

  /** Stops accepting for good: deregisters and closes the listener. */
  close(): void {
    this.#registration?.deregister();
    this.#registration = null;
    this.#listener.close();
  }

  #pause(): void {
    if (this.#paused || this.#registration === null) return;
    this.#paused = true;
    this.#pauses++;
    this.#registration.modify(NO_INTEREST);
  }

  /**
   * Set on the listener, TCP_NODELAY comes with every accepted socket on Linux: checked on the
   * first one, and set on each only where it did not come (one syscall a connection).
   */
  #setNoDelay(fd: number): void {
    try {
      this.#noDelayInherited ??= getOption(fd, "noDelay");
      if (!this.#noDelayInherited) setOption(fd, "noDelay", true);
    } catch {
      // The peer may already be gone; the first read will tell.
    }
  }

  #onReady = (): void => {
    const listener = this.#listener;
    const hooks = this.#hooks;
    for (let i = 0; i < ACCEPTS_PER_WAKE; i++) {
      if (!hooks.canAccept()) {
        this.#pause();
        return;
      }
      let fd: number;
      try {
        fd = listener.tryAcceptFd();
      } catch (error) {
        hooks.report(error);
        return;
      }
      if (fd < 0) return;
      if (this.#noDelay && !this.#noDelayInherited) this.#setNoDelay(fd);
      hooks.adopt(fd);
    }
  };
}
