/**
 * HTTP/1.1 servers side by side: netio's `examples/http_server.ts` (when it exists), Deno.serve
 * and node:http, each on core 0 with wrk on core 1. For every server:
 *
 * - keep-alive hello, `wrk -t1 -c50`: server CPU microseconds per request;
 * - pipelined x16, `wrk -t1 -c50 -s pipeline.lua`: server CPU microseconds per request;
 * - one connection, `wrk -t1 -c1`: median latency;
 * - idle keep-alive connections (2,000 by default, `--idle 19000` for the full run): server
 *   resident bytes per connection, and whether every connection still answers afterwards.
 *
 * Prints one table (work, server, figure, ratio vs Deno.serve) and optionally writes JSON.
 *
 * ```sh
 * deno run -A bench/load/http_compare.ts --json bench/out/http.json
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
  ensureWrk,
  type IdleMeasurement,
  killAllServers,
  type LoadMeasurement,
  measureIdleConnections,
  type ServerSpec,
  startServer,
} from "./lib.ts";
import { type ComparisonFlags, numberFlag, ROUNDS_FLAG, runComparisonMain } from "./runner.ts";
import { errorText } from "./_errors.ts";
import { denoRun, NETIO_PERMISSIONS } from "./deno_run.ts";
import {
  HTTP_WORKS,
  type HttpRoundsEntry,
  type HttpWork,
  medianHttpSample,
  runHttpRounds,
  warmUp,
} from "./http_rounds.ts";

const repositoryRoot = new URL("../../", import.meta.url).pathname;

/** The server every ratio in the table is taken against. */
export const BASELINE_SERVER = "Deno.serve";

/** netio's server, as the report names it. */
export const NETIO_SERVER = "netio";

/**
 * The servers compared by default: netio's `examples/http_server.ts` when the file exists, then
 * Deno.serve and node:http (when `node` is on PATH is checked at start).
 *
 * @example
 * ```ts
 * import { defaultServers } from "./http_compare.ts";
 *
 * for (const server of defaultServers()) console.log(server.name, server.command.join(" "));
 * ```
 */
export function defaultServers(root: string = repositoryRoot): ServerSpec[] {
  const deno = Deno.execPath();
  const servers: ServerSpec[] = [];
  if (exists(`${root}examples/http_server.ts`)) {
    servers.push({
      name: NETIO_SERVER,
      command: denoRun(`${root}examples/http_server.ts`, {
        permissions: [...NETIO_PERMISSIONS, "--allow-sys"],
      }),
      cwd: root,
    });
  }
  servers.push({
    name: BASELINE_SERVER,
    command: [deno, "run", "--allow-net", `${root}bench/load/servers/deno_serve.ts`],
    cwd: root,
  });
  servers.push({
    name: "node:http",
    command: ["node", `${root}bench/load/servers/node_http.mjs`],
    cwd: root,
  });
  return servers;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@linkcode runHttpComparison}. */
export interface HttpCompareOptions {
  /** Servers to compare; default {@linkcode defaultServers}. */
  servers?: ServerSpec[];
  /** Seconds of each wrk throughput run (keep-alive, pipelined). Default 3. */
  durationSeconds?: number;
  /** Seconds of the one-connection latency run. Default 2. */
  latencySeconds?: number;
  /**
   * Interleaved rounds of the wrk runs; each figure is the median over rounds. Default 3.
   */
  rounds?: number;
  /** Seconds of untimed warm-up load before measuring (JIT, pools). Default 1. */
  warmupSeconds?: number;
  /** wrk `-c` for the keep-alive and pipelined runs. Default 50. */
  connections?: number;
  /** Requests per write in the pipelined run. Default 16. */
  pipeline?: number;
  /** Idle keep-alive connections to hold; 0 skips the measurement. Default 2000. */
  idleConnections?: number;
  /** The wrk runs to take, in each round's order. Default all three (see {@linkcode LoadWork}). */
  works?: readonly LoadWork[];
  /** Progress output. Default: stderr. */
  log?: (message: string) => void;
}

/** Everything measured for one server; a work that failed leaves its field absent. */
export interface ServerResult {
  /** Server name. */
  name: string;
  /** Keep-alive hello, wrk -c50. */
  keepAlive?: LoadMeasurement;
  /** Pipelined x16, wrk -c50. */
  pipelined?: LoadMeasurement;
  /** One connection, wrk -c1. */
  oneConnection?: LoadMeasurement;
  /** Idle keep-alive connections. */
  idle?: IdleMeasurement;
  /** Every round's measurement; the fields above hold each work's median. */
  samples?: Partial<Record<"keepAlive" | "pipelined" | "oneConnection", LoadMeasurement[]>>;
  /** Failures, one per work that could not be measured. */
  errors: string[];
}

