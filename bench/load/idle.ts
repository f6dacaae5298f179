/**
 * Resident bytes per idle keep-alive connection: {@linkcode measureIdleConnections} opens many
 * connections from a separate client process (`idle_client.ts`), holds them idle and reads the
 * server's RSS before and after, then checks that every connection still answers.
 *
 * @example
 * ```ts ignore
 * import { measureIdleConnections, startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "node:http",
 *   command: ["node", "bench/load/servers/node_http.mjs"],
 * });
 * console.log((await measureIdleConnections(server, { count: 2000 })).rssPerConnectionBytes);
 * ```
 *
 * @module
 */
import { delay, lineSplitter, trackChild, untrackChild } from "./children.ts";
import { detectPinning } from "./proc.ts";
import type { ServerProcess } from "./servers.ts";

/** Options of {@linkcode measureIdleConnections}. */
export interface IdleOptions {
  /** Connections to open and hold (each process may hold 20,000 fds here). */
  count: number;
  /** Connects and requests in flight at once while opening. Default 200. */
  concurrency?: number;
  /** Wait after the last connection answered before reading RSS. Default 1000 ms. */
  settleMs?: number;
  /** Bound on the whole measurement. Default 60 s plus 5 ms per connection. */
  timeoutMs?: number;
}

/** Resident bytes per idle keep-alive connection, and whether they all still answer. */
export interface IdleMeasurement {
  /** Connections asked for. */
  count: number;
  /** Connections the client opened. */
  opened: number;
  /** Connections that answered the first request. */
  answeredFirst: number;
  /** Connections that answered a second request after being held idle. */
  answeredSecond: number;
  /** Server RSS before the client connected, bytes. */
  rssBeforeBytes: number;
  /** Server RSS with every connection open and idle, bytes. */
  rssIdleBytes: number;
  /** `(rssIdleBytes - rssBeforeBytes) / answeredFirst`. */
  rssPerConnectionBytes: number;
  /** Server CPU seconds spent while the connections sat idle for `settleMs`. */
  idleCpuSeconds: number;
  /** Seconds the client took to open and serve every connection once. */
  openSeconds: number;
}

const idleClientPath = new URL("./idle_client.ts", import.meta.url).pathname;

interface IdleClientReport {
  event: string;
  opened?: number;
  answered?: number;
  failed?: number;
  seconds?: number;
  error?: string;
}

/**
 * Opens `count` keep-alive connections to the server from a separate client process (pinned to
 * core 1; a separate process because each process may hold only 20,000 fds here), sends one
 * request on each, holds them idle, and reads the server's RSS before and after: resident bytes
 * per idle connection. Then sends a second request on every connection and counts answers, so a
 * server that dropped idle connections shows.
 *
 * Run it on a freshly started server warmed with a short wrk run, so RSS grown by earlier load
 * does not hide or inflate the per-connection cost.
 *
 * @example
 * ```ts ignore
 * import { measureIdleConnections, startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "node:http",
 *   command: ["node", "bench/load/servers/node_http.mjs"],
 * });
 * const idle = await measureIdleConnections(server, { count: 2000 });
 * console.log(idle.rssPerConnectionBytes / 1024, "KiB per idle connection");
 * ```
 */
export async function measureIdleConnections(
  server: ServerProcess,
  options: IdleOptions,
): Promise<IdleMeasurement> {
  server.assertAlive();
  const pinning = await detectPinning();
  const settleMs = options.settleMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 60_000 + 5 * options.count;
  const [program, ...args] = [
    ...pinning.client,
    Deno.execPath(),
    "run",
    `--allow-net=${server.host}`,
    idleClientPath,
    "--host",
    server.host,
    "--port",
    String(server.port),
    "--count",
    String(options.count),
    "--concurrency",
    String(options.concurrency ?? 200),
  ];
  const client = new Deno.Command(program!, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).spawn();
  trackChild(client);
  let stderr = "";
  (async () => {
    for await (const chunk of client.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-4096);
    }
  })().catch(() => {});
  const reader = client.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter())
    .getReader();
  const writer = client.stdin.getWriter();
  const next = async (expected: string): Promise<IdleClientReport> => {
    while (true) {
      const line = await reader.read();
      if (line.done) throw new Error(`idle client exited early\n${stderr.trim()}`);
      let report: IdleClientReport;
      try {
        report = JSON.parse(line.value) as IdleClientReport;
      } catch {
        continue; // not a report line
      }
      if (report.event === "error") throw new Error(`idle client: ${report.error}`);
      if (report.event === expected) return report;
    }
  };

  try {
    // Let allocations from startup and warm-up settle before the baseline.
    await delay(300);
    const rssBeforeBytes = await server.rssBytes();
    await writer.write(new TextEncoder().encode("open\n"));
    const ready = await next("ready");
    const cpuBeforeIdle = await server.cpuSeconds();
    await delay(settleMs);
    const rssIdleBytes = await server.rssBytes();
    const idleCpuSeconds = (await server.cpuSeconds()) - cpuBeforeIdle;
    server.assertAlive();
    await writer.write(new TextEncoder().encode("again\n"));
    const done = await next("done");
    await writer.close();
    await client.status;
    const answeredFirst = ready.answered ?? 0;
    return {
      count: options.count,
      opened: ready.opened ?? 0,
      answeredFirst,
      answeredSecond: done.answered ?? 0,
      rssBeforeBytes,
      rssIdleBytes,
      rssPerConnectionBytes: answeredFirst > 0
        ? (rssIdleBytes - rssBeforeBytes) / answeredFirst
        : NaN,
      idleCpuSeconds,
      openSeconds: ready.seconds ?? NaN,
    };
  } finally {
    try {
      client.kill("SIGKILL");
    } catch {
      // already exited
    }
    await client.status.catch(() => {});
    untrackChild(client);
    reader.releaseLock();
  }
}
