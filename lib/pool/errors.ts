/**
 * The pool's own failures: {@linkcode PoolError} and its three kinds. Failures of a connection
 * itself (ECONNREFUSED, ...) are not here: they reach the caller as the connect's `ErrnoError`.
 *
 * @module
 */

/** The `code` of a {@linkcode PoolError}. */
export type PoolErrorCode = "POOL_TIMEOUT" | "POOL_FULL" | "POOL_CLOSED";

/**
 * Base class of the pool's own failures; `code` says which. Failures of the connection itself
 * (ECONNREFUSED, ...) reach the caller as the connect's {@linkcode ErrnoError}.
 *
 * @example
 * ```ts
 * import { PoolError, PoolTimeoutError } from "./errors.ts";
 * const err: PoolError = new PoolTimeoutError("127.0.0.1:8080", 250);
 * console.log(err instanceof PoolError, err.code); // true "POOL_TIMEOUT"
 * ```
 */
export class PoolError extends Error {
  /** Which failure: "POOL_TIMEOUT", "POOL_FULL" or "POOL_CLOSED". */
  readonly code: PoolErrorCode;

  /**
   * Creates the error.
   *
   * @param code which failure
   * @param message what happened
   * @param options standard error options (`cause`)
   */
  constructor(code: PoolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolError";
    this.code = code;
  }
}

/** Options of {@linkcode PoolTimeoutError}. */
export interface PoolTimeoutErrorOptions extends ErrorOptions {
  /** What timed out: "acquire" (the default) or "connect". */
  what?: string;
}

/**
 * An acquire waited `acquireTimeoutMs` without getting a connection (or a connect took longer
 * than `connectTimeoutMs`). When the target's last connect attempt failed, that error is the
 * `cause`.
 *
 * @example
 * ```ts
 * import { PoolTimeoutError } from "./errors.ts";
 * const err = new PoolTimeoutError("127.0.0.1:8080", 250);
 * console.log(err.code, err.message); // POOL_TIMEOUT acquire of 127.0.0.1:8080 timed out after 250 ms
 * ```
 */
export class PoolTimeoutError extends PoolError {
  /**
   * Creates the error.
   *
   * @param key the target, "hostname:port"
   * @param ms how long it waited
   * @param options `cause`, and `what` timed out (default "acquire")
   */
  constructor(key: string, ms: number, options: PoolTimeoutErrorOptions = {}) {
    const { what = "acquire", ...errorOptions } = options;
    super("POOL_TIMEOUT", `${what} of ${key} timed out after ${ms} ms`, errorOptions);
    this.name = "PoolTimeoutError";
  }
}

/**
 * An acquire found the pool saturated with `maxPendingAcquires` acquires already waiting, and
 * was rejected at once rather than queued.
 *
 * @example
 * ```ts
 * import { PoolFullError } from "./errors.ts";
 * console.log(new PoolFullError("127.0.0.1:8080", 100).code); // POOL_FULL
 * ```
 */
export class PoolFullError extends PoolError {
  /**
   * Creates the error.
   *
   * @param key the target, "hostname:port"
   * @param limit the `maxPendingAcquires` in force
   */
  constructor(key: string, limit: number) {
    super("POOL_FULL", `pool saturated: ${limit} acquires already waiting (acquire of ${key})`);
    this.name = "PoolFullError";
  }
}

/**
 * The pool was closed: pending acquires reject with it, and so does every later acquire.
 *
 * @example
 * ```ts
 * import { PoolClosedError } from "./errors.ts";
 * console.log(new PoolClosedError().code); // POOL_CLOSED
 * ```
 */
export class PoolClosedError extends PoolError {
  /** Creates the error. */
  constructor() {
    super("POOL_CLOSED", "the connection pool is closed");
    this.name = "PoolClosedError";
  }
}