/** One measured figure of the HTTP comparison. */
interface Metric {
  /** Row label. */
  work: (options: Required<Omit<HttpCompareOptions, "servers" | "log">>) => string;
  unit: string;
  value: (result: ServerResult) => number | undefined;
}

const metrics: Record<"keepAlive" | "pipelined" | "oneConnection" | "idle", Metric> = {
  keepAlive: {
    work: (o) => `keep-alive hello, wrk -c${o.connections}`,
    unit: "us CPU/request",
    value: (r) => r.keepAlive?.cpuUsPerRequest,
  },
  pipelined: {
    work: (o) => `pipelined x${o.pipeline}, wrk -c${o.connections}`,
    unit: "us CPU/request",
    value: (r) => r.pipelined?.cpuUsPerRequest,
  },
  oneConnection: {
    work: () => "one connection, wrk -c1, p50 latency",
    unit: "us",
    value: (r) => r.oneConnection?.wrk.latencyUs.p50 ?? undefined,
  },
  idle: {
    work: (o) => `${o.idleConnections} idle keep-alive connections, RSS`,
    unit: "KiB/connection",
    value: (r) => r.idle ? r.idle.rssPerConnectionBytes / 1024 : undefined,
  },
};

/**
 * Ratio targets for netio, per work and peer (`netio / peer`, lower is better), from issue #4:
 * server CPU per request at most 0.9x Deno.serve's with keep-alive and 0.4x pipelined x16, and a
 * one-connection p50 latency at most 1.1x. Against node:http the rows are informative. The idle
 * target is absolute (see {@linkcode HTTP_IDLE_TARGET_KIB}), so it has no ratio here.
 */
export const HTTP_TARGETS: Record<
  keyof typeof metrics,
  Record<string, number | null>
> = {
  keepAlive: { [BASELINE_SERVER]: 0.9, "node:http": null },
  pipelined: { [BASELINE_SERVER]: 0.4, "node:http": null },
  oneConnection: { [BASELINE_SERVER]: 1.1, "node:http": null },
  idle: { [BASELINE_SERVER]: null, "node:http": null },
};

/**
 * Issue #4's idle target: at most 1 KiB of server RSS per idle keep-alive connection (at 19,000
 * connections; Deno.serve holds ~18 KiB, a C epoll server 4 KiB). A row's ratio target is derived
 * from it and the peer's figure, so `met` reads "netio <= 1 KiB" against every peer.
 */
export const HTTP_IDLE_TARGET_KIB = 1;

/** The ratio target of a row: from {@linkcode HTTP_TARGETS}, or derived from the idle target. */
function rowTarget(key: keyof typeof metrics, peer: ServerResult): number | null {
  if (key !== "idle") return HTTP_TARGETS[key][peer.name] ?? null;
  const peerValue = metrics.idle.value(peer);
  return peerValue !== undefined && peerValue > 0 ? HTTP_IDLE_TARGET_KIB / peerValue : null;
}

/** The target as the table prints it beside netio's figure. */
function targetText(key: keyof typeof metrics): string {
  if (key === "idle") return `<=${HTTP_IDLE_TARGET_KIB} KiB`;
  const target = HTTP_TARGETS[key][BASELINE_SERVER];
  return target === null || target === undefined ? "" : `<=${target.toFixed(2)}x`;
}

function withDefaults(
  options: HttpCompareOptions,
): Required<Omit<HttpCompareOptions, "servers" | "log">> {
  return {
    durationSeconds: options.durationSeconds ?? 3,
    latencySeconds: options.latencySeconds ?? 2,
    warmupSeconds: options.warmupSeconds ?? 1,
    rounds: Math.max(1, Math.floor(options.rounds ?? 3)),
    connections: options.connections ?? 50,
    pipeline: options.pipeline ?? 16,
    idleConnections: options.idleConnections ?? 2000,
    works: options.works ?? HTTP_WORKS,
  };
}

/** One wrk run of {@linkcode runHttpComparison}: keep-alive, pipelined or one connection. */
export type LoadWork = HttpWork;

