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
