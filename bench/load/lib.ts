/**
 * The side-by-side whole-program benchmark harness: start a server pinned to core 0, drive it with
 * `wrk` pinned to core 1, and read what the server process spent from `/proc` around the run
 * (CPU seconds per request, resident bytes per idle connection). See "How we measure" in
 * DESIGN.md.
 *
 * Run with `-A`: Deno asks for `--allow-all` to read another process's `/proc/PID` files, and
 * the harness spawns servers, wrk and taskset anyway.
 *
 * Everything here is bounded: loopback only, fixed durations, a timeout on every child process,
 * and every server started through {@linkcode startServer} is killed at the end, on error too.
 *
 * Comparison modules (HTTP today; transfer, pool and FFI later) return
 * {@linkcode ComparisonRow}s that `bench/report.ts` gathers into `bench/RESULTS.md`.
 *
 * @example
 * ```ts ignore
 * import { measureLoad, startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * const load = await measureLoad(server, { connections: 50, durationSeconds: 3 });
 * console.log(`${load.cpuUsPerRequest.toFixed(2)} us CPU per request`);
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Comparison rows: what every comparison module returns to bench/report.ts
// ---------------------------------------------------------------------------------------------

/**
 * One line of the results table: netio's figure for one piece of work beside one peer's.
 *
 * `ratio` is `netio / peer`. Every figure we compare today is a cost (CPU per request, CPU per
 * GiB, bytes per connection, latency), so lower is better and a target is met when
 * `ratio <= target`; a row about a rate sets `lowerIsBetter: false` and is met when
 * `ratio >= target`.
 *
 * @example
 * ```ts
 * import type { ComparisonRow } from "./lib.ts";
 *
 * const row: ComparisonRow = {
 *   work: "keep-alive hello, wrk -c50",
 *   netio: 4.1,
 *   peer: 4.3,
 *   peerName: "Deno.serve",
 *   unit: "us CPU/request",
 *   ratio: 4.1 / 4.3,
 *   target: 1,
 *   met: true,
 * };
 * console.log(row.met);
 * ```
 */
export interface ComparisonRow {
  /** What was done, e.g. "keep-alive hello, wrk -c50". */
  work: string;
  /** netio's figure in `unit`; `null` when it could not be measured. */
  netio: number | null;
  /** The peer's figure in `unit`; `null` when it could not be measured. */
  peer: number | null;
  /** Who the peer is, e.g. "Deno.serve", "node:http", "C sendfile". */
  peerName: string;
  /** Unit of `netio` and `peer`, e.g. "us CPU/request", "KiB/connection", "CPU s/GiB". */
  unit: string;
  /** `netio / peer`; `null` when either side is missing. */
  ratio: number | null;
  /** The ratio to meet (from the issue); `null` when there is none, the row is then informative. */
  target: number | null;
  /** Whether `ratio` meets `target`; `null` when either is missing. */
  met: boolean | null;
  /** Default `true`: a cost, met when `ratio <= target`. `false`: a rate, met when `>=`. */
  lowerIsBetter?: boolean;
  /**
   * Who stood in netio's column when it was not netio (e.g. "node:http (stand-in)" while the
   * netio server does not exist yet); absent means netio itself.
   */
  subjectName?: string;
  /** A short remark shown beside the row: errors seen, a stand-in, a bottleneck. */
  note?: string;
}

/** Options of {@linkcode comparisonRow}. */
export interface ComparisonRowOptions {
  /** What was done. */
  work: string;
  /** netio's figure, or `null`/`undefined` when not measured. */
  netio: number | null | undefined;
  /** The peer's figure, or `null`/`undefined` when not measured. */
  peer: number | null | undefined;
  /** Who the peer is. */
  peerName: string;
  /** Unit of both figures. */
  unit: string;
  /** Target ratio, `null` for none. */
  target: number | null;
  /** Default `true`. */
  lowerIsBetter?: boolean;
  /** Who stood in netio's column, when it was not netio. */
  subjectName?: string;
  /** A short remark. */
  note?: string;
}