/**
 * Runs every work against every server and kills every server at the end, on failure too.
 *
 * All servers are started at once (idle ones cost nothing) and the wrk runs are interleaved:
 * each round runs keep-alive, pipelined and one-connection load against each server in turn, so
 * a slow drift of the machine (other tenants, frequency) spreads over every server instead of
 * favouring whichever ran first. Each server's figure is the median of its rounds. The idle
 * measurement then takes a fresh process per server, so memory grown under load does not blur
 * it. A server that fails a work keeps its other figures.
 *
 * @example
 * ```ts ignore
 * import { runHttpComparison } from "./http_compare.ts";
 *
 * const results = await runHttpComparison({ durationSeconds: 3, idleConnections: 1000 });
 * for (const r of results) console.log(r.name, r.keepAlive?.cpuUsPerRequest);
 * ```
 */
export async function runHttpComparison(
  options: HttpCompareOptions = {},
): Promise<ServerResult[]> {
  const log = options.log ?? ((message: string) => console.error(message));
  const settings = withDefaults(options);
  const specs = options.servers ?? defaultServers();
  const pinning = await detectPinning();
  if (pinning.warning) log(`warning: ${pinning.warning}`);
  const results = specs.map((spec): ServerResult => ({ name: spec.name, errors: [] }));
  const entries = specs.map((): HttpRoundsEntry => ({
    server: null,
    samples: { keepAlive: [], pipelined: [], oneConnection: [] },
    errors: [],
  }));
  try {
    for (const [index, spec] of specs.entries()) {
      try {
        log(`${spec.name}: starting`);
        const server = await startServer(spec);
        await warmUp(server, settings, log);
        entries[index]!.server = server;
      } catch (error) {
        results[index]!.errors.push(`start: ${errorText(error)}`);
        log(`  ${spec.name} failed: ${errorText(error)}`);
      }
    }
    await runHttpRounds(entries, settings, {
      log,
      describe: (work) => metrics[work].work(settings),
    });
    for (const [index, entry] of entries.entries()) {
      await entry.server?.stop();
      const result = results[index]!;
      result.errors.push(...entry.errors);
      for (const key of HTTP_WORKS) {
        const chosen = medianHttpSample(key, entry.samples[key]);
        if (chosen === undefined) continue;
        result[key] = chosen;
        result.samples ??= {};
        result.samples[key] = entry.samples[key];
        const errors = entry.samples[key].reduce((sum, sample) => sum + sample.errors, 0);
        if (errors > 0) result.errors.push(`${key}: wrk saw ${errors} errors`);
      }
    }

    if (settings.idleConnections > 0) {
      for (const [index, spec] of specs.entries()) {
        const result = results[index]!;
        try {
          log(`  ${spec.name}: ${metrics.idle.work(settings)} (fresh process)`);
          await using server = await startServer(spec);
          await warmUp(server, settings, log);
          const idle = await measureIdleConnections(server, {
            count: settings.idleConnections,
          });
          result.idle = idle;
          if (idle.answeredFirst < idle.count || idle.answeredSecond < idle.answeredFirst) {
            result.errors.push(
              `idle: ${idle.answeredFirst}/${idle.count} answered, ` +
                `${idle.answeredSecond} answered again after idling`,
            );
          }
        } catch (error) {
          result.errors.push(`idle: ${errorText(error)}`);
          log(`  ${spec.name}: idle failed: ${errorText(error)}`);
        }
      }
    }
  } finally {
    killAllServers();
  }
  return results;
}

/**
 * Turns results into {@linkcode ComparisonRow}s: netio against every other server, per work.
 * Without a netio result, `standIn` names the server that takes netio's column (marked by
 * `subjectName`) so the harness itself can be checked; without either, netio's figures are null.
 *
 * @example
 * ```ts
 * import { httpComparisonRows } from "./http_compare.ts";
 *
 * const rows = httpComparisonRows([
 *   { name: "Deno.serve", errors: [] },
 *   { name: "node:http", errors: [] },
 * ], { standIn: "node:http" });
 * console.log(rows.map((row) => `${row.work} vs ${row.peerName}`));
 * ```
 */
