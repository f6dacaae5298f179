/**
 * Zero-copy transfers side by side over loopback, in one run, priced in CPU seconds per GiB:
 *
 * - sending a file: netio `sendFile` vs Deno `file.readable.pipeTo(conn.writable)`;
 * - proxying: netio `proxy()` (splice through pooled pipes) vs a Deno proxy that `pipeTo`s both
 *   ways;
 * - beside both, a C reference (`transfer/reference.c`, built with `cc` when there is one): a
 *   blocking sendfile loop, a read/write loop through a 64 KiB buffer, and a splice proxy with a
 *   thread per direction: what the kernel costs with no runtime at all;
 * - resident memory of the sender and of the proxy while 1 GiB goes through (it should stay
 *   flat, whatever the size).
 *
 * Two figures per transfer (see "How we measure" in DESIGN.md):
 *
 * - machine-wide: busy CPU of every core (from `/proc/stat`) from "go" to the sink's last byte.
 *   Over loopback the receiver's protocol work is charged to whichever process triggers it, so
 *   this is the figure that does not move with how the sink reads; it is what a user pays;
 * - per process: CPU (user + system, all threads, from /proc/PID/stat) of the one process under
 *   test, pinned to core 0.
 *
 * Each transfer runs against two sinks that read and discard, 1 MiB at a time, on core 1: a C
 * reader (`reference sink`) and a Deno reader (`transfer/peer.ts --role sink`). The proxies are
 * fed by a netio source on core 1. The file is 256 MiB of real bytes (not sparse) in /tmp, made
 * once and sent 4 times per transfer; every case runs `--runs` times (default 3, 5 with
 * `--full`), the order rotating every round, and medians are reported. Machine-wide figures count
 * whatever else the machine did meanwhile: run it on a quiet machine.
 *
 * ```sh
 * deno run -A bench/load/transfer_compare.ts            # about a minute on 2 cores
 * deno run -A bench/load/transfer_compare.ts --runs 5 --json bench/out/transfer.json
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
  delay,
  detectPinning,
  machineBusySeconds,
  median,
  processCpuSeconds,
  processRssBytes,
  trackChild,
  untrackChild,
} from "./lib.ts";
import { type ComparisonFlags, numberFlag, runComparisonMain } from "./runner.ts";
import { denoRun, NETIO_PERMISSIONS } from "./deno_run.ts";

const peerPath = new URL("./transfer/peer.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The file sent by every run: 256 MiB of real bytes, made once. */
export const DATA_FILE = "/tmp/netio-transfer-bench-256m.bin";
/** The size of {@linkcode DATA_FILE}: 256 MiB. */
export const FILE_SIZE = 256 * MiB;
const REPEAT = 4; // 1 GiB per run

/**
 * Makes the data file ({@linkcode DATA_FILE}, 256 MiB of real bytes) unless it is already there
 * with the right size.
 *
 * @example
 * ```ts ignore
 * import { DATA_FILE, ensureDataFile } from "./transfer_compare.ts";
 *
 * await ensureDataFile(console.error);
 * console.log((await Deno.stat(DATA_FILE)).size); // 268435456
 * ```
 */
