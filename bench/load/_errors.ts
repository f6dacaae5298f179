/**
 * How the harness words a failure in a note or a log line, one way for every module:
 * {@linkcode errorText} (the whole message) and {@linkcode errorLine} (its first line, for a
 * table cell).
 *
 * @example
 * ```ts
 * import { errorLine, errorText } from "./_errors.ts";
 *
 * const error = new Error("wrk exited 1:\nunable to connect");
 * console.log(errorLine(error)); // wrk exited 1:
 * console.log(errorText(error).length); // 34
 * ```
 *
 * @module
 */

/**
 * The message of an error, or the thrown value as a string.
 *
 * @example
 * ```ts
 * import { errorText } from "./_errors.ts";
 *
 * console.log(errorText(new Error("no attach")), errorText("timeout")); // no attach timeout
 * ```
 */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The first line of {@linkcode errorText}: what a note or a table cell shows.
 *
 * @example
 * ```ts
 * import { errorLine } from "./_errors.ts";
 *
 * console.log(errorLine(new Error("peer 12 exited:\nEADDRINUSE"))); // peer 12 exited:
 * ```
 */
export function errorLine(error: unknown): string {
  return errorText(error).split("\n")[0]!;
}
