/**
 * An owned file descriptor: closed exactly once, and refused after close so that no syscall is
 * ever made on a number the kernel may already have handed to someone else.
 *
 * @module
 */

import { sysClose } from "../../ffi/libc.ts";
import { ErrnoError } from "../../ffi/errno.ts";
import { EBADF } from "../../ffi/errno.ts";

/**
 * Thrown when an operation is attempted on a socket, file or reactor that was already closed.
 * No syscall is made: the descriptor number may belong to someone else by now.
 *
 * @example
 * ```ts
 * import { ClosedError } from "./fd.ts";
 * const err = new ClosedError("read");
 * console.log(err.code); // "EBADF"
 * ```
 */
export class ClosedError extends ErrnoError {
  /**
   * Builds the error for `operation` attempted after close.
   *
   * @param operation what was attempted, e.g. "read"
   */
  constructor(operation: string) {
    super(EBADF, operation);
    this.name = "ClosedError";
    this.message = `${operation} failed: the resource is closed`;
  }
}

/**
 * One descriptor, owned. `close()` is idempotent and calls close(2) exactly once; `fd` throws
 * {@linkcode ClosedError} after close.
 *
 * @example
 * ```ts ignore
 * import { OwnedFd } from "./fd.ts";
 * using fd = new OwnedFd(someFd);
 * fd.close(); // closed once; the `using` disposal does nothing more
 * ```
 */
export class OwnedFd {
  #fd: number;

  /** Takes ownership of `fd`. */
  constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`invalid file descriptor: ${fd}`);
    this.#fd = fd;
  }

  /** The descriptor number; throws {@linkcode ClosedError} once closed. */
  get fd(): number {
    const fd = this.#fd;
    if (fd < 0) throw new ClosedError("use of descriptor");
    return fd;
  }

  /** The raw number, or -1 once closed (never throws; for hot paths that check it themselves). */
  get raw(): number {
    return this.#fd;
  }

  /** True once `close()` has run. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the descriptor once; later calls do nothing. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    // close(2) releases the number even when it reports EINTR/EIO on Linux: never retry.
    sysClose(fd);
  }

  /**
   * Gives the descriptor up without closing it (its new owner closes it): the number, and from
   * now on this object behaves as closed.
   */
  release(): number {
    const fd = this.fd;
    this.#fd = -1;
    return fd;
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