export async function ensureDataFile(log: (message: string) => void): Promise<void> {
  try {
    if ((await Deno.stat(DATA_FILE)).size === FILE_SIZE) return;
  } catch {
    // not there yet
  }
  log(`writing ${DATA_FILE} (256 MiB of real bytes)`);
  const block = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536));
  const file = await Deno.open(DATA_FILE, { write: true, create: true, truncate: true });
  try {
    for (let i = 0; i < FILE_SIZE / MiB; i++) {
      block[0] = i; // no two blocks alike
      let written = 0;
      while (written < block.length) written += await file.write(block.subarray(written));
    }
  } finally {
    file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Peer processes

/**
 * One helper process (bench/load/transfer/peer.ts, or the C reference), talked to by stdin/stdout
 * lines; killed by the harness's clean-up if still running.
 *
 * @example
 * ```ts ignore
 * import { Peer } from "./transfer_compare.ts";
 *
 * const sink = Peer.start(["taskset", "-c", "1"], ["--role", "sink"]);
 * console.log((await sink.expect(/^listening on (\d+)$/))[1]);
 * await sink.stop();
 * ```
 */
export class Peer {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  #stderr = "";

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf("\n")) >= 0) {
          this.#lines.push(rest.slice(0, nl).trim());
          rest = rest.slice(nl + 1);
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    })().catch(() => {}).finally(() => {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w();
    });
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + chunk).slice(-2048);
      }
    })().catch(() => {});
  }

  /**
   * Starts `bench/load/transfer/peer.ts` with `args`, pinned by `core` (a taskset prefix), with
   * `env` set (e.g. `NETIO_BACKEND`).
   */
  static start(core: string[], args: string[], env: Record<string, string> = {}): Peer {
    return Peer.spawn(core, denoRun(peerPath, { permissions: NETIO_PERMISSIONS, args, env }));
  }

  /** Starts any program speaking the same line protocol (the C reference); killed on clean-up. */
  static spawn(core: string[], command: string[]): Peer {
    const [program, ...rest] = [...core, ...command];
    const child = new Deno.Command(program!, {
      args: rest,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    trackChild(child);
    return new Peer(child);
  }

  /** Waits (bounded) for a stdout line matching `pattern`, consuming lines up to it. */
  async expect(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#lines.length > 0) {
        const m = pattern.exec(this.#lines.shift()!);
        if (m) return m;
      }
      if (this.#ended) throw new Error(`peer ${this.pid} exited: ${this.#stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`peer ${this.pid}: no ${pattern} in ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Closes stdin (the peer exits), then kills it if it has not within a second. */
  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 1000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.#child.status;
    untrackChild(this.#child);
  }
}

// ---------------------------------------------------------------------------------------------
// One measured run

/** What moving the bytes cost: the process under test, and the whole machine. */
export interface TransferRun {
  /** Bytes the sink received. */
  bytes: number;
  /** CPU seconds of the process under test. */
  cpuSeconds: number;
  /** CPU seconds of the process under test per GiB moved. */
  cpuPerGiB: number;
  /** Busy CPU seconds of every core (from /proc/stat) over the run. */
  machineCpuSeconds: number;
  /** Busy CPU seconds of every core per GiB moved. */
  machineCpuPerGiB: number;
  /** Busy CPU seconds per second of the machine while the peers sat idle just before "go". */
  backgroundCpuPerSecond: number;
  /** Wall seconds from "go" to the sink's last byte. */
  wallSeconds: number;
  /** Peak resident bytes during the run, less the resident bytes just before it. */
  rssGrowthBytes: number;
  /**
   * Peak resident bytes in the second half of the run less the peak in the first half: what
   * keeps growing with the bytes moved, once warm-up (JIT, heap sizing) is done. Flat = 0.
   */
  rssLateGrowthBytes: number;
}

/**
 * Measures `subject` (a started peer, or a server: anything with a pid) from "go" (sent to
 * `starter`) until `sink` reports what it received (`received N`): its CPU from /proc/PID/stat,
 * the machine's busy CPU from /proc/stat, its RSS sampled every 20 ms.
 *
 * @example
 * ```ts ignore
 * import { measure, Peer } from "./transfer_compare.ts";
 *
 * const client = Peer.spawn(["taskset", "-c", "1"], ["/tmp/netio-transfer-reference", "get",
 *   "127.0.0.1", "8080", "/", "1"]);
 * await client.expect(/^ready$/);
 * console.log((await measure({ pid: 1234 }, client, client)).machineCpuPerGiB);
 * ```
 */
export async function measure(
  subject: { readonly pid: number },
  starter: Peer,
  sink: Peer,
): Promise<TransferRun> {
  const settleStart = performance.now();
  const settleBusy = (await machineBusySeconds()) ?? NaN;
  await delay(200); // connections settled, startup work done
  const rss0 = (await processRssBytes(subject.pid)) ?? NaN;
  const cpu0 = (await processCpuSeconds(subject.pid)) ?? NaN;
  let peak = rss0;
  const samples: [number, number][] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rss = await processRssBytes(subject.pid);
      if (rss !== null) {
        samples.push([performance.now(), rss]);
        if (rss > peak) peak = rss;
      }
      await delay(20);
    }
  })();
  const machine0 = (await machineBusySeconds()) ?? NaN;
  const t0 = performance.now();
  const backgroundCpuPerSecond = (machine0 - settleBusy) / ((t0 - settleStart) / 1000);
  await starter.send("go");
  const received = Number((await sink.expect(/^received (\d+)$/))[1]);
  const wallSeconds = (performance.now() - t0) / 1000;
  const machine1 = (await machineBusySeconds()) ?? NaN;
  const cpu1 = (await processCpuSeconds(subject.pid)) ?? NaN;
  sampling = false;
  await sampler;
  const cpuSeconds = cpu1 - cpu0;
  const machineCpuSeconds = machine1 - machine0;
  const half = t0 + wallSeconds * 500;
  const firstHalfPeak = Math.max(rss0, ...samples.filter(([t]) => t <= half).map(([, r]) => r));
  return {
    bytes: received,
    cpuSeconds,
    cpuPerGiB: cpuSeconds / (received / GiB),
    machineCpuSeconds,
    machineCpuPerGiB: machineCpuSeconds / (received / GiB),
    backgroundCpuPerSecond,
    wallSeconds,
    rssGrowthBytes: peak - rss0,
    rssLateGrowthBytes: Math.max(0, peak - firstHalfPeak),
  };
}

