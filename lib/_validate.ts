/**
 * The one set of argument checks and their messages. Every public entry point validates through
 * these before its first syscall, so that bad input gets a typed error (TypeError for the wrong
 * type, RangeError for a value out of range) that names the argument, and never reaches libc.
 *
 * Message style, everywhere: "`what` must be <expectation>, got <value>".
 *
 * @module
 */

/** Describes a received value for an error message: its type, or the value for primitives. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}

/**
 * An integer in `min..max`: TypeError when not a number, RangeError when not an integer in range.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./_validate.ts";
 * console.log(checkInteger(5, "count", 0, 10)); // 5
 * ```
 */
export function checkInteger(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number, got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${shown(value)}`);
  }
  return value;
}

/**
 * Like {@linkcode checkInteger}, but `undefined` passes through (an omitted option).
 *
 * @example
 * ```ts
 * import { checkOptionalInteger } from "./_validate.ts";
 * console.log(checkOptionalInteger(undefined, "length", 0, 10)); // undefined
 * ```
 */
export function checkOptionalInteger(
  value: unknown,
  what: string,
  min: number,
  max: number,
): number | undefined {
  return value === undefined ? undefined : checkInteger(value, what, min, max);
}

/**
 * A number `>= min` (Infinity allowed): TypeError when not a number, RangeError otherwise.
 *
 * @example
 * ```ts
 * import { checkNumber } from "./_validate.ts";
 * console.log(checkNumber(Infinity, "timeoutMs", 0)); // Infinity
 * ```
 */
export function checkNumber(value: unknown, what: string, min: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a number, got ${typeof value}`);
  }
  if (Number.isNaN(value) || value < min) {
    throw new RangeError(`${what} must be a number >= ${min}, got ${shown(value)}`);
  }
  return value;
}

/**
 * A boolean, or TypeError.
 *
 * @example
 * ```ts
 * import { checkBoolean } from "./_validate.ts";
 * console.log(checkBoolean(true, "noDelay")); // true
 * ```
 */
export function checkBoolean(value: unknown, what: string): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${what} must be a boolean, got ${typeof value}`);
  }
  return value;
}

/**
 * A function (or `undefined` for an omitted callback), or TypeError.
 *
 * @example
 * ```ts
 * import { checkOptionalFunction } from "./_validate.ts";
 * checkOptionalFunction(undefined, "onProgress");
 * ```
 */
export function checkOptionalFunction<T>(value: T | undefined, what: string): T | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`${what} must be a function, got ${typeof value}`);
  }
  return value;
}

/**
 * An AbortSignal (or `undefined`), or TypeError.
 *
 * @example
 * ```ts
 * import { checkOptionalSignal } from "./_validate.ts";
 * checkOptionalSignal(new AbortController().signal, "signal");
 * ```
 */
export function checkOptionalSignal(value: unknown, what = "signal"): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`${what} must be an AbortSignal, got ${shown(value)}`);
  }
  return value;
}

/**
 * A non-null object (an options bag), or TypeError.
 *
 * @example
 * ```ts
 * import { checkObject } from "./_validate.ts";
 * checkObject({}, "sendFile options");
 * ```
 */
export function checkObject(value: unknown, what: string): void {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${what} must be an object, got ${shown(value)}`);
  }
}

/**
 * A Uint8Array (the only buffer type FFI fast calls take), or TypeError.
 *
 * @example
 * ```ts
 * import { checkBytes } from "./_validate.ts";
 * checkBytes(new Uint8Array(4), "read buffer");
 * ```
 */
export function checkBytes(value: unknown, what: string): Uint8Array<ArrayBuffer> {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array, got ${shown(value)}`);
  }
  return value as Uint8Array<ArrayBuffer>;
}

/**
 * A byte count or offset (or `undefined`): a non-negative safe integer. RangeError for anything
 * else, a wrong type included, since every such value is a position in a byte range.
 *
 * @example
 * ```ts
 * import { checkOptionalByteCount } from "./_validate.ts";
 * console.log(checkOptionalByteCount(4096, "length")); // 4096
 * ```
 */
export function checkOptionalByteCount(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${shown(value)}`);
  }
  return value;
}

/** The longest path the kernel takes, in UTF-8 bytes without the NUL (PATH_MAX - 1). */
export const MAX_PATH_BYTES = 4095;

/** The UTF-8 length of a well-formed string (surrogate pairs: 4 bytes, counted 2 per unit). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3;
  }
  return n;
}

/**
 * A path for a syscall: TypeError unless a string (or, with `allowUrl`, a `file:` URL, decoded as
 * Deno decodes one) that is not empty (unless `allowEmpty`), holds no NUL byte (C would stop
 * there and open another file) and no lone surrogate (UTF-8 would turn it into U+FFFD: another
 * name); RangeError when its UTF-8 form is longer than {@linkcode MAX_PATH_BYTES}. So the path
 * can be encoded into a PATH_MAX buffer without a further check.
 *
 * @example
 * ```ts
 * import { checkPath } from "./_validate.ts";
 * console.log(checkPath("a/b.txt", "path")); // "a/b.txt"
 * console.log(checkPath(new URL("file:///tmp/a%20b"), "path", { allowUrl: true })); // "/tmp/a b"
 * ```
 */
export function checkPath(
  value: unknown,
  what: string,
  options: { allowUrl?: boolean; allowEmpty?: boolean } = {},
): string {
  if (options.allowUrl && value instanceof URL) {
    if (value.protocol !== "file:") {
      throw new TypeError(`${what} must be a file: URL, got ${value.href}`);
    }
    value = decodeURIComponent(value.pathname);
  }
  if (typeof value !== "string") {
    throw new TypeError(
      `${what} must be a path string${options.allowUrl ? " or file: URL" : ""}, got ${
        shown(value)
      }`,
    );
  }
  if (value.length === 0 && !options.allowEmpty) {
    throw new TypeError(`${what} must not be empty`);
  }
  if (value.includes("\0")) {
    throw new TypeError(`${what} must not contain a NUL byte, got ${JSON.stringify(value)}`);
  }
  if (!value.isWellFormed()) {
    throw new TypeError(`${what} must be well-formed Unicode (no lone surrogate)`);
  }
  if (value.length > MAX_PATH_BYTES || utf8Length(value) > MAX_PATH_BYTES) {
    throw new RangeError(
      `${what} must be at most ${MAX_PATH_BYTES} bytes in UTF-8, got ${utf8Length(value)}`,
    );
  }
  return value;
}
