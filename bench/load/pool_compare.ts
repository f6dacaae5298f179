/**
 * The connection pool against a new connection per request, side by side against the same
 * server: `examples/pooled_client.ts` sends HTTP/1.1 GETs to the Deno.serve hello server
 * (pinned to core 0) from a process pinned to core 1, once through the pool (keep-alive
 * connections reused) and once with `--new-connection-per-request` (connect, one request with
 * `Connection: close`, close). Both sides use netio's TcpStream and the same response parser;
 * only the pool differs. Runs are interleaved, each figure the median of its rounds.
 *
 * Rows: requests per second (pool / new connection, a rate: higher is better, target >= 3), and,
 * informative, the server's CPU per request and the client's median latency.
 *
 * ```sh
 * deno run -A bench/load/pool_compare.ts            # about 20 s
 * deno run -A bench/load/pool_compare.ts --full     # longer runs
 * ```
 *
 * As a comparison module for `bench/report.ts` it exports {@linkcode compare}.
 *
 * @module
 */
import {
  type ComparisonContext,
  type ComparisonRow,
  comparisonRow,
  detectPinning,
  median,
  type ServerProcess,
  startServer,
} from "./lib.ts";
import { type ComparisonFlags, numberFlag, runComparisonMain } from "./runner.ts";

const repositoryRoot = new URL("../../", import.meta.url).pathname;

/** Options of {@linkcode runPoolComparison}. */
export interface PoolCompareOptions {
  /** Repository root, ending in "/". */
  root?: string;
  /** Seconds of each measured run. Default 3. */
  durationSeconds?: number;
  /** Interleaved rounds (pool, new connection); figures are medians. Default 2. */
  rounds?: number;
  /** Requests in flight at once (and the pool size). Default 16. */
  concurrency?: number;
  /** Progress output. Default: stderr. */
  log?: (message: string) => void;
}

/** One client run, as `pooled_client.ts --json` prints it, plus the server's CPU. */
export interface ClientRun {
  /** "pool" or "new connection per request". */
  mode: string;
  /** Requests completed. */
  requests: number;
  /** Requests failed. */
  failed: number;
  /** Completed requests per second. */
  requestsPerSecond: number;
  /** Client latency percentiles, ms. */
  latencyMs: { p50: number; p90: number; p99: number };
  /** Server CPU microseconds per completed request over the run. */
  serverCpuUsPerRequest: number;
}

/** The medians of each side. */
export interface PoolComparison {
  /** Through the pool. */
  pool: ClientRun;
  /** A new connection per request. */
  perRequest: ClientRun;
  /** Every run, in order. */
  runs: ClientRun[];
  /** The pinning in force (or why there was none). */
  pinning: string;
}

async function clientRun(
  server: ServerProcess,
  root: string,
  perRequest: boolean,
  seconds: number,
  concurrency: number,
): Promise<ClientRun> {
  const pinning = await detectPinning();
  const args = [
    ...pinning.client,
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-net",
    `${root}examples/pooled_client.ts`,
    "--url",
    server.url,
    "--requests",
    "100000000",
    "--duration-seconds",
    String(seconds),
    "--concurrency",
    String(concurrency),
    "--json",
    ...(perRequest ? ["--new-connection-per-request"] : []),
  ];
  const cpuBefore = await server.cpuSeconds();
  const child = new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Bounded: the client stops starting requests after `seconds`; give it ample time to finish.
  const killer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
  const out = await child.output();
  clearTimeout(killer);
  const cpuAfter = await server.cpuSeconds();
  server.assertAlive();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (text === "") {
    throw new Error(
      `pooled_client.ts exited ${out.code} without a result\n` +
        new TextDecoder().decode(out.stderr).slice(-2000),
    );
  }
  const result = JSON.parse(text.split("\n").at(-1)!) as Omit<ClientRun, "serverCpuUsPerRequest">;
  return {
    mode: result.mode,
    requests: result.requests,
    failed: result.failed,
    requestsPerSecond: result.requestsPerSecond,
    latencyMs: result.latencyMs,
    serverCpuUsPerRequest: result.requests > 0
      ? (cpuAfter - cpuBefore) * 1e6 / result.requests
      : NaN,
  };
}

function medianRun(runs: ClientRun[]): ClientRun {
  return {
    mode: runs[0]!.mode,
    requests: runs.reduce((sum, r) => sum + r.requests, 0),
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    latencyMs: {
      p50: median(runs.map((r) => r.latencyMs.p50)),
      p90: median(runs.map((r) => r.latencyMs.p90)),
      p99: median(runs.map((r) => r.latencyMs.p99)),
    },
    serverCpuUsPerRequest: median(runs.map((r) => r.serverCpuUsPerRequest)),
  };
}

/**
 * Runs the comparison: one Deno.serve server, then pool and new-connection clients in
 * alternation (after a short untimed warm-up of each).
 *
 * @example
 * ```ts ignore
 * import { runPoolComparison } from "./pool_compare.ts";
 *
 * const result = await runPoolComparison({ durationSeconds: 2, rounds: 1 });
 * console.log(result.pool.requestsPerSecond / result.perRequest.requestsPerSecond);
 * ```
 */