export function httpComparisonRows(
  results: ServerResult[],
  options: { standIn?: string; settings?: HttpCompareOptions } = {},
): ComparisonRow[] {
  const settings = withDefaults(options.settings ?? {});
  let subject = results.find((r) => r.name === NETIO_SERVER);
  let subjectName: string | undefined;
  if (subject === undefined && options.standIn !== undefined) {
    subject = results.find((r) => r.name === options.standIn);
    if (subject !== undefined) subjectName = `${subject.name} (stand-in for netio)`;
  }
  const peers = results.filter((r) => r !== subject);
  const rows: ComparisonRow[] = [];
  for (const key of Object.keys(metrics) as (keyof typeof metrics)[]) {
    if (key === "idle" && settings.idleConnections <= 0) continue;
    const metric = metrics[key];
    for (const peer of peers) {
      const notes = [...(subject?.errors ?? []), ...peer.errors]
        .filter((e) => e.startsWith(`${key}:`) || e.startsWith("start:"));
      for (const side of [subject, peer]) {
        const load = side === undefined || key === "idle" ? undefined : side[key];
        const other = load?.serverCoreOtherSeconds ?? 0;
        if (load && other > 0.1 * load.wrk.durationSeconds) {
          notes.push(
            `${side!.name}: server core ${
              Math.round((other / load.wrk.durationSeconds) * 100)
            }% busy elsewhere (disturbed)`,
          );
        }
      }
      rows.push(comparisonRow({
        work: metric.work(settings),
        netio: subject ? metric.value(subject) : null,
        peer: metric.value(peer),
        peerName: peer.name,
        unit: metric.unit,
        target: rowTarget(key, peer),
        ...(subjectName !== undefined ? { subjectName } : {}),
        ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
      }));
    }
  }
  return rows;
}

function fixed(value: number | undefined | null, digits: number): string {
  return value === undefined || value === null || !Number.isFinite(value)
    ? "-"
    : value.toFixed(digits);
}

/**
 * Formats results as one plain-text table: work, server, figure, unit, ratio vs Deno.serve,
 * requests per second, server CPU use, and notes.
 *
 * @example
 * ```ts
 * import { formatHttpTable } from "./http_compare.ts";
 *
 * console.log(formatHttpTable([{ name: "Deno.serve", errors: [] }]));
 * ```
 */
export function formatHttpTable(
  results: ServerResult[],
  settings: HttpCompareOptions = {},
): string {
  const s = withDefaults(settings);
  const baseline = results.find((r) => r.name === BASELINE_SERVER);
  const header = [
    "work",
    "server",
    "figure",
    "unit",
    `vs ${BASELINE_SERVER}`,
    "target",
    "req/s",
    "CPU",
    "",
  ];
  const lines: string[][] = [header];
  for (const key of Object.keys(metrics) as (keyof typeof metrics)[]) {
    if (key === "idle" && s.idleConnections <= 0) continue;
    const metric = metrics[key];
    for (const result of results) {
      const value = metric.value(result);
      const base = baseline ? metric.value(baseline) : undefined;
      const load = key === "idle" ? undefined : result[key];
      const idle = key === "idle" ? result.idle : undefined;
      const notes: string[] = [];
      if (idle) {
        notes.push(
          `${idle.answeredFirst}/${idle.count} open, ${idle.answeredSecond} answered again`,
        );
      }
      if (load && key === "oneConnection") {
        notes.push(`${fixed(load.cpuUsPerRequest, 2)} us CPU/req`);
      }
      const rounds = key === "idle" ? undefined : result.samples?.[key];
      if (rounds && rounds.length > 1) {
        const figures = rounds.map((sample) => metric.value({ ...result, [key]: sample }) ?? NaN);
        notes.push(`rounds ${fixed(Math.min(...figures), 2)}..${fixed(Math.max(...figures), 2)}`);
      }
      const other = load?.serverCoreOtherSeconds ?? 0;
      if (load && other > 0.05 * load.wrk.durationSeconds) {
        notes.push(
          `server core ${Math.round((other / load.wrk.durationSeconds) * 100)}% busy elsewhere`,
        );
      }
      const failures = result.errors.filter((e) =>
        e.startsWith(`${key}:`) || e.startsWith("start:")
      );
      if (value === undefined || failures.length > 0) {
        notes.push(...failures.map((failure) => failure.split("\n")[0]!));
      }
      let target = "";
      if (result.name === NETIO_SERVER && targetText(key) !== "") {
        const met = key === "idle"
          ? value !== undefined && value <= HTTP_IDLE_TARGET_KIB
          : value !== undefined && base !== undefined && base > 0 &&
            value / base <= (HTTP_TARGETS[key][BASELINE_SERVER] ?? Infinity);
        target = `${targetText(key)} ${met ? "met" : "missed"}`;
      }
      lines.push([
        metric.work(s),
        result.name,
        fixed(value, 2),
        metric.unit,
        value !== undefined && base !== undefined && base > 0
          ? `${(value / base).toFixed(2)}x`
          : "-",
        target,
        load ? Math.round(load.wrk.requestsPerSecond).toString() : "-",
        load ? `${Math.round(load.cpuUtilization * 100)}%` : "-",
        notes.join("; "),
      ]);
    }
  }
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  return lines
    .map((line, index) => {
      const text = line.map((cell, column) =>
        column >= 2 && column <= 7 && column !== 3 && column !== 5
          ? cell.padStart(widths[column]!)
          : cell.padEnd(widths[column]!)
      ).join("  ").trimEnd();
      return index === 0 ? `${text}\n${"-".repeat(text.length)}` : text;
    })
    .join("\n");
}

