/**
 * Syscalls per request under load: {@linkcode countSyscalls} attaches `strace -c -f` to a running
 * server for one wrk run and reads strace's summary ({@linkcode parseStraceSummary});
 * {@linkcode formatSyscallTable} prints the top syscalls of several servers per request.
 *
 * @example
 * ```ts ignore
 * import { countSyscalls, formatSyscallTable } from "./syscalls.ts";
 * import { startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * console.log(formatSyscallTable([await countSyscalls(server, 2, 50)]));
 * ```
 *
 * @module
 */
import { delay, trackChild, untrackChild } from "./children.ts";
import type { ServerProcess } from "./servers.ts";
import { runWrk } from "./wrk.ts";

/** What `strace -c` counted: calls by syscall, and the requests served meanwhile. */
export interface SyscallCount {
  /** Server name. */
  name: string;
  /** Requests wrk completed while strace was attached. */
  requests: number;
  /** Calls by syscall name over the run. */
  calls: Record<string, number>;
  /** All calls. */
  total: number;
}

/**
 * Parses the table of `strace -c` (`% time seconds usecs/call calls [errors] syscall`).
 *
 * @example
 * ```ts
 * import { parseStraceSummary } from "./syscalls.ts";
 *
 * const calls = parseStraceSummary(`% time     seconds  usecs/call     calls    errors syscall
 * ------ ----------- ----------- --------- --------- ----------------
 *  60.00    0.060000           3     20000           sendto
 *  40.00    0.040000           2     20000      1000 recvfrom
 * ------ ----------- ----------- --------- --------- ----------------
 * 100.00    0.100000           2     40000      1000 total`);
 * console.log(calls); // { sendto: 20000, recvfrom: 20000 }
 * ```
 */
export function parseStraceSummary(text: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d+\.\d+$/.test(fields[0]!)) continue;
    const name = fields[fields.length - 1]!;
    if (name === "total") continue;
    calls[name] = Number(fields[3]);
  }
  return calls;
}

/**
 * Attaches `strace -c -f` to a running server for one keep-alive wrk run and counts its syscalls.
 * `strace` slows every syscall down, so more requests wait per turn than without it: batching
 * designs read a little better here than they run; compare the servers with each other.
 */
export async function countSyscalls(
  server: ServerProcess,
  seconds: number,
  connections: number,
): Promise<SyscallCount> {
  const output = await Deno.makeTempFile({ prefix: "netio-strace-" });
  const strace = new Deno.Command("strace", {
    args: ["-c", "-f", "-o", output, "-p", String(server.pid)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  trackChild(strace);
  try {
    // strace says "Process N attached" per thread on stderr; wait for the first, then settle.
    const reader = strace.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const attached = (async () => {
      let text = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`strace exited: ${text.trim()}`);
        text += value;
        if (/attached/.test(text)) return;
      }
    })();
    await Promise.race([attached, delay(5000).then(() => Promise.reject(new Error("no attach")))]);
    (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })().catch(() => {});
    await delay(300);
    const wrk = await runWrk({ url: server.url, connections, durationSeconds: seconds });
    strace.kill("SIGINT");
    await strace.status;
    const calls = parseStraceSummary(await Deno.readTextFile(output));
    const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
    return { name: server.name, requests: wrk.requests, calls, total };
  } finally {
    try {
      strace.kill("SIGKILL");
    } catch {
      // exited
    }
    await strace.status;
    untrackChild(strace);
    await Deno.remove(output).catch(() => {});
  }
}

/**
 * The per-request syscall table: the top syscalls of every server, calls per request.
 *
 * @example
 * ```ts
 * import { formatSyscallTable } from "./syscalls.ts";
 *
 * console.log(formatSyscallTable([
 *   { name: "a", requests: 10, calls: { sendto: 10, recvfrom: 10 }, total: 20 },
 * ]));
 * ```
 */
export function formatSyscallTable(counts: SyscallCount[], top = 6): string {
  const names = new Set<string>();
  for (const count of counts) {
    Object.entries(count.calls).sort((a, b) => b[1] - a[1]).slice(0, top)
      .forEach(([name]) => names.add(name));
  }
  const header = ["syscall per request", ...counts.map((c) => c.name)];
  const lines = [
    header,
    ...[...names].map((name) => [
      name,
      ...counts.map((c) => c.requests > 0 ? ((c.calls[name] ?? 0) / c.requests).toFixed(3) : "-"),
    ]),
    [
      "all syscalls",
      ...counts.map((c) => c.requests > 0 ? (c.total / c.requests).toFixed(3) : "-"),
    ],
    ["requests traced", ...counts.map((c) => String(c.requests))],
  ];
  const widths = header.map((_, i) => Math.max(...lines.map((line) => line[i]!.length)));
  return lines.map((line) =>
    line.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join("  ")
  ).join("\n");
}

/** Whether `strace` is installed. */
export async function haveStrace(): Promise<boolean> {
  try {
    const out = await new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" })
      .output();
    return out.code === 0;
  } catch {
    return false;
  }
}
