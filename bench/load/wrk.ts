/**
 * The load generator: make sure `wrk` is there ({@linkcode ensureWrk}), run it pinned to the
 * client core and parse its report ({@linkcode runWrk}, {@linkcode parseWrkOutput}), and read
 * what a server spent around one run ({@linkcode measureLoad}): CPU seconds per request.
 *
 * @example
 * ```ts ignore
 * import { measureLoad, startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * console.log((await measureLoad(server, { connections: 50, durationSeconds: 3 })).cpuUsPerRequest);
 * ```
 *
 * @module
 */
import { runQuiet } from "./children.ts";
import { coreBusySeconds, detectPinning } from "./proc.ts";
import type { ServerProcess } from "./servers.ts";

/** Options of {@linkcode ensureWrk}. */
export interface EnsureWrkOptions {
  /** Run `apt-get update && apt-get install -y wrk` when wrk is missing. Default `false`. */
  install?: boolean;
  /** Progress output. Default: stderr. */
  log?: (message: string) => void;
}

/**
 * Makes sure `wrk` is on PATH and returns its version line; throws with the install command
 * when it is missing, or installs it with apt-get when `install` is set.
 *
 * @example
 * ```ts ignore
 * import { ensureWrk } from "./wrk.ts";
 *
 * console.log(await ensureWrk({ install: false }));
 * ```
 */