/**
 * The comparison module entry for `bench/report.ts` and the command line: default servers, short
 * runs (3 rounds of 2 s, 2,000 idle connections; 3 rounds of 5 s and 19,000 with `context.full`),
 * netio against Deno.serve and node:http. Without netio's server, node:http stands in so the
 * harness still shows ratios. `flags` (from the command line) pick servers (`server`, `only`) and
 * override the settings (`duration`, `latency-duration`, `rounds`, `warmup`, `idle`).
 *
 * @example
 * ```ts ignore
 * import { compare } from "./http_compare.ts";
 *
 * const rows = await compare({ root: "./", log: console.error }, { only: "Deno.serve,node:http" });
 * console.table(rows);
 * ```
 */
export async function compare(
  context: ComparisonContext,
  flags: ComparisonFlags = {},
): Promise<ComparisonRow[]> {
  await ensureWrk({ install: context.install ?? false, log: context.log });
  const defaults = context.full
    ? { durationSeconds: 5, latencySeconds: 3, rounds: 3, idleConnections: 19_000 }
    : { durationSeconds: 2, latencySeconds: 2, rounds: 3, idleConnections: 2000 };
  const warmupSeconds = numberFlag(flags, "warmup");
  const settings: HttpCompareOptions = {
    durationSeconds: numberFlag(flags, "duration") ?? defaults.durationSeconds,
    latencySeconds: numberFlag(flags, "latency-duration") ?? defaults.latencySeconds,
    rounds: numberFlag(flags, "rounds") ?? defaults.rounds,
    idleConnections: numberFlag(flags, "idle") ?? defaults.idleConnections,
    ...(warmupSeconds !== undefined ? { warmupSeconds } : {}),
  };
  if ((settings.idleConnections ?? 0) > 19_500) {
    throw new Error("--idle: at most 19500 (each process may hold 20,000 fds here)");
  }
  let servers = Array.isArray(flags.server)
    ? flags.server.map((entry): ServerSpec => {
      const equals = entry.indexOf("=");
      if (equals <= 0) throw new Error(`--server wants NAME=COMMAND, got ${entry}`);
      return { name: entry.slice(0, equals), command: entry.slice(equals + 1).split(/\s+/) };
    })
    : defaultServers(context.root);
  if (typeof flags.only === "string") {
    const wanted = flags.only.split(",").map((name) => name.trim());
    servers = servers.filter((server) => wanted.includes(server.name));
  }
  servers = await availableServers(servers, context.log);
  if (servers.length === 0) throw new Error("no server to compare");
  const results = await runHttpComparison({ ...settings, servers, log: context.log });
  context.log(formatHttpTable(results, settings));
  const hasNetio = results.some((r) => r.name === NETIO_SERVER);
  if (!hasNetio) context.log("netio: examples/http_server.ts absent; node:http stands in");
  return httpComparisonRows(results, { standIn: "node:http", settings });
}

async function availableServers(
  servers: ServerSpec[],
  log: (message: string) => void,
): Promise<ServerSpec[]> {
  const available: ServerSpec[] = [];
  for (const server of servers) {
    const program = server.command[0]!;
    if (program === "node") {
      try {
        await new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
          .output();
      } catch {
        log(`${server.name}: node not found, skipped`);
        continue;
      }
    }
    available.push(server);
  }
  return available;
}

if (import.meta.main) {
  await runComparisonMain(compare, import.meta, {
    description: "Side-by-side HTTP server comparison (server on core 0, wrk on core 1).",
    flags: {
      server: {
        type: "string",
        multiple: true,
        value: "NAME=COMMAND",
        help: "compare this server (replaces the defaults); the command takes --port/--host " +
          "and prints 'listening on PORT'",
      },
      only: {
        type: "string",
        value: "NAMES",
        help: "comma-separated subset of the servers (netio,Deno.serve,node:http)",
      },
      duration: { type: "string", value: "S", help: "seconds per throughput run (default 2)" },
      "latency-duration": {
        type: "string",
        value: "S",
        help: "seconds of the one-connection run (default 2)",
      },
      rounds: ROUNDS_FLAG,
      warmup: { type: "string", value: "S", help: "seconds of untimed warm-up (default 1)" },
      idle: {
        type: "string",
        value: "N",
        help: "idle keep-alive connections to hold (default 2000, full run 19000; 0 skips)",
      },
    },
  });
}
