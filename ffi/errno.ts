/**
 * errno names and messages, and {@linkcode ErrnoError}.
 *
 * errno is per thread: it is read on the calling thread right after a synchronous call (see
 * `libc.ts`); it is never read after a `nonblocking` call, which ran on another thread.
 *
 * @module
 */

/** The `Deno.errors` classes an errno can map to. */
type DenoErrorName = Exclude<keyof typeof Deno.errors, "NotCapable" | "Http">;

/**
 * THE errno table: number -> [name, message, the matching `Deno.errors` class] for the codes a
 * network program meets (Linux values). The class column is how Deno's own APIs report the same
 * condition, so `e instanceof Deno.errors.ConnectionRefused` holds for netio's errors too.
 */
const ERRNO_TABLE: Record<number, readonly [string, string, DenoErrorName?]> = {
  1: ["EPERM", "Operation not permitted", "PermissionDenied"],
  2: ["ENOENT", "No such file or directory", "NotFound"],
  4: ["EINTR", "Interrupted system call", "Interrupted"],
  5: ["EIO", "Input/output error"],
  6: ["ENXIO", "No such device or address"],
  7: ["E2BIG", "Argument list too long"],
  9: ["EBADF", "Bad file descriptor", "BadResource"],
  11: ["EAGAIN", "Resource temporarily unavailable", "WouldBlock"],
  12: ["ENOMEM", "Cannot allocate memory"],
  13: ["EACCES", "Permission denied", "PermissionDenied"],
  14: ["EFAULT", "Bad address"],
  16: ["EBUSY", "Device or resource busy", "Busy"],
  17: ["EEXIST", "File exists", "AlreadyExists"],
  18: ["EXDEV", "Invalid cross-device link"],
  20: ["ENOTDIR", "Not a directory", "NotADirectory"],
  21: ["EISDIR", "Is a directory", "IsADirectory"],
  22: ["EINVAL", "Invalid argument"],
  23: ["ENFILE", "Too many open files in system"],
  24: ["EMFILE", "Too many open files"],
  27: ["EFBIG", "File too large"],
  28: ["ENOSPC", "No space left on device"],
  29: ["ESPIPE", "Illegal seek"],
  32: ["EPIPE", "Broken pipe", "BrokenPipe"],
  36: ["ENAMETOOLONG", "File name too long"],
  38: ["ENOSYS", "Function not implemented"],
  40: ["ELOOP", "Too many levels of symbolic links", "FilesystemLoop"],
  75: ["EOVERFLOW", "Value too large for defined data type"],
  88: ["ENOTSOCK", "Socket operation on non-socket"],
  90: ["EMSGSIZE", "Message too long"],
  92: ["ENOPROTOOPT", "Protocol not available"],
  93: ["EPROTONOSUPPORT", "Protocol not supported"],
  95: ["EOPNOTSUPP", "Operation not supported", "NotSupported"],
  97: ["EAFNOSUPPORT", "Address family not supported by protocol"],
  98: ["EADDRINUSE", "Address already in use", "AddrInUse"],
  99: ["EADDRNOTAVAIL", "Cannot assign requested address", "AddrNotAvailable"],
  100: ["ENETDOWN", "Network is down"],
  101: ["ENETUNREACH", "Network is unreachable", "NetworkUnreachable"],
  103: ["ECONNABORTED", "Software caused connection abort", "ConnectionAborted"],
  104: ["ECONNRESET", "Connection reset by peer", "ConnectionReset"],
  105: ["ENOBUFS", "No buffer space available"],
  106: ["EISCONN", "Transport endpoint is already connected"],
  107: ["ENOTCONN", "Transport endpoint is not connected", "NotConnected"],
  110: ["ETIMEDOUT", "Connection timed out", "TimedOut"],
  111: ["ECONNREFUSED", "Connection refused", "ConnectionRefused"],
  113: ["EHOSTUNREACH", "No route to host", "NetworkUnreachable"],
  114: ["EALREADY", "Operation already in progress"],
  115: ["EINPROGRESS", "Operation now in progress"],
};