export async function ensureWrk(options: EnsureWrkOptions = {}): Promise<string> {
  const log = options.log ?? ((message: string) => console.error(message));
  let version = await wrkVersion();
  if (version !== null) return version;
  if (!options.install) {
    throw new Error(
      "wrk is not installed: run `apt-get update && apt-get install -y wrk` " +
        "(or pass --install to let the benchmark do it)",
    );
  }
  log("wrk missing: apt-get update && apt-get install -y wrk");
  for (const command of [["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]]) {
    const result = await runQuiet(command, 300_000);
    if (result === null || result.code !== 0) {
      throw new Error(`${command.join(" ")} failed: ${result?.stderr.trim() ?? "not found"}`);
    }
  }
  version = await wrkVersion();
  if (version === null) throw new Error("wrk still missing after apt-get install -y wrk");
  return version;
}

/**
 * wrk's version line (e.g. "wrk 4.1.0 [epoll]"), or `null` when wrk is not installed.
 *
 * @example
 * ```ts ignore
 * import { wrkVersion } from "./wrk.ts";
 *
 * console.log(await wrkVersion());
 * ```
 */
export async function wrkVersion(): Promise<string | null> {
  // `wrk --version` prints its banner and usage and exits 1; being able to start it is the test.
  const result = await runQuiet(["wrk", "--version"]);
  if (result === null) return null;
  const line = (result.stdout + result.stderr).split("\n").find((l) => l.startsWith("wrk"));
  return line?.replace(/\s+Copyright.*$/, "").trim() ?? "wrk";
}

/** What {@linkcode parseWrkOutput} reads from wrk's report. */
export interface WrkResult {
  /** Responses completed ("N requests in ..."). */
  requests: number;
  /** Length of the run in seconds, as wrk reports it. */
  durationSeconds: number;
  /** "Requests/sec". */
  requestsPerSecond: number;
  /** Latency percentiles in microseconds (from `--latency`); `null` where absent. */
  latencyUs: { p50: number | null; p75: number | null; p90: number | null; p99: number | null };
  /** Socket errors: connect, read, write, timeout. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** "Non-2xx or 3xx responses". */
  non2xx: number;
}

/**
 * Parses wrk's text report (run with `--latency`).
 *
 * @example
 * ```ts
 * import { parseWrkOutput } from "./wrk.ts";
 *
 * const result = parseWrkOutput(`Running 5s test @ http://127.0.0.1:8080/
 *   1 threads and 50 connections
 *   Latency Distribution
 *      50%  220.00us
 *      75%  260.00us
 *      90%    1.10ms
 *      99%    2.00ms
 *   1100000 requests in 5.00s, 130.00MB read
 * Requests/sec: 220000.00
 * Transfer/sec:     26.00MB`);
 * console.log(result.requests, result.latencyUs.p50, result.latencyUs.p90); // 1100000 220 1100
 * ```
 */
export function parseWrkOutput(text: string): WrkResult {
  const requestsMatch = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(text);
  if (!requestsMatch) throw new Error(`cannot read wrk output:\n${text}`);
  const durationUnit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[requestsMatch[3]!] ?? 1;
  const percentile = (p: number): number | null => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
    if (!match) return null;
    const unit = { us: 1, ms: 1e3, s: 1e6, m: 60e6 }[match[2]!] ?? 1;
    return Number(match[1]) * unit;
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    text,
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  return {
    requests: Number(requestsMatch[1]),
    durationSeconds: Number(requestsMatch[2]) * durationUnit,
    requestsPerSecond: rps ? Number(rps[1]) : 0,
    latencyUs: {
      p50: percentile(50),
      p75: percentile(75),
      p90: percentile(90),
      p99: percentile(99),
    },
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  /** Target URL, e.g. `server.url`. Must be loopback. */
  url: string;
  /** `-c`: open connections. */
  connections: number;
  /** `-d`: seconds of load. */
  durationSeconds: number;
  /** Requests per write through `bench/load/pipeline.lua`; 0 or 1 = no pipelining. */
  pipeline?: number;
  /** `-t`: wrk threads. Default 1 (wrk has one core of its own). */
  threads?: number;
}

const pipelineScript = new URL("./pipeline.lua", import.meta.url).pathname;

/**
 * Runs `wrk -t1 -cC -dDs --latency URL` pinned to core 1 and parses its report. Refuses
 * anything but loopback; killed if it outlives its duration by 20 s.
 *
 * @example
 * ```ts ignore
 * import { runWrk } from "./wrk.ts";
 *
 * const result = await runWrk({ url: "http://127.0.0.1:8080/", connections: 1, durationSeconds: 3 });
 * console.log(result.latencyUs.p50, "us at the median");
 * ```
 */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const url = new URL(options.url);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw new Error(`runWrk: loopback only, not ${url.hostname}`);
  }
  const pinning = await detectPinning();
  const command = [
    ...pinning.client,
    "wrk",
    `-t${options.threads ?? 1}`,
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    "--latency",
    ...((options.pipeline ?? 0) > 1 ? ["-s", pipelineScript] : []),
    options.url,
    ...((options.pipeline ?? 0) > 1 ? ["--", String(options.pipeline)] : []),
  ];
  const result = await runQuiet(command, (options.durationSeconds + 20) * 1000);
  if (result === null) throw new Error("wrk is not installed: apt-get install -y wrk");
  if (result.code !== 0) {
    throw new Error(`${command.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return parseWrkOutput(result.stdout);
}

/** Options of {@linkcode measureLoad}. */
export interface LoadOptions {
  /** wrk `-c`. */
  connections: number;
  /** wrk `-d` in seconds. */
  durationSeconds: number;
  /** Requests per write; 0 or 1 = none. */
  pipeline?: number;
}

/** A wrk run against a server with what the server spent meanwhile. */
export interface LoadMeasurement {
  /** wrk's report. */
  wrk: WrkResult;
  /** Server CPU seconds (user + system, all threads) over the run. */
  cpuSeconds: number;
  /** Server CPU microseconds per completed request. */
  cpuUsPerRequest: number;
  /** Server CPU seconds per wall second: near 1 = the server was the bottleneck. */
  cpuUtilization: number;
  /** Socket errors plus non-2xx responses seen by wrk. */
  errors: number;
  /**
   * Busy seconds of the server's core spent outside the server over the run (other processes,
   * interrupts, steal): a large share means the figure was disturbed. `null` when unpinned.
   */
  serverCoreOtherSeconds: number | null;
}

/**
 * Drives a server with wrk and reads its CPU seconds from `/proc` just before and after:
 * CPU per request is the figure we compare. The server sits idle outside the run, so the few
 * milliseconds of wrk's start and exit inside the window add nothing measurable.
 *
 * @example
 * ```ts ignore
 * import { measureLoad, startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "node:http",
 *   command: ["node", "bench/load/servers/node_http.mjs"],
 * });
 * const pipelined = await measureLoad(server, { connections: 50, durationSeconds: 3, pipeline: 16 });
 * console.log(pipelined.cpuUsPerRequest, pipelined.wrk.requestsPerSecond);
 * ```
 */
export async function measureLoad(
  server: ServerProcess,
  options: LoadOptions,
): Promise<LoadMeasurement> {
  server.assertAlive();
  const { serverCore } = await detectPinning();
  const coreBefore = serverCore === null ? null : await coreBusySeconds(serverCore);
  const before = await server.cpuSeconds();
  const wrk = await runWrk({
    url: server.url,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    ...(options.pipeline !== undefined ? { pipeline: options.pipeline } : {}),
  });
  const after = await server.cpuSeconds();
  const coreAfter = serverCore === null ? null : await coreBusySeconds(serverCore);
  server.assertAlive();
  const cpuSeconds = after - before;
  const errors = wrk.socketErrors.connect + wrk.socketErrors.read + wrk.socketErrors.write +
    wrk.socketErrors.timeout + wrk.non2xx;
  return {
    wrk,
    cpuSeconds,
    cpuUsPerRequest: wrk.requests > 0 ? (cpuSeconds * 1e6) / wrk.requests : NaN,
    cpuUtilization: wrk.durationSeconds > 0 ? cpuSeconds / wrk.durationSeconds : NaN,
    errors,
    serverCoreOtherSeconds: coreBefore === null || coreAfter === null
      ? null
      : Math.max(0, coreAfter - coreBefore - cpuSeconds),
  };
}
