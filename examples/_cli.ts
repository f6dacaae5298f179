/**
 * The examples' one argument-and-error convention, as command-line tools have it: `--help`
 * prints the usage; a bad command line prints one line and the usage and exits 2; a failure at
 * run time (port in use, connection refused, a missing file) prints one line and exits 1. Never
 * a stack trace.
 *
 * @module
 */

/** A command line that cannot be run: exit code 2, with the usage. */
export class UsageError extends Error {
  /** @param message what is wrong with the command line */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** node:util parseArgs' own errors (unknown flag, missing value) are usage errors too. */
function isParseArgsError(error: unknown): boolean {
  return error instanceof TypeError &&
    String((error as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS");
}

/** Prints `error` as one line (with the usage for a usage error) and exits 2 or 1. */
function report(error: unknown, usage: string): never {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError || isParseArgsError(error)) {
    console.error(`error: ${message}\n\n${usage}`);
    Deno.exit(2);
  }
  console.error(`error: ${message}`);
  Deno.exit(1);
}

/**
 * Runs `main`, turning its failures into one line on stderr and the tools' exit codes.
 *
 * @example
 * ```ts ignore
 * import { runCli, UsageError } from "./_cli.ts";
 * if (import.meta.main) await runCli(main, usage);
 * ```
 */
export async function runCli(main: () => Promise<void> | void, usage: string): Promise<void> {
  try {
    await main();
  } catch (error) {
    report(error, usage);
  }
}

/**
 * The same convention for an example written as top-level code: what it throws (a failed
 * top-level await arrives as an unhandled rejection) is reported the same way. Call it first.
 *
 * @example
 * ```ts ignore
 * installCliErrors(usage);
 * const { values } = parseArgs({ options: {} }); // an unknown flag now exits 2 with one line
 * ```
 */
export function installCliErrors(usage: string): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    report(event.reason, usage);
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    report(event.error, usage);
  });
}

/**
 * A whole number in `min..max` from a flag's text, or a UsageError naming the flag.
 *
 * @example
 * ```ts ignore
 * const port = integerFlag("port", values.port, 0, 65535);
 * ```
 */
export function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${text}`);
  }
  return value;
}
