/**
 * errno names and messages, and {@linkcode ErrnoError}.
 *
 * errno is per thread: it is read on the calling thread right after a synchronous call (see
 * `libc.ts`); it is never read after a `nonblocking` call, which ran on another thread.
 *
 * @module
 */

/** errno number -> [name, message] for the codes a network program meets (Linux values). */
const ERRNO_TABLE: Record<number, readonly [string, string]> = {
  1: ["EPERM", "Operation not permitted"],
  2: ["ENOENT", "No such file or directory"],
  4: ["EINTR", "Interrupted system call"],
  5: ["EIO", "Input/output error"],
  9: ["EBADF", "Bad file descriptor"],
  11: ["EAGAIN", "Resource temporarily unavailable"],
  12: ["ENOMEM", "Cannot allocate memory"],
  13: ["EACCES", "Permission denied"],
  14: ["EFAULT", "Bad address"],
  16: ["EBUSY", "Device or resource busy"],
  17: ["EEXIST", "File exists"],
  20: ["ENOTDIR", "Not a directory"],
  21: ["EISDIR", "Is a directory"],
  22: ["EINVAL", "Invalid argument"],
  23: ["ENFILE", "Too many open files in system"],
  24: ["EMFILE", "Too many open files"],
  27: ["EFBIG", "File too large"],
  28: ["ENOSPC", "No space left on device"],
  29: ["ESPIPE", "Illegal seek"],
  32: ["EPIPE", "Broken pipe"],
  38: ["ENOSYS", "Function not implemented"],
  40: ["ELOOP", "Too many levels of symbolic links"],
  75: ["EOVERFLOW", "Value too large for defined data type"],
  88: ["ENOTSOCK", "Socket operation on non-socket"],
  90: ["EMSGSIZE", "Message too long"],
  92: ["ENOPROTOOPT", "Protocol not available"],
  93: ["EPROTONOSUPPORT", "Protocol not supported"],
  95: ["EOPNOTSUPP", "Operation not supported"],
  97: ["EAFNOSUPPORT", "Address family not supported by protocol"],
  98: ["EADDRINUSE", "Address already in use"],
  99: ["EADDRNOTAVAIL", "Cannot assign requested address"],
  100: ["ENETDOWN", "Network is down"],
  101: ["ENETUNREACH", "Network is unreachable"],
  103: ["ECONNABORTED", "Software caused connection abort"],
  104: ["ECONNRESET", "Connection reset by peer"],
  105: ["ENOBUFS", "No buffer space available"],
  106: ["EISCONN", "Transport endpoint is already connected"],
  107: ["ENOTCONN", "Transport endpoint is not connected"],
  110: ["ETIMEDOUT", "Connection timed out"],
  111: ["ECONNREFUSED", "Connection refused"],
  113: ["EHOSTUNREACH", "No route to host"],
  114: ["EALREADY", "Operation already in progress"],
  115: ["EINPROGRESS", "Operation now in progress"],
};

/** errno values netio branches on. */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EEXIST = 17;
export const EISDIR = 21;
export const EINVAL = 22;
export const EMFILE = 24;
export const ENFILE = 23;
export const EPIPE = 32;
export const ENOSYS = 38;
export const ENOTSOCK = 88;
export const EOPNOTSUPP = 95;
export const EADDRINUSE = 98;
export const ECONNABORTED = 103;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const ENOTCONN = 107;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EINPROGRESS = 115;

/**
 * The symbolic name of an errno value ("EAGAIN"), or "E<number>" for one netio does not know.
 *
 * @example
 * ```ts
 * import { errnoName } from "./errno.ts";
 * console.log(errnoName(111)); // "ECONNREFUSED"
 * ```
 */
export function errnoName(errno: number): string {
  return ERRNO_TABLE[errno]?.[0] ?? `E${errno}`;
}

/**
 * The C library's message for an errno value ("Connection refused").
 *
 * @example
 * ```ts
 * import { errnoMessage } from "./errno.ts";
 * console.log(errnoMessage(104)); // "Connection reset by peer"
 * ```
 */
export function errnoMessage(errno: number): string {
  return ERRNO_TABLE[errno]?.[1] ?? `Unknown error ${errno}`;
}

/**
 * A failed system call: carries the errno value, its symbolic `code` and the `syscall` name.
 * The message reads like "connect failed: ECONNREFUSED (Connection refused)".
 *
 * @example
 * ```ts
 * import { ErrnoError } from "./errno.ts";
 * const err = new ErrnoError(111, "connect");
 * console.log(err.code, err.syscall, err.message);
 * // ECONNREFUSED connect connect failed: ECONNREFUSED (Connection refused)
 * ```
 */
export class ErrnoError extends Error {
  /** The errno value (Linux numbering). */
  readonly errno: number;
  /** The symbolic name, e.g. "EAGAIN", "ECONNRESET". */
  readonly code: string;
  /** The libc function that failed, e.g. "connect". */
  readonly syscall: string;

  /**
   * Builds the error for `syscall` having failed with `errno`.
   *
   * @param errno the errno value
   * @param syscall the libc function name
   * @param options standard error options (`cause`)
   */
  constructor(errno: number, syscall: string, options?: ErrorOptions) {
    const code = errnoName(errno);
    super(`${syscall} failed: ${code} (${errnoMessage(errno)})`, options);
    this.name = "ErrnoError";
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
  }
}
