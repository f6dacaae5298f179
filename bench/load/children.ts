/**
 * Child processes of the harness besides the servers: one registry of the helpers still running
 * (wrk, the idle client, transfer peers) so that one clean-up ({@linkcode killTrackedChildren},
 * called by `killAllServers`) ends them all, {@linkcode runQuiet} for short bounded commands, and
 * the small stream helpers the harness reads child output with.
 *
 * @example
 * ```ts
 * import { runQuiet } from "./children.ts";
 *
 * console.log((await runQuiet(["uname", "-s"]))?.stdout.trim()); // Linux
 * ```
 *
 * @module
 */

const decoder = new TextDecoder();

/** Load generators and helpers still running (wrk, the idle client, peers), killed on clean-up. */
const liveChildren = new Set<Deno.ChildProcess>();

/**
 * Registers a child process to be killed by {@linkcode killTrackedChildren} (and so by
 * `killAllServers`, the ^C hook and the runner's clean-up) if it is still running then.
 *
 * @example
 * ```ts
 * import { trackChild, untrackChild } from "./children.ts";
 *
 * const child = new Deno.Command("true").spawn();
 * trackChild(child);
 * await child.status;
 * untrackChild(child);
 * ```
 */
export function trackChild(child: Deno.ChildProcess): void {
  liveChildren.add(child);
}

/**
 * Forgets a child registered with {@linkcode trackChild} (it exited or was stopped).
 *
 * @example
 * ```ts
 * import { trackChild, untrackChild } from "./children.ts";
 *
 * const child = new Deno.Command("true").spawn();
 * trackChild(child);
 * await child.status;
 * untrackChild(child);
 * ```
 */
export function untrackChild(child: Deno.ChildProcess): void {
  liveChildren.delete(child);
}

/**
 * SIGKILLs every child registered with {@linkcode trackChild}, without waiting, and forgets them.
 *
 * @example
 * ```ts
 * import { killTrackedChildren, trackChild } from "./children.ts";
 *
 * const child = new Deno.Command("sleep", { args: ["10"] }).spawn();
 * trackChild(child);
 * killTrackedChildren();
 * console.log((await child.status).signal); // SIGKILL
 * ```
 */
export function killTrackedChildren(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }
  liveChildren.clear();
}

/**
 * Runs a short command and returns its exit code and output; `null` when it cannot be started
 * (not installed). Bounded by `timeoutMs` (default 10 s).
 *
 * @example
 * ```ts
 * import { runQuiet } from "./children.ts";
 *
 * const result = await runQuiet(["uname", "-r"]);
 * console.log(result?.stdout.trim());
 * ```
 */
export async function runQuiet(
  command: string[],
  timeoutMs = 10_000,
): Promise<{ code: number; stdout: string; stderr: string } | null> {
  const [program, ...args] = command;
  if (program === undefined) throw new TypeError("runQuiet: empty command");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  trackChild(child);
  try {
    const output = await child.output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    untrackChild(child);
  }
}

/**
 * Splits a text stream into lines (without the newline); a last unterminated line is kept.
 *
 * @example
 * ```ts
 * import { lineSplitter } from "./children.ts";
 *
 * const lines = ReadableStream.from(["a\nb", "c\n", "d"]).pipeThrough(lineSplitter());
 * console.log(await Array.fromAsync(lines)); // ["a", "bc", "d"]
 * ```
 */
export function lineSplitter(): TransformStream<string, string> {
  let pending = "";
  return new TransformStream<string, string>({
    transform(chunk, controller): void {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        controller.enqueue(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    },
    flush(controller): void {
      if (pending !== "") controller.enqueue(pending);
    },
  });
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { delay } from "./children.ts";
 *
 * await delay(10);
 * ```
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
