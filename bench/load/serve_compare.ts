/**
 * netio's fetch-standard `serve()` beside `Deno.serve` (and node:http for files), side by side in
 * one run, as issue 14's "Measured" section asks. Every app is `bench/load/servers/serve_app.ts`
 * (the same handler on both sides), the server pinned to core 0 and the load to core 1:
 *
 * - keep-alive hello, `wrk -t1 -c50`, and pipelined x16: server CPU per request of
 *   `() => new Response("Hello, World!")`, with netio's `serveHttp` and a `FixedResponse`
 *   (`examples/http_server.ts`) as an informative row; the wrk runs are
 *   `http_compare.ts`'s `runHttpComparison` (interleaved rounds, medians);
 * - a 1 GiB file response (the 256 MiB data file of `transfer_compare.ts`, four GETs with
 *   `Connection: close`): machine-wide busy CPU per GiB (all cores, `/proc/stat`), the server's
 *   own CPU per GiB, and the server's RSS growth, for netio `serveFile` (sendfile), `Deno.serve`
 *   with `new Response((await Deno.open(path)).readable)` and node:http with
 *   `fs.createReadStream(path).pipe(res)`;
 * - a streaming response of 100,000 chunks of 64 bytes (a `ReadableStream`, one chunk per pull):
 *   server CPU and RSS growth, `serve()` against `Deno.serve`.
 *
 * The client of the file and stream responses reads and discards 1 MiB at a time: the C
 * reference's `get` (`transfer/reference.c`), or `transfer/peer.ts --role get` without a C
 * compiler or with `--client deno`. Each server runs once per app; the rounds rotate which server
 * goes first, and every figure is the median of the rounds. About 75 s on two cores.
 *
 * ```sh
 * deno run -A bench/load/serve_compare.ts
 * deno run -A bench/load/serve_compare.ts --only file,stream --rounds 5
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
  median,
  runQuiet,
  type ServerProcess,
  type ServerSpec,
  startServer,
} from "./lib.ts";
import {
  BASELINE_SERVER,
  defaultServers,
  NETIO_SERVER,
  runHttpComparison,
  type ServerResult,
} from "./http_compare.ts";
import {
  buildReference,
  DATA_FILE,
  ensureDataFile,
  FILE_SIZE,
  measure,
  Peer,
  REFERENCE_BINARY,
  type TransferRun,
} from "./transfer_compare.ts";
import { type ComparisonFlags, numberFlag, ROUNDS_FLAG, runComparisonMain } from "./runner.ts";
import { errorLine } from "./_errors.ts";
import { denoRun, NETIO_PERMISSIONS } from "./deno_run.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** netio's fetch-standard server, as the rows name it. */
export const SERVE = "netio serve()";
/** netio's core with a `FixedResponse` (`examples/http_server.ts`), the informative row. */
export const SERVE_HTTP = "netio serveHttp (FixedResponse)";

/**
 * Issue 14's targets (`serve() / Deno.serve`, server CPU per request): keep-alive hello <= 1.0x,
 * pipelined x16 <= 0.3x. The file and stream rows have none: they are reported as measured.
 */
export const SERVE_TARGETS = { keepAlive: 1.0, pipelined: 0.3 } as const;

/** File responses per run: the 256 MiB data file four times, 1 GiB in all. */
const FILE_REPEAT = 4;
/** The streaming response: chunks of {@linkcode STREAM_CHUNK_BYTES}, one per pull. */
const STREAM_CHUNKS = 100_000;
const STREAM_CHUNK_BYTES = 64;

type Impl = "netio" | "deno";
type App = "hello" | "file" | "stream";
type Client = "c" | "deno";

/** `serve_app.ts` run by netio's `serve()` or by `Deno.serve` (netio needs FFI, Deno.serve not). */
function appServer(root: string, impl: Impl, app: App, extra: string[] = []): ServerSpec {
  return {
    name: impl === "netio" ? SERVE : BASELINE_SERVER,
    command: denoRun(`${root}bench/load/servers/serve_app.ts`, {
      permissions: impl === "netio"
        ? [...NETIO_PERMISSIONS, "--allow-sys"]
        : ["--allow-net", "--allow-read"],
      args: ["--impl", impl, "--app", app, ...extra],
    }),
    cwd: root,
  };
}

const FILE_PEERS = {
  deno: "Deno.serve, new Response(file.readable)",
  node: "node:http, createReadStream().pipe(res)",
} as const;

const fmt = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);

async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------------------------------------
// Keep-alive and pipelined hello