/**
 * Builds a {@linkcode ComparisonRow}, computing `ratio` and `met` the one way the report reads
 * them.
 *
 * @example
 * ```ts
 * import { comparisonRow } from "./lib.ts";
 *
 * const row = comparisonRow({
 *   work: "pipelined x16",
 *   netio: 2.5,
 *   peer: 2.9,
 *   peerName: "Deno.serve",
 *   unit: "us CPU/request",
 *   target: 1,
 * });
 * console.log(row.ratio?.toFixed(2), row.met); // 0.86 true
 * ```
 */
export function comparisonRow(options: ComparisonRowOptions): ComparisonRow {
  const netio = finiteOrNull(options.netio);
  const peer = finiteOrNull(options.peer);
  const lowerIsBetter = options.lowerIsBetter ?? true;
  const ratio = netio !== null && peer !== null && peer > 0 ? netio / peer : null;
  const met = ratio === null || options.target === null
    ? null
    : lowerIsBetter
    ? ratio <= options.target
    : ratio >= options.target;
  const row: ComparisonRow = {
    work: options.work,
    netio,
    peer,
    peerName: options.peerName,
    unit: options.unit,
    ratio,
    target: options.target,
    met,
  };
  if (!lowerIsBetter) row.lowerIsBetter = false;
  if (options.subjectName !== undefined) row.subjectName = options.subjectName;
  if (options.note !== undefined) row.note = options.note;
  return row;
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * What `bench/report.ts` hands to every comparison module's `compare` function.
 *
 * @example
 * ```ts
 * import type { ComparisonContext } from "./lib.ts";
 *
 * const context: ComparisonContext = {
 *   root: new URL("../../", import.meta.url).pathname,
 *   log: (message) => console.error(message),
 * };
 * context.log(`repository at ${context.root}`);
 * ```
 */
export interface ComparisonContext {
  /** Absolute path of the repository root, ending in "/". */
  root: string;
  /** Progress output (stderr in the report); one line per call. */
  log: (message: string) => void;
  /** The full run: longer durations, the largest sizes (e.g. 19,000 idle connections). */
  full?: boolean;
  /** Install missing tools (wrk) with apt-get instead of failing. */
  install?: boolean;
}

/**
 * The shape of a comparison module: `bench/report.ts` imports each listed module and calls its
 * exported `compare`.
 *
 * @example
 * ```ts
 * import { type ComparisonModule, comparisonRow } from "./lib.ts";
 *
 * const module: ComparisonModule = {
 *   compare: () =>
 *     Promise.resolve([
 *       comparisonRow({
 *         work: "1 GiB sendfile over loopback",
 *         netio: 0.45,
 *         peer: 0.42,
 *         peerName: "C sendfile",
 *         unit: "CPU s/GiB",
 *         target: 1.2,
 *       }),
 *     ]),
 * };
 * console.log((await module.compare({ root: "/", log: () => {} })).length);
 * ```
 */
export interface ComparisonModule {
  /** Runs the comparison and returns its rows. */
  compare(context: ComparisonContext): Promise<ComparisonRow[]>;
}

/**
 * The median of `values` (the mean of the middle two for an even count); NaN when empty. The one
 * statistic every comparison module reports across its rounds.
 *
 * @example
 * ```ts
 * import { median } from "./lib.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 3, 2])); // 2 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// Tools: wrk, taskset, CLK_TCK
// ---------------------------------------------------------------------------------------------

const decoder = new TextDecoder();

/** Load generators and helpers still running (wrk, the idle client), killed with the servers. */
const liveClients = new Set<Deno.ChildProcess>();

/**
 * Runs a short command and returns its exit code and output; `null` when it cannot be started
 * (not installed). Bounded by `timeoutMs` (default 10 s).
 *
 * @example
 * ```ts
 * import { runQuiet } from "./lib.ts";
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
  liveClients.add(child);
  try {
    const output = await child.output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    liveClients.delete(child);
  }
}

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
 * import { ensureWrk } from "./lib.ts";
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

async function wrkVersion(): Promise<string | null> {
  // `wrk --version` prints its banner and usage and exits 1; being able to start it is the test.
  const result = await runQuiet(["wrk", "--version"]);
  if (result === null) return null;
  const line = (result.stdout + result.stderr).split("\n").find((l) => l.startsWith("wrk"));
  return line?.replace(/\s+Copyright.*$/, "").trim() ?? "wrk";
}

/** CPU pinning prefixes: the server on one core, the load generator on another. */
export interface Pinning {
  /** Prefix for the server command, e.g. `["taskset", "-c", "0"]`, or `[]`. */
  server: string[];
  /** Prefix for the load generator (wrk, idle client), e.g. `["taskset", "-c", "1"]`, or `[]`. */
  client: string[];
  /** The core the server runs on, when pinned. */
  serverCore: number | null;
  /** Why pinning is off or partial, when it is. */
  warning?: string;
}

let pinningCache: Promise<Pinning> | undefined;

/**
 * Decides how to pin: server on core 0 and load on core 1 with `taskset` when there are two
 * cores or more; unpinned (with a warning) on one core or without taskset, where both sides
 * share the CPU and ratios mean less.
 *
 * @example
 * ```ts
 * import { detectPinning } from "./lib.ts";
 *
 * const pinning = await detectPinning();
 * console.log(pinning.server, pinning.client, pinning.warning ?? "pinned");
 * ```
 */
export function detectPinning(): Promise<Pinning> {
  pinningCache ??= (async (): Promise<Pinning> => {
    const cores = navigator.hardwareConcurrency;
    if (cores < 2) {
      return {
        server: [],
        client: [],
        serverCore: null,
        warning: `only ${cores} core: server and load generator share it, unpinned`,
      };
    }
    for (const core of ["0", "1"]) {
      const probe = await runQuiet(["taskset", "-c", core, "true"]);
      if (probe === null) {
        return {
          server: [],
          client: [],
          serverCore: null,
          warning: "taskset not found: running unpinned",
        };
      }
      if (probe.code !== 0) {
        return {
          server: [],
          client: [],
          serverCore: null,
          warning: `taskset -c ${core} failed (${probe.stderr.trim()}): running unpinned`,
        };
      }
    }
    return { server: ["taskset", "-c", "0"], client: ["taskset", "-c", "1"], serverCore: 0 };
  })();
  return pinningCache;
}

let clockTicksCache: Promise<number> | undefined;

/**
 * Clock ticks per second of `/proc/PID/stat` times, from `getconf CLK_TCK` (100 almost
 * everywhere).
 *
 * @example
 * ```ts
 * import { clockTicksPerSecond } from "./lib.ts";
 *
 * console.log(await clockTicksPerSecond()); // 100
 * ```
 */
export function clockTicksPerSecond(): Promise<number> {
  clockTicksCache ??= (async (): Promise<number> => {
    const result = await runQuiet(["getconf", "CLK_TCK"]);
    const ticks = Number(result?.stdout.trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  })();
  return clockTicksCache;
}

// ---------------------------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------------------------

/**
 * The process and all its descendants (a server started through a wrapper still counts whole).
 *
 * @example
 * ```ts ignore
 * import { processTree } from "./lib.ts";
 *
 * console.log(processTree(Deno.pid).includes(Deno.pid)); // true
 * ```
 */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const parent = all[i]!;
    let tasks: string[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${parent}/task`)].map((entry) => entry.name);
    } catch (error) {
      rethrowProcPermission(error, `/proc/${parent}/task`);
      continue; // exited meanwhile
    }
    for (const task of tasks) {
      try {
        const children = Deno.readTextFileSync(`/proc/${parent}/task/${task}/children`);
        for (const child of children.trim().split(/\s+/)) {
          if (child !== "") all.push(Number(child));
        }
      } catch (error) {
        rethrowProcPermission(error, `/proc/${parent}/task/${task}/children`);
        // thread exited, or the kernel lacks CONFIG_PROC_CHILDREN: the process alone counts
      }
    }
  }
  return all;
}

/**
 * Deno asks for `--allow-all` to read `/proc/PID` files and `/proc/stat` (`--allow-read` is not
 * enough); a silent zero would make every figure wrong, so say so.
 */
function rethrowProcPermission(error: unknown, path: string): void {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    throw new Error(
      `cannot read ${path}: Deno needs --allow-all (-A) to read /proc files`,
      { cause: error },
    );
  }
}

async function readProcFile(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    rethrowProcPermission(error, path);
    return null; // the process is gone
  }
}

/**
 * CPU seconds (user + system, every thread) spent so far by one process, from
 * `/proc/PID/stat` fields 14 and 15. Threads are included: the kernel sums them in the
 * thread group's line. `null` when the process is gone.
 *
 * @example
 * ```ts ignore
 * import { processCpuSeconds } from "./lib.ts";
 *
 * console.log(await processCpuSeconds(Deno.pid));
 * ```
 */
export async function processCpuSeconds(pid: number): Promise<number | null> {
  const ticks = await clockTicksPerSecond();
  const stat = await readProcFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces; count after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / ticks;
}

/**
 * Resident bytes of one process, from `VmRSS` in `/proc/PID/status`; `null` when it is gone.
 *
 * @example
 * ```ts ignore
 * import { processRssBytes } from "./lib.ts";
 *
 * console.log(((await processRssBytes(Deno.pid)) ?? 0) / 1024 / 1024, "MiB");
 * ```
 */
export async function processRssBytes(pid: number): Promise<number | null> {
  const status = await readProcFile(`/proc/${pid}/status`);
  if (status === null) return null;
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * Busy CPU seconds (everything but idle and iowait) of one core so far, from `/proc/stat`;
 * `null` when the line is missing.
 *
 * @example
 * ```ts ignore
 * import { coreBusySeconds } from "./lib.ts";
 *
 * console.log(await coreBusySeconds(0));
 * ```
 */
export async function coreBusySeconds(core: number): Promise<number | null> {
  const ticks = await clockTicksPerSecond();
  const stat = await readProcFile("/proc/stat");
  const line = stat?.split("\n").find((l) => l.startsWith(`cpu${core} `));
  if (line === undefined) return null;
  // user nice system idle iowait irq softirq steal ...; guest time is already inside user.
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = fields.reduce(
    (sum, value, index) => index === 3 || index === 4 ? sum : sum + value,
    0,
  );
  return busy / ticks;
}

/**
 * CPU seconds of a process tree (see {@linkcode processTree}).
 *
 * @example
 * ```ts ignore
 * import { treeCpuSeconds } from "./lib.ts";
 *
 * console.log(await treeCpuSeconds(Deno.pid));
 * ```
 */
export async function treeCpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const member of processTree(pid)) total += (await processCpuSeconds(member)) ?? 0;
  return total;
}

/**
 * Resident bytes of a process tree (see {@linkcode processTree}).
 *
 * @example
 * ```ts ignore
 * import { treeRssBytes } from "./lib.ts";
 *
 * console.log(await treeRssBytes(Deno.pid));
 * ```
 */
export async function treeRssBytes(pid: number): Promise<number> {
  let total = 0;
  for (const member of processTree(pid)) total += (await processRssBytes(member)) ?? 0;
  return total;
}

// ---------------------------------------------------------------------------------------------
// Servers under comparison
// ---------------------------------------------------------------------------------------------

/**
 * A server to compare. Its command takes `--port N` and `--host ADDR` (appended by
 * {@linkcode startServer}) and prints `listening on PORT` to stdout when ready.
 *
 * @example
 * ```ts
 * import type { ServerSpec } from "./lib.ts";
 *
 * const node: ServerSpec = { name: "node:http", command: ["node", "bench/load/servers/node_http.mjs"] };
 * console.log(node.name);
 * ```
 */
export interface ServerSpec {
  /** Display name, e.g. "Deno.serve". */
  name: string;
  /** Program and arguments, without `--port`/`--host`. */
  command: string[];
  /** Working directory; default the current one. */
  cwd?: string;
}

/** Options of {@linkcode startServer}. */
export interface StartServerOptions {
  /** Loopback address to bind. Default "127.0.0.1". */
  host?: string;
  /** How long to wait for `listening on PORT`. Default 20 s. */
  readyTimeoutMs?: number;
}

const liveServers = new Set<ServerProcess>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // A benchmark interrupted by ^C or killed by a timeout must not leave servers behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      killAllServers();
      Deno.exit(130);
    });
  }
  globalThis.addEventListener("unload", killAllServers);
}

/**
 * Kills every server started by {@linkcode startServer} that is still running, and every load
 * generator (wrk, the idle client) still running (SIGKILL, no waiting). Installed as a ^C and
 * unload hook; call it from a last `finally` as well.
 *
 * @example
 * ```ts
 * import { killAllServers } from "./lib.ts";
 *
 * try {
 *   // ... benchmark ...
 * } finally {
 *   killAllServers();
 * }
 * ```
 */
export function killAllServers(): void {
  for (const server of liveServers) server.killNow();
  for (const child of liveClients) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }
  liveClients.clear();
}

/**
 * A running server started by {@linkcode startServer}: its pid and port, `/proc` readings, and
 * `stop()` (also run by `await using`).
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "node:http",
 *   command: ["node", "bench/load/servers/node_http.mjs"],
 * });
 * console.log(server.port, await server.cpuSeconds(), await server.rssBytes());
 * ```
 */
export class ServerProcess {
  /** Display name from the spec. */
  readonly name: string;
  /** The port it printed. */
  readonly port: number;
  /** Address it was bound to. */
  readonly host: string;
  #child: Deno.ChildProcess;
  #stderrTail: () => string;
  #stopped = false;

  /** Use {@linkcode startServer}. */
  constructor(
    name: string,
    host: string,
    port: number,
    child: Deno.ChildProcess,
    stderrTail: () => string,
  ) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.#child = child;
    this.#stderrTail = stderrTail;
  }

  /** Process id (taskset execs the server, so this is the server itself). */
  get pid(): number {
    return this.#child.pid;
  }

  /** `http://HOST:PORT/`. */
  get url(): string {
    return `http://${this.host}:${this.port}/`;
  }

  /** Last lines the server wrote to stderr, for error messages. */
  stderrTail(): string {
    return this.#stderrTail();
  }

  /** CPU seconds spent so far by the server and its descendants, every thread. */
  cpuSeconds(): Promise<number> {
    return treeCpuSeconds(this.pid);
  }

  /** Resident bytes of the server and its descendants. */
  rssBytes(): Promise<number> {
    return treeRssBytes(this.pid);
  }

  /** Throws when the server has exited (it crashed under load). */
  assertAlive(): void {
    if (this.#stopped) throw new Error(`${this.name} was stopped`);
    let stat: string | null;
    try {
      stat = Deno.readTextFileSync(`/proc/${this.pid}/stat`);
    } catch (error) {
      rethrowProcPermission(error, `/proc/${this.pid}/stat`);
      stat = null;
    }
    if (stat === null || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) {
      throw new Error(`${this.name} exited during the run\n${this.stderrTail()}`);
    }
  }

  /** SIGKILL the server and its descendants now, without waiting. */
  killNow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    liveServers.delete(this);
    for (const pid of processTree(this.pid).reverse()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, wait up to 2 s, then SIGKILL; resolves when the process has exited. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    const descendants = processTree(this.pid).slice(1);
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 2_000)),
    ]);
    clearTimeout(timer);
    this.#stopped = true;
    liveServers.delete(this);
    for (const pid of exited ? descendants : [this.pid, ...descendants]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.#child.status;
  }

  /** Same as {@linkcode ServerProcess.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts a server pinned to core 0 (see {@linkcode detectPinning}) with `--port 0 --host HOST`
 * appended, and waits for its `listening on PORT` line. On a timeout or early exit the process
 * is killed and the error carries its stderr.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * console.log(`${server.name} on ${server.url}, pid ${server.pid}`);
 * ```
 */
export async function startServer(
  spec: ServerSpec,
  options: StartServerOptions = {},
): Promise<ServerProcess> {
  installExitHooks();
  const host = options.host ?? "127.0.0.1";
  const pinning = await detectPinning();
  const [program, ...args] = [
    ...pinning.server,
    ...spec.command,
    "--port",
    "0",
    "--host",
    host,
  ];
  const child = new Deno.Command(program!, {
    args,
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  // Drain stderr in the background (a full pipe would stall the server); keep the last 4 KiB.
  let stderr = "";
  const stderrDone = (async () => {
    const stream = child.stderr.pipeThrough(new TextDecoderStream());
    for await (const chunk of stream) stderr = (stderr + chunk).slice(-4096);
  })().catch(() => {});
  const stderrTail = (): string => stderr.trim();

  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  const reader = lines.getReader();
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    while (true) {
      const next = await Promise.race([reader.read(), timedOut]);
      if (next === "timeout") {
        throw new Error(`${spec.name}: no "listening on PORT" line within ${timeoutMs} ms`);
      }
      if (next.done) {
        await Promise.race([stderrDone, delay(200)]);
        throw new Error(`${spec.name} exited before listening\n${stderrTail()}`);
      }
      const match = /^listening on (\d+)\s*$/.exec(next.value);
      if (match) {
        const server = new ServerProcess(spec.name, host, Number(match[1]), child, stderrTail);
        liveServers.add(server);
        // Keep reading stdout so a chatty server never blocks on a full pipe.
        (async () => {
          while (!(await reader.read()).done) { /* discard */ }
        })().catch(() => {});
        return server;
      }
    }
  } catch (error) {
    // The whole tree: a wrapper's children would otherwise hold the pipes (and the port) open.
    for (const pid of processTree(child.pid).reverse()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await child.status;
    reader.releaseLock();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function lineSplitter(): TransformStream<string, string> {
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------------

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
 * import { parseWrkOutput } from "./lib.ts";
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
 * import { runWrk } from "./lib.ts";
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

// ---------------------------------------------------------------------------------------------
// Idle keep-alive connections
// ---------------------------------------------------------------------------------------------

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
  liveClients.add(client);
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
    liveClients.delete(client);
    reader.releaseLock();
  }
}

// ---------------------------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------------------------

/** The machine a run was taken on, for the report. */
export interface MachineInfo {
  /** From /proc/cpuinfo "model name". */
  cpuModel: string;
  /** Logical cores. */
  cores: number;
  /** `uname -r`. */
  kernel: string;
  /** Deno version. */
  deno: string;
  /** Node version, or "absent". */
  node: string;
  /** wrk version, or "absent". */
  wrk: string;
  /** How server and load generator were pinned. */
  pinning: string;
  /** ISO date of the run. */
  date: string;
}

/**
 * Describes this machine: CPU model, cores, kernel, Deno/Node/wrk versions, pinning, date.
 *
 * @example
 * ```ts
 * import { machineInfo } from "./lib.ts";
 *
 * const machine = await machineInfo();
 * console.log(`${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}`);
 * ```
 */
export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = "unknown";
  try {
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux, or /proc unreadable
  }
  const node = await runQuiet(["node", "--version"]);
  const pinning = await detectPinning();
  return {
    cpuModel,
    cores: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    node: node?.code === 0 ? node.stdout.trim() : "absent",
    wrk: (await wrkVersion()) ?? "absent",
    pinning: pinning.warning ??
      `server: ${pinning.server.join(" ")}, load: ${pinning.client.join(" ")}`,
    date: new Date().toISOString(),
  };
}