export async function runPoolComparison(
  options: PoolCompareOptions = {},
): Promise<PoolComparison> {
  const root = options.root ?? repositoryRoot;
  const seconds = options.durationSeconds ?? 3;
  const rounds = Math.max(1, Math.floor(options.rounds ?? 2));
  const concurrency = options.concurrency ?? 16;
  const log = options.log ?? ((message: string) => console.error(message));
  const pinning = await detectPinning();
  if (pinning.warning) log(`pinning: ${pinning.warning}`);
  await using server = await startServer({
    name: "Deno.serve",
    command: [Deno.execPath(), "run", "--allow-net", `${root}bench/load/servers/deno_serve.ts`],
    cwd: root,
  });
  log(
    `pool compare: Deno.serve on ${server.url}, ${rounds} rounds of ${seconds} s, -c${concurrency}`,
  );
  for (const perRequest of [false, true]) {
    await clientRun(server, root, perRequest, 1, concurrency); // warm-up, not counted
  }
  const runs: ClientRun[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const perRequest of [false, true]) {
      const run = await clientRun(server, root, perRequest, seconds, concurrency);
      log(
        `  ${run.mode}: ${run.requestsPerSecond.toFixed(0)} req/s, ` +
          `server ${run.serverCpuUsPerRequest.toFixed(1)} us CPU/request, ` +
          `p50 ${run.latencyMs.p50.toFixed(3)} ms, ${run.failed} failed`,
      );
      runs.push(run);
    }
  }
  return {
    pool: medianRun(runs.filter((r) => r.mode === "pool")),
    perRequest: medianRun(runs.filter((r) => r.mode !== "pool")),
    runs,
    pinning: pinning.warning ?? "server on core 0, client on core 1",
  };
}

/** The target: the pool serves at least 3x the requests per second. */
export const POOL_RATE_TARGET = 3;

/**
 * Turns a {@linkcode PoolComparison} into report rows.
 *
 * @example
 * ```ts ignore
 * import { poolComparisonRows, runPoolComparison } from "./pool_compare.ts";
 *
 * console.table(poolComparisonRows(await runPoolComparison()));
 * ```
 */
export function poolComparisonRows(result: PoolComparison, concurrency = 16): ComparisonRow[] {
  const peerName = "new connection per request";
  const failures = result.pool.failed + result.perRequest.failed;
  const note = failures > 0 ? `${failures} failed requests` : undefined;
  return [
    comparisonRow({
      work: `HTTP GET to Deno.serve, -c${concurrency}, requests per second`,
      netio: result.pool.requestsPerSecond,
      peer: result.perRequest.requestsPerSecond,
      peerName,
      unit: "req/s",
      target: POOL_RATE_TARGET,
      lowerIsBetter: false,
      ...(note ? { note } : {}),
    }),
    comparisonRow({
      work: `HTTP GET to Deno.serve, -c${concurrency}, server CPU per request`,
      netio: result.pool.serverCpuUsPerRequest,
      peer: result.perRequest.serverCpuUsPerRequest,
      peerName,
      unit: "us CPU/request",
      target: null,
    }),
    comparisonRow({
      work: `HTTP GET to Deno.serve, -c${concurrency}, client p50 latency`,
      netio: result.pool.latencyMs.p50 * 1000,
      peer: result.perRequest.latencyMs.p50 * 1000,
      peerName,
      unit: "us",
      target: null,
    }),
  ];
}

/**
 * The comparison module entry point for `bench/report.ts` and the command line: 2 rounds of 3 s
 * (3 of 5 s with `context.full`) at 16 requests in flight; `flags["duration-seconds"]`,
 * `flags.rounds` and `flags.concurrency` override them.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./pool_compare.ts";
 *
 * const rows = await compare({ root: "./", log: console.error }, { rounds: "1" });
 * console.log(rows[0]?.ratio);
 * ```
 */
export async function compare(
  context: ComparisonContext,
  flags: ComparisonFlags = {},
): Promise<ComparisonRow[]> {
  const concurrency = numberFlag(flags, "concurrency") ?? 16;
  const result = await runPoolComparison({
    root: context.root,
    durationSeconds: numberFlag(flags, "duration-seconds") ?? (context.full ? 5 : 3),
    rounds: numberFlag(flags, "rounds") ?? (context.full ? 3 : 2),
    concurrency,
    log: context.log,
  });
  context.log(`pinning: ${result.pinning}`);
  return poolComparisonRows(result, concurrency);
}

if (import.meta.main) {
  await runComparisonMain(compare, import.meta, {
    description:
      "Requests per second through the pool vs a new connection per request, same server.",
    flags: {
      "duration-seconds": { type: "string", value: "S", help: "seconds per run (default 3)" },
      rounds: { type: "string", value: "N", help: "interleaved rounds (default 2)" },
      concurrency: { type: "string", value: "C", help: "requests in flight (default 16)" },
    },
  });
}