type HelloWork = "keepAlive" | "pipelined";

function helloRows(
  results: ServerResult[],
  settings: { connections: number; pipeline: number; rounds: number },
): ComparisonRow[] {
  const baseline = results.find((r) => r.name === BASELINE_SERVER);
  const core = results.find((r) => r.name === SERVE_HTTP);
  const rows: ComparisonRow[] = [];
  const describe = (result: ServerResult | undefined, key: HelloWork): string => {
    const rounds = (result?.samples?.[key] ?? []).map((s) => s.cpuUsPerRequest);
    const load = result?.[key];
    const parts = [
      `${result?.name ?? "?"}: rounds ${rounds.map((x) => fmt(x, 2)).join(", ") || "-"} us, ` +
      `${load ? Math.round(load.wrk.requestsPerSecond) : "-"} req/s`,
    ];
    const other = load?.serverCoreOtherSeconds ?? 0;
    if (load && other > 0.1 * load.wrk.durationSeconds) {
      parts.push(
        `server core ${Math.round((other / load.wrk.durationSeconds) * 100)}% busy elsewhere`,
      );
    }
    parts.push(
      ...(result?.errors ?? []).filter((e) => e.startsWith(`${key}:`) || e.startsWith("start:")),
    );
    return parts.join(", ");
  };
  for (const key of ["keepAlive", "pipelined"] as const) {
    const work = key === "keepAlive"
      ? `keep-alive hello, wrk -c${settings.connections}`
      : `pipelined x${settings.pipeline} hello, wrk -c${settings.connections}`;
    for (const name of [SERVE, SERVE_HTTP]) {
      const subject = results.find((r) => r.name === name);
      if (subject === undefined) continue;
      const value = (r: ServerResult | undefined): number | undefined => r?.[key]?.cpuUsPerRequest;
      rows.push(comparisonRow({
        work: `${work}: ${name}`,
        netio: value(subject),
        peer: value(baseline),
        peerName: BASELINE_SERVER,
        unit: "us CPU/request",
        target: name === SERVE ? SERVE_TARGETS[key] : null,
        note: `() => new Response("Hello, World!") on both` +
          (name === SERVE && core?.[key] !== undefined
            ? ` (serveHttp FixedResponse ${fmt(value(core), 2)} us)`
            : name === SERVE_HTTP
            ? " (here: serveHttp with a FixedResponse, informative)"
            : "") +
          `; median of ${settings.rounds}; ${describe(subject, key)}; ${describe(baseline, key)}`,
      }));
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// File and stream responses

/** One kind of response, measured against each server in turn. */
interface Download {
  /** GETs per run (sequential, `Connection: close`). */
  repeat: number;
  /** Body bytes of one run; the client must receive at least these. */
  bodyBytes: number;
  /** The most a run may receive: body plus heads and chunk framing. */
  maxBytes: number;
}

/** The runs of one server, and its failures. */
interface DownloadResult {
  name: string;
  runs: TransferRun[];
  errors: string[];
}

/** Starts the client that reads and discards, pinned to the load core; resolves once ready. */
async function startClient(client: Client, port: number, repeat: number): Promise<Peer> {
  const pinning = await detectPinning();
  const peer = client === "c"
    ? Peer.spawn(pinning.client, [
      REFERENCE_BINARY,
      "get",
      "127.0.0.1",
      String(port),
      "/",
      String(repeat),
    ])
    : Peer.start(pinning.client, [
      "--role",
      "get",
      "--port",
      String(port),
      "--path",
      "/",
      "--repeat",
      String(repeat),
    ]);
  try {
    await peer.expect(/^ready$/);
  } catch (error) {
    await peer.stop();
    throw error;
  }
  return peer;
}

/**
 * Starts every server once, then runs `rounds` rounds of one download against each, the order
 * rotating every round; a server that fails keeps its other runs. Every server is stopped at
 * the end.
 */
async function runDownloads(
  specs: ServerSpec[],
  download: Download,
  options: { rounds: number; client: Client; log: (message: string) => void },
): Promise<DownloadResult[]> {
  const results = specs.map((spec): DownloadResult => ({ name: spec.name, runs: [], errors: [] }));
  const servers: (ServerProcess | null)[] = [];
  try {
    for (const [index, spec] of specs.entries()) {
      try {
        servers.push(await startServer(spec));
      } catch (error) {
        servers.push(null);
        results[index]!.errors.push(`start: ${errorLine(error)}`);
        options.log(`  ${spec.name} failed to start: ${errorLine(error)}`);
      }
    }
    for (let round = 0; round < options.rounds; round++) {
      for (let k = 0; k < specs.length; k++) {
        const index = (round + k) % specs.length;
        const server = servers[index];
        if (!server) continue;
        const result = results[index]!;
        try {
          server.assertAlive();
          const client = await startClient(options.client, server.port, download.repeat);
          let run: TransferRun;
          try {
            run = await measure(server, client, client);
          } finally {
            await client.stop();
          }
          if (run.bytes < download.bodyBytes || run.bytes > download.maxBytes) {
            throw new Error(
              `received ${run.bytes} bytes, want ${download.bodyBytes} of body ` +
                `${run.bytes < download.bodyBytes ? "(truncated)" : "plus heads and framing"}; ` +
                `over what arrived: machine ${fmt(run.machineCpuPerGiB)}, server ` +
                `${fmt(run.cpuPerGiB)} CPU s/GiB, RSS +${fmt(run.rssGrowthBytes / MiB, 1)} MiB`,
            );
          }
          result.runs.push(run);
          options.log(
            `  round ${round + 1}/${options.rounds}, ${server.name}: ` +
              `${fmt(run.cpuSeconds)} s CPU, machine ${fmt(run.machineCpuSeconds)} s, ` +
              `${fmt(run.wallSeconds)} s wall, RSS +${fmt(run.rssGrowthBytes / MiB, 1)} MiB`,
          );
        } catch (error) {
          result.errors.push(errorLine(error));
          options.log(`  ${server.name}: ${errorLine(error)}`);
          try {
            server.assertAlive();
          } catch {
            servers[index] = null;
            await server.stop();
          }
        }
      }
    }
  } finally {
    for (const server of servers) await server?.stop();
  }
  return results;
}

const stat = (runs: TransferRun[], f: (run: TransferRun) => number): number | null =>
  runs.length > 0 ? median(runs.map(f)) : null;

const ratioText = (a: number | null, b: number | null): string =>
  a === null || b === null || b <= 0 ? "-" : `${(a / b).toFixed(2)}x`;

/** A server's failed runs in one clause: how many, and the first reason. */
function failures(result: DownloadResult | undefined): string {
  if (result === undefined || result.errors.length === 0) return "";
  const others = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : "";
  return `; ${result.name}: ${result.errors.length} run(s) failed, figure from the other ` +
    `${result.runs.length}: ${result.errors[0]}${others}`;
}

function fileRows(
  results: DownloadResult[],
  rounds: number,
  clientName: string,
): ComparisonRow[] {
  const ours = results.find((r) => r.name === SERVE);
  const rows: ComparisonRow[] = [];
  const work = `file response, 1 GiB (256 MiB x${FILE_REPEAT} GETs) over loopback`;
  const gibPerSecond = (runs: TransferRun[]): string =>
    fmt(stat(runs, (r) => r.bytes / GiB / r.wallSeconds), 2);
  const machine = (runs: TransferRun[]): number | null => stat(runs, (r) => r.machineCpuPerGiB);
  const process = (runs: TransferRun[]): number | null => stat(runs, (r) => r.cpuPerGiB);
  const rss = (runs: TransferRun[]): number | null => stat(runs, (r) => r.rssGrowthBytes / MiB);
  for (const peerName of Object.values(FILE_PEERS)) {
    const peer = results.find((r) => r.name === peerName);
    const a = ours?.runs ?? [];
    const b = peer?.runs ?? [];
    const common = `median of ${rounds}; server on core 0, ${clientName} on core 1` +
      failures(ours) + failures(peer);
    rows.push(
      comparisonRow({
        work: `${work}: machine-wide CPU, serveFile`,
        netio: machine(a),
        peer: machine(b),
        peerName,
        unit: "CPU s/GiB, all cores",
        target: null,
        note: `server process ${fmt(process(a))} vs ${fmt(process(b))} s/GiB ` +
          `(${ratioText(process(a), process(b))}); ${gibPerSecond(a)} vs ${gibPerSecond(b)} ` +
          `GiB/s; machine busy before go ${fmt(stat(a, (r) => r.backgroundCpuPerSecond), 2)} ` +
          `and ${fmt(stat(b, (r) => r.backgroundCpuPerSecond), 2)} CPU s/s; ${common}`,
      }),
      comparisonRow({
        work: `${work}: server CPU, serveFile`,
        netio: process(a),
        peer: process(b),
        peerName,
        unit: "CPU s/GiB",
        target: null,
        note: `the server process alone (sendfile leaves the receive side to the client's ` +
          `core); rounds ${a.map((r) => fmt(r.cpuPerGiB)).join(", ")} vs ` +
          `${b.map((r) => fmt(r.cpuPerGiB)).join(", ")}; ${common}`,
      }),
      comparisonRow({
        work: `${work}: server RSS growth, serveFile`,
        netio: rss(a),
        peer: rss(b),
        peerName,
        unit: "MiB",
        target: null,
        note: `peak RSS during the run less RSS just before; rounds ` +
          `${a.map((r) => fmt(r.rssGrowthBytes / MiB, 1)).join(", ")} vs ` +
          `${b.map((r) => fmt(r.rssGrowthBytes / MiB, 1)).join(", ")} (one process per ` +
          `server, so round 1 is the cold one); ${common}`,
      }),
    );
  }
  return rows;
}

function streamRows(
  results: DownloadResult[],
  rounds: number,
  clientName: string,
): ComparisonRow[] {
  const ours = results.find((r) => r.name === SERVE);
  const peer = results.find((r) => r.name === BASELINE_SERVER);
  const a = ours?.runs ?? [];
  const b = peer?.runs ?? [];
  const work = `streaming response, ${STREAM_CHUNKS.toLocaleString("en-US")} chunks of ` +
    `${STREAM_CHUNK_BYTES} B (ReadableStream, one per pull)`;
  const ms = (runs: TransferRun[]): number | null => stat(runs, (r) => r.cpuSeconds * 1000);
  const machineMs = (runs: TransferRun[]): number | null =>
    stat(runs, (r) => r.machineCpuSeconds * 1000);
  const wallMs = (runs: TransferRun[]): string => fmt(stat(runs, (r) => r.wallSeconds * 1000), 0);
  const rss = (runs: TransferRun[]): number | null => stat(runs, (r) => r.rssGrowthBytes / MiB);
  const common = `median of ${rounds}; server on core 0, ${clientName} on core 1` +
    failures(ours) + failures(peer);
  return [
    comparisonRow({
      work: `${work}: server CPU`,
      netio: ms(a),
      peer: ms(b),
      peerName: BASELINE_SERVER,
      unit: "ms CPU/response",
      target: null,
      note: `rounds ${a.map((r) => fmt(r.cpuSeconds * 1000, 0)).join(", ")} vs ` +
        `${b.map((r) => fmt(r.cpuSeconds * 1000, 0)).join(", ")} ms; machine-wide ` +
        `${fmt(machineMs(a), 0)} vs ${fmt(machineMs(b), 0)} ms ` +
        `(${ratioText(machineMs(a), machineMs(b))}); wall ${wallMs(a)} vs ${wallMs(b)} ms; ` +
        common,
    }),
    comparisonRow({
      work: `${work}: server RSS growth`,
      netio: rss(a),
      peer: rss(b),
      peerName: BASELINE_SERVER,
      unit: "MiB",
      target: null,
      note: `peak RSS during the response less RSS just before; rounds ` +
        `${a.map((r) => fmt(r.rssGrowthBytes / MiB, 1)).join(", ")} vs ` +
        `${b.map((r) => fmt(r.rssGrowthBytes / MiB, 1)).join(", ")} (one process per server, ` +
        `so round 1 is the cold one); ${common}`,
    }),
  ];
}

// ---------------------------------------------------------------------------------------------

/** The parts of the comparison, for `--only`. */
const PARTS = ["hello", "file", "stream"] as const;

/**
 * The comparison module entry for `bench/report.ts` and the command line: keep-alive and
 * pipelined hello (3 rounds of 2 s; 5 s with `context.full`), the 1 GiB file response and the
 * streaming response (3 rounds each). `flags` (from the command line): `rounds`, `duration`,
 * `warmup`, `client` (`c` or `deno`), `only` (a comma-separated subset of hello, file, stream).
 *
 * @example
 * ```ts ignore
 * import { compare } from "./serve_compare.ts";
 *
 * const rows = await compare({ root: "./", log: console.error }, { only: "stream" });
 * console.table(rows);
 * ```
 */
export async function compare(
  context: ComparisonContext,
  flags: ComparisonFlags = {},
): Promise<ComparisonRow[]> {
  const log = context.log;
  const root = context.root;
  const rounds = Math.max(1, Math.floor(numberFlag(flags, "rounds") ?? 3));
  const durationSeconds = numberFlag(flags, "duration") ?? (context.full ? 5 : 2);
  const warmupSeconds = numberFlag(flags, "warmup") ?? 1;
  const parts = typeof flags.only === "string"
    ? flags.only.split(",").map((part) => part.trim())
    : [...PARTS];
  for (const part of parts) {
    if (!(PARTS as readonly string[]).includes(part)) {
      throw new Error(`--only: ${part} is none of ${PARTS.join(", ")}`);
    }
  }
  if (flags.client !== undefined && flags.client !== "c" && flags.client !== "deno") {
    throw new Error(`--client: c or deno, not ${String(flags.client)}`);
  }
  log(`serve(): load average at start ${await loadAverage()}`);
  const rows: ComparisonRow[] = [];

  if (parts.includes("hello")) {
    await ensureWrk({ install: context.install ?? false, log });
    const core = defaultServers(root).find((spec) => spec.name === NETIO_SERVER);
    const servers = [
      appServer(root, "netio", "hello"),
      appServer(root, "deno", "hello"),
      ...(core ? [{ ...core, name: SERVE_HTTP }] : []),
    ];
    const settings = { connections: 50, pipeline: 16, rounds };
    const results = await runHttpComparison({
      servers,
      works: ["keepAlive", "pipelined"],
      durationSeconds,
      warmupSeconds,
      idleConnections: 0,
      ...settings,
      log,
    });
    rows.push(...helloRows(results, settings));
  }

  if (parts.includes("file") || parts.includes("stream")) {
    const withC = flags.client !== "deno" && await buildReference(log);
    const client: Client = withC ? "c" : "deno";
    const clientName = client === "c" ? "C client (reference get)" : "Deno client (peer.ts get)";
    if (parts.includes("file")) {
      await ensureDataFile(log);
      const specs: ServerSpec[] = [
        appServer(root, "netio", "file", ["--file", DATA_FILE]),
        { ...appServer(root, "deno", "file", ["--file", DATA_FILE]), name: FILE_PEERS.deno },
      ];
      if ((await runQuiet(["node", "--version"]))?.code === 0) {
        specs.push({
          name: FILE_PEERS.node,
          command: ["node", `${root}bench/load/servers/node_file.mjs`, "--file", DATA_FILE],
          cwd: root,
        });
      } else {
        log("node not found: the node:http file rows are left empty");
      }
      const bodyBytes = FILE_SIZE * FILE_REPEAT;
      log(`file response: 1 GiB (256 MiB x${FILE_REPEAT}), ${rounds} rounds, ${clientName}`);
      const results = await runDownloads(specs, {
        repeat: FILE_REPEAT,
        bodyBytes,
        maxBytes: bodyBytes * 1.01 + 65536,
      }, { rounds, client, log });
      rows.push(...fileRows(results, rounds, clientName));
    }
    if (parts.includes("stream")) {
      const bodyBytes = STREAM_CHUNKS * STREAM_CHUNK_BYTES;
      const extra = [
        "--chunks",
        String(STREAM_CHUNKS),
        "--chunk-bytes",
        String(STREAM_CHUNK_BYTES),
      ];
      log(
        `streaming response: ${STREAM_CHUNKS} chunks of ${STREAM_CHUNK_BYTES} B, ${rounds} rounds`,
      );
      const results = await runDownloads([
        appServer(root, "netio", "stream", extra),
        appServer(root, "deno", "stream", extra),
      ], {
        repeat: 1,
        bodyBytes,
        // Chunked framing of one 64-byte chunk at a time: "40\r\n" + data + "\r\n".
        maxBytes: STREAM_CHUNKS * (STREAM_CHUNK_BYTES + 8) + 65536,
      }, { rounds, client, log });
      rows.push(...streamRows(results, rounds, clientName));
    }
  }
  log(`serve(): load average at end ${await loadAverage()}`);
  return rows;
}

if (import.meta.main) {
  await runComparisonMain(compare, import.meta, {
    description: "netio serve() beside Deno.serve (and node:http for files): hello keep-alive " +
      "and pipelined,\na 1 GiB file response, a streaming response of 100,000 chunks. Server on " +
      "core 0, load on core 1.",
    flags: {
      only: {
        type: "string",
        value: "PARTS",
        help: "comma-separated subset of hello, file, stream (default all)",
      },
      rounds: ROUNDS_FLAG,
      duration: { type: "string", value: "S", help: "seconds per wrk run (default 2, full 5)" },
      warmup: { type: "string", value: "S", help: "seconds of untimed wrk warm-up (default 1)" },
      client: {
        type: "string",
        value: "c|deno",
        help: "who reads the file and stream responses (default c when cc builds it)",
      },
    },
  });
}