/** errno values netio branches on. */
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const EMFILE = 24;
export const ENFILE = 23;
export const EPIPE = 32;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const ELOOP = 40;
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
/** Operation canceled (an io_uring request removed before it completed). */
export const ECANCELED = 125;

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

/** Options of {@linkcode ErrnoError}. */
export interface ErrnoErrorOptions extends ErrorOptions {
  /** What the call was about, for the message: an address ("127.0.0.1:9") or a path. */
  detail?: string;
  /**
   * Replaces the C library's message in parentheses where the call gives the errno a narrower
   * meaning: EXDEV from openat2 with RESOLVE_BENEATH means "the path leaves the root".
   */
  reason?: string;
  /**
   * The `Deno.errors` class to use instead of the errno table's, for the same reason: a path that
   * leaves its root is refused (`"PermissionDenied"`) whatever errno the kernel chose to say so.
   */
  errorClass?: Exclude<keyof typeof Deno.errors, "NotCapable" | "Http">;
}

const BRAND = Symbol.for("netio.ErrnoError");

/** Per Deno error class, its subclass carrying errno, code and syscall (made on first use). */
const flavored = new Map<DenoErrorName, new (message: string, options?: ErrorOptions) => Error>();

function flavor(name: DenoErrorName): new (message: string, options?: ErrorOptions) => Error {
  let cls = flavored.get(name);
  if (!cls) {
    const Base = Deno.errors[name] as unknown as new (m: string, o?: ErrorOptions) => Error;
    cls = class extends Base {};
    flavored.set(name, cls);
  }
  return cls;
}

/**
 * A failed system call: carries the errno value, its symbolic `code` and the `syscall` name.
 * The message reads like "connect 127.0.0.1:9 failed: ECONNREFUSED (Connection refused)".
 *
 * Where Deno has a class for the condition, `new ErrnoError(...)` gives an instance of it:
 * `e instanceof Deno.errors.ConnectionRefused` (and `e.name === "ConnectionRefused"`), while
 * `e instanceof ErrnoError` keeps holding for every netio error. The mapping is the errno table
 * above; errors without a Deno class are plain `ErrnoError`s.
 *
 * @example
 * ```ts
 * import { ErrnoError } from "./errno.ts";
 * const err = new ErrnoError(111, "connect", { detail: "127.0.0.1:9" });
 * console.log(err.code, err instanceof Deno.errors.ConnectionRefused, err instanceof ErrnoError);
 * // ECONNREFUSED true true
 * console.log(err.message); // connect 127.0.0.1:9 failed: ECONNREFUSED (Connection refused)
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
   * Builds the error for `syscall` having failed with `errno`; an instance of the matching
   * `Deno.errors` class when there is one (and this is not a subclass of ErrnoError).
   *
   * @param errno the errno value
   * @param syscall the libc function name
   * @param options `cause`, and `detail` (an address or a path) for the message
   */
  constructor(errno: number, syscall: string, options?: ErrnoErrorOptions) {
    const code = errnoName(errno);
    const detail = options?.detail;
    const message = `${syscall}${detail ? ` ${detail}` : ""} failed: ${code} (${
      options?.reason ?? errnoMessage(errno)
    })`;
    const errorOptions = options?.cause !== undefined ? { cause: options.cause } : undefined;
    super(message, errorOptions);
    this.name = "ErrnoError";
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
    const denoName = options?.errorClass ?? ERRNO_TABLE[errno]?.[2];
    if (denoName !== undefined && new.target === ErrnoError) {
      // A constructor may return another object: the Deno class, with the same fields.
      const e = new (flavor(denoName))(message, errorOptions) as
        & Error
        & Record<string | symbol, unknown>;
      e.name = denoName;
      e.errno = errno;
      e.code = code;
      e.syscall = syscall;
      e[BRAND] = true;
      return e as unknown as ErrnoError;
    }
    (this as unknown as Record<symbol, unknown>)[BRAND] = true;
  }

  /** `instanceof ErrnoError` holds for every netio errno error, whatever Deno class it has. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ErrnoError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