/**
 * Who sends: netio's `sendFile`, Deno's `pipeTo`, or the C reference's sendfile loop (`c`) or
 * read/write loop through 64 KiB (`c-rw`), with no runtime at all.
 */
export type SendImplementation = "netio" | "deno" | "c" | "c-rw";

/** Who proxies: netio's splice `proxy()`, Deno's `pipeTo` both ways, or the C splice proxy. */
export type ProxyImplementation = "netio" | "deno" | "c";

/** Who reads and discards on the far end: the C reference or a Deno program (1 MiB reads). */
export type Sink = "c" | "deno";

const referenceSource = new URL("./transfer/reference.c", import.meta.url).pathname;
/** Where {@linkcode buildReference} puts the C reference (`transfer/reference.c`). */
export const REFERENCE_BINARY = "/tmp/netio-transfer-reference";
let referenceBuilt: Promise<boolean> | undefined;

/**
 * Builds the C reference once (`cc -O2`); false when no compiler is there or it fails.
 *
 * @example
 * ```ts ignore
 * import { buildReference } from "./transfer_compare.ts";
 *
 * console.log(await buildReference(console.error));
 * ```
 */
export function buildReference(log: (message: string) => void = () => {}): Promise<boolean> {
  referenceBuilt ??= (async () => {
    for (const cc of ["cc", "gcc", "clang"]) {
      try {
        const out = await new Deno.Command(cc, {
          args: ["-O2", "-pthread", "-o", REFERENCE_BINARY, referenceSource],
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (out.code === 0) return true;
        log(`${cc} failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 300)}`);
      } catch {
        // not installed: try the next
      }
    }
    log("no C compiler: the C reference rows and the C sink are skipped");
    return false;
  })();
  return referenceBuilt;
}

/** Starts a sink on `core` (a taskset prefix); it prints `listening on PORT`. */
function startSink(sink: Sink, core: string[]): Peer {
  return sink === "c"
    ? Peer.spawn(core, [REFERENCE_BINARY, "sink", "127.0.0.1"])
    : Peer.start(core, ["--role", "sink"]);
}

/**
 * One file send of `repeat` x 256 MiB: the sink on core 1, the sender on core 0.
 *
 * @example
 * ```ts ignore
 * import { runSend } from "./transfer_compare.ts";
 *
 * const run = await runSend("netio", "c");
 * console.log(run.machineCpuPerGiB, run.cpuPerGiB);
 * ```
 */
export async function runSend(
  impl: SendImplementation,
  sinkKind: Sink = "deno",
  repeat = REPEAT,
): Promise<TransferRun> {
  const pinning = await detectPinning();
  const sink = startSink(sinkKind, pinning.client);
  let sender: Peer | undefined;
  try {
    const port = (await sink.expect(/^listening on (\d+)$/))[1]!;
    sender = impl === "c" || impl === "c-rw"
      ? Peer.spawn(pinning.server, [
        REFERENCE_BINARY,
        impl === "c" ? "send" : "send-rw",
        "127.0.0.1",
        port,
        DATA_FILE,
        String(repeat),
      ])
      : Peer.start(pinning.server, [
        "--role",
        "send",
        "--impl",
        impl,
        "--port",
        port,
        "--file",
        DATA_FILE,
        "--repeat",
        String(repeat),
      ]);
    await sender.expect(/^ready$/);
    const run = await measure(sender, sender, sink);
    if (run.bytes !== FILE_SIZE * repeat) {
      throw new Error(`${impl} send: the ${sinkKind} sink received ${run.bytes} bytes`);
    }
    return run;
  } finally {
    await sender?.stop();
    await sink.stop();
  }
}

/** Options of {@linkcode runProxy}. */
export interface ProxyRunOptions {
  /** Who reads on the far end. Default `"deno"`. */
  sink?: Sink;
  /** How many times the 256 MiB file goes through. Default 4 (1 GiB). */
  repeat?: number;
  /** Environment of a netio or Deno proxy (e.g. `NETIO_BACKEND`). */
  env?: Record<string, string>;
  /** Called once the proxy listens, before the transfer; throwing refuses the run. */
  onListening?: (proxy: Peer) => void;
}

/**
 * One proxied transfer of `repeat` x 256 MiB: source and sink on core 1, the proxy on core 0.
 *
 * @example
 * ```ts ignore
 * import { runProxy } from "./transfer_compare.ts";
 *
 * const run = await runProxy("netio", { sink: "deno" });
 * console.log(run.machineCpuPerGiB, run.cpuPerGiB);
 * ```
 */
export async function runProxy(
  impl: ProxyImplementation,
  options: ProxyRunOptions = {},
): Promise<TransferRun> {
  const { sink: sinkKind = "deno", repeat = REPEAT } = options;
  const pinning = await detectPinning();
  const sink = startSink(sinkKind, pinning.client);
  let relay: Peer | undefined;
  let source: Peer | undefined;
  try {
    const sinkPort = (await sink.expect(/^listening on (\d+)$/))[1]!;
    relay = impl === "c"
      ? Peer.spawn(pinning.server, [REFERENCE_BINARY, "proxy", "127.0.0.1", sinkPort])
      : Peer.start(
        pinning.server,
        ["--role", "proxy", "--impl", impl, "--upstream", sinkPort],
        options.env,
      );
    const port = (await relay.expect(/^listening on (\d+)$/))[1]!;
    options.onListening?.(relay);
    source = Peer.start(pinning.client, [
      "--role",
      "source",
      "--port",
      port,
      "--file",
      DATA_FILE,
      "--repeat",
      String(repeat),
    ]);
    await source.expect(/^ready$/);
    const run = await measure(relay, source, sink);
    if (run.bytes !== FILE_SIZE * repeat) {
      throw new Error(`${impl} proxy: the ${sinkKind} sink received ${run.bytes} bytes`);
    }
    return run;
  } finally {
    await source?.stop();
    await relay?.stop();
    await sink.stop();
  }
}

/** One transfer case: what moves the bytes, and which sink reads them. */
interface TransferCase {
  kind: "send" | "proxy";
  impl: SendImplementation;
  sink: Sink;
}

const caseKey = (c: TransferCase): string => `${c.kind}/${c.impl}/${c.sink}`;

/**
 * Runs every case `runs` times, rotating who goes first each round, so none always meets a
 * warmer page cache or a cooler CPU; the results by {@linkcode caseKey}.
 */
async function rotate(
  runs: number,
  cases: TransferCase[],
  log: (message: string) => void,
): Promise<Map<string, TransferRun[]>> {
  const results = new Map<string, TransferRun[]>(cases.map((c) => [caseKey(c), []]));
  for (let i = 0; i < runs; i++) {
    log(`  round ${i + 1} of ${runs}: ${cases.length} transfers`);
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(i + k) % cases.length]!;
      const run = c.kind === "send"
        ? await runSend(c.impl, c.sink)
        : await runProxy(c.impl as ProxyImplementation, { sink: c.sink });
      results.get(caseKey(c))!.push(run);
    }
  }
  return results;
}

const fmt = (x: number | null, digits = 3): string => x === null ? "-" : x.toFixed(digits);

function describe(name: string, runs: TransferRun[]): string {
  return `${name}: machine ${runs.map((r) => fmt(r.machineCpuPerGiB)).join(", ")}, ` +
    `process ${runs.map((r) => fmt(r.cpuPerGiB)).join(", ")} CPU s/GiB; ` +
    `${runs.map((r) => fmt(r.bytes / GiB / r.wallSeconds, 2)).join(", ")} GiB/s; ` +
    `RSS +${runs.map((r) => fmt(r.rssGrowthBytes / MiB, 1)).join(", ")} MiB ` +
    `(second half +${runs.map((r) => fmt(r.rssLateGrowthBytes / MiB, 1)).join(", ")}); ` +
    `idle machine ${runs.map((r) => fmt(r.backgroundCpuPerSecond, 2)).join(", ")} CPU s/s`;
}

const SEND_NAMES: Record<SendImplementation, string> = {
  netio: "netio sendFile",
  deno: "Deno file.readable.pipeTo(conn.writable)",
  c: "C sendfile (blocking loop)",
  "c-rw": "C read/write, 64 KiB (blocking loop)",
};
const PROXY_NAMES: Record<ProxyImplementation, string> = {
  netio: "netio proxy (splice)",
  deno: "Deno pipeTo proxy",
  c: "C splice proxy (a blocking thread per direction)",
};
const SINK_NAMES: Record<Sink, string> = { c: "C sink", deno: "Deno sink" };

/**
 * Runs every transfer case and returns the report's rows:
 *
 * - per sink (C, Deno), machine-wide busy CPU per GiB (all cores, /proc/stat) of netio against
 *   Deno's pipeTo and against the C reference, for sending a file and for proxying, with the
 *   per-process figures and their ratio in each row's note (informative: no target);
 * - the per-process rows with their targets (Deno sink, as before): sendFile <= 0.9x pipeTo,
 *   splice proxy <= 0.35x the pipeTo proxy;
 * - RSS growth of the sender and of the proxy.
 *
 * `flags.runs` (a string, from `--runs`) overrides the rounds: 3 by default, 5 with
 * `context.full`.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./transfer_compare.ts";
 *
 * const rows = await compare({ root: "/work/main/", log: (m) => console.error(m) }, { runs: "1" });
 * for (const row of rows) console.log(row.work, row.ratio?.toFixed(2), row.met);
 * ```
 */
export async function compare(
  context: ComparisonContext,
  flags: ComparisonFlags = {},
): Promise<ComparisonRow[]> {
  const log = context.log;
  const runs = Math.max(1, Math.floor(numberFlag(flags, "runs") ?? (context.full ? 5 : 3)));
  const pinning = await detectPinning();
  if (pinning.warning) log(`pinning: ${pinning.warning}`);
  await ensureDataFile(log);
  const withC = await buildReference(log);
  const sinks: Sink[] = withC ? ["c", "deno"] : ["deno"];
  const senders: SendImplementation[] = withC ? ["netio", "deno", "c", "c-rw"] : ["netio", "deno"];
  const proxies: ProxyImplementation[] = withC ? ["netio", "deno", "c"] : ["netio", "deno"];
  const cases: TransferCase[] = [
    ...sinks.flatMap((sink) => senders.map((impl): TransferCase => ({ kind: "send", impl, sink }))),
    ...sinks.flatMap((sink) =>
      proxies.map((impl): TransferCase => ({ kind: "proxy", impl, sink }))
    ),
  ];
  log(
    `transfers: 1 GiB (256 MiB x4) over loopback each, ${runs} rounds of ${cases.length} ` +
      `(send: ${senders.join(", ")}; proxy: ${proxies.join(", ")}; sinks: ${sinks.join(", ")})`,
  );
  const results = await rotate(runs, cases, log);
  const get = (kind: "send" | "proxy", impl: SendImplementation, sink: Sink): TransferRun[] =>
    results.get(caseKey({ kind, impl, sink })) ?? [];
  for (const c of cases) {
    const name = c.kind === "send"
      ? SEND_NAMES[c.impl]
      : PROXY_NAMES[c.impl as ProxyImplementation];
    log(describe(`  ${name}, ${SINK_NAMES[c.sink]}`, get(c.kind, c.impl, c.sink)));
  }

  const stat = (rs: TransferRun[], f: (r: TransferRun) => number): number | null =>
    rs.length > 0 ? median(rs.map(f)) : null;
  const machine = (rs: TransferRun[]): number | null => stat(rs, (r) => r.machineCpuPerGiB);
  const perProcess = (rs: TransferRun[]): number | null => stat(rs, (r) => r.cpuPerGiB);
  const background = (rs: TransferRun[]): number | null =>
    stat(rs, (r) => r.backgroundCpuPerSecond);
  const speed = (rs: TransferRun[]): string =>
    fmt(stat(rs, (r) => r.bytes / GiB / r.wallSeconds), 2);
  const ratio = (a: number | null, b: number | null): string =>
    a === null || b === null || b <= 0 ? "-" : `${(a / b).toFixed(2)}x`;

  const machineRow = (
    kind: "send" | "proxy",
    sink: Sink,
    peer: SendImplementation,
  ): ComparisonRow => {
    const ours = get(kind, "netio", sink);
    const theirs = get(kind, peer, sink);
    const where = kind === "send" ? "sender on core 0" : "proxy on core 0, source on core 1";
    return comparisonRow({
      work: `${kind === "send" ? "send a file" : "proxy"}, 1 GiB over loopback, ` +
        `${SINK_NAMES[sink]}: machine-wide CPU`,
      netio: machine(ours),
      peer: machine(theirs),
      peerName: kind === "send" ? SEND_NAMES[peer] : PROXY_NAMES[peer as ProxyImplementation],
      unit: "CPU s/GiB, all cores",
      target: null,
      note: `per process ${fmt(perProcess(ours))} vs ${fmt(perProcess(theirs))} s/GiB ` +
        `(${ratio(perProcess(ours), perProcess(theirs))}); median of ${runs}; ${where}, ` +
        `sink on core 1; ${speed(ours)} vs ${speed(theirs)} GiB/s; machine busy before go ` +
        `${fmt(background(ours), 2)} and ${fmt(background(theirs), 2)} CPU s/s`,
    });
  };
  const rows: ComparisonRow[] = [];
  for (const sink of sinks) {
    rows.push(machineRow("send", sink, "deno"));
    if (withC) rows.push(machineRow("send", sink, "c"), machineRow("send", sink, "c-rw"));
    rows.push(machineRow("proxy", sink, "deno"));
    if (withC) rows.push(machineRow("proxy", sink, "c"));
  }

  const rss = (rs: TransferRun[]): number | null => stat(rs, (r) => r.rssGrowthBytes / MiB);
  const sendDeno = [get("send", "netio", "deno"), get("send", "deno", "deno")] as const;
  const proxyDeno = [get("proxy", "netio", "deno"), get("proxy", "deno", "deno")] as const;
  rows.push(
    comparisonRow({
      work: "send a file, 1 GiB over loopback (256 MiB x4)",
      netio: perProcess(sendDeno[0]),
      peer: perProcess(sendDeno[1]),
      peerName: SEND_NAMES.deno,
      unit: "CPU s/GiB",
      target: 0.9,
      note: `the sender's own CPU, Deno sink; median of ${runs}; sender on core 0, sink on ` +
        `core 1; machine-wide ${fmt(machine(sendDeno[0]))} vs ${fmt(machine(sendDeno[1]))}; ` +
        `${speed(sendDeno[0])} vs ${speed(sendDeno[1])} GiB/s`,
    }),
    comparisonRow({
      work: "proxy 1 GiB over loopback",
      netio: perProcess(proxyDeno[0]),
      peer: perProcess(proxyDeno[1]),
      peerName: PROXY_NAMES.deno,
      unit: "CPU s/GiB",
      target: 0.35,
      note: `the proxy's own CPU, Deno sink; median of ${runs}; proxy on core 0, source and ` +
        `sink on core 1; machine-wide ${fmt(machine(proxyDeno[0]))} vs ` +
        `${fmt(machine(proxyDeno[1]))}; ${speed(proxyDeno[0])} vs ${speed(proxyDeno[1])} GiB/s`,
    }),
    comparisonRow({
      work: "sender RSS growth while sending 1 GiB",
      netio: rss(sendDeno[0]),
      peer: rss(sendDeno[1]),
      peerName: SEND_NAMES.deno,
      unit: "MiB",
      target: null,
      note: "peak RSS during the run less RSS just before; flat = near 0",
    }),
    comparisonRow({
      work: "proxy RSS growth while proxying 1 GiB",
      netio: rss(proxyDeno[0]),
      peer: rss(proxyDeno[1]),
      peerName: PROXY_NAMES.deno,
      unit: "MiB",
      target: null,
      note: "peak RSS during the run less RSS just before; flat = near 0",
    }),
  );
  return rows;
}

if (import.meta.main) {
  await runComparisonMain(compare, import.meta, {
    description: "sendFile and the splice proxy against Deno's pipeTo and a C reference, CPU " +
      "per GiB over loopback:\nmachine-wide (all cores) and per process, with a C sink and a " +
      "Deno sink.",
    flags: { runs: { type: "string", value: "N", help: "rounds (default 3, full run 5)" } },
  });
}
