/**
 * Zero-copy transfers side by side, CPU seconds per GiB over loopback, in one run:
 *
 * - sending a file: netio `sendFile` vs Deno `file.readable.pipeTo(conn.writable)`
 *   (target: netio <= 0.9x);
 * - proxying: netio `proxy()` (splice through pooled pipes) vs a Deno proxy that `pipeTo`s both
 *   ways (target: netio <= 0.35x);
 * - resident memory of the sender and of the proxy while 1 GiB goes through (it should stay
 *   flat, whatever the size);
 * - beside both, a C reference (`transfer/reference.c`: a blocking sendfile loop, a splice proxy
 *   with a thread per direction), built with `cc` when there is one: the kernel's own floor.
 *
 * Every figure is the CPU (user + system, all threads, from /proc/PID/stat) of the one process
 * under test, pinned to core 0, while a sink that reads and discards (and, for the proxies, a
 * source feeding them) run as separate processes on core 1. The file is 256 MiB of real bytes
 * (not sparse) in /tmp, made once and sent 4 times per run; each side runs `--runs` times
 * (default 5), the order rotating every round, and the median is reported.
 *
 * ```sh
 * deno run -A bench/load/transfer_compare.ts            # about 30 s on 2 cores
 * deno run -A bench/load/transfer_compare.ts --json bench/out/transfer.json
 * ```
 *
 * As a comparison module for `bench/report.ts` it exports {@linkcode compare}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type ComparisonContext,
  type ComparisonRow,
  comparisonRow,
  detectPinning,
  median,
  processCpuSeconds,
  processRssBytes,
} from "./lib.ts";

const peerPath = new URL("./transfer/peer.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The file sent by every run: 256 MiB of real bytes, made once. */
export const DATA_FILE = "/tmp/netio-transfer-bench-256m.bin";
const FILE_SIZE = 256 * MiB;
const REPEAT = 4; // 1 GiB per run

/** Makes the data file unless it is already there with the right size. */
async function ensureDataFile(log: (message: string) => void): Promise<void> {
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

const live = new Set<Peer>();

/** One helper process (bench/load/transfer/peer.ts), talked to by stdin/stdout lines. */
class Peer {
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

  /** Starts `bench/load/transfer/peer.ts` with `args`, pinned by `core` (a taskset prefix). */
  static start(core: string[], args: string[]): Peer {
    return Peer.spawn(core, [
      Deno.execPath(),
      "run",
      "--allow-ffi",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      peerPath,
      ...args,
    ]);
  }

  /** Starts any program speaking the same line protocol (the C reference). */
  static spawn(core: string[], command: string[]): Peer {
    const [program, ...rest] = [...core, ...command];
    const child = new Deno.Command(program!, {
      args: rest,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const peer = new Peer(child);
    live.add(peer);
    return peer;
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
    live.delete(this);
    await this.#writer.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 1000)),
    ]);
    clearTimeout(timer);
    if (!exited) this.kill();
    await this.#child.status;
  }

  kill(): void {
    live.delete(this);
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

function killAll(): void {
  for (const p of live) p.kill();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// One measured run

/** What the process under test spent moving the bytes. */
export interface TransferRun {
  /** Bytes the sink received. */
  bytes: number;
  /** CPU seconds of the process under test. */
  cpuSeconds: number;
  /** CPU seconds per GiB moved. */
  cpuPerGiB: number;
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
 * Measures `subject` (a started peer) from "go" until the sink reports what it received:
 * CPU from /proc/PID/stat, RSS sampled every 20 ms.
 */
async function measure(subject: Peer, starter: Peer, sink: Peer): Promise<TransferRun> {
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
  const t0 = performance.now();
  await starter.send("go");
  const received = Number((await sink.expect(/^received (\d+)$/))[1]);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu1 = (await processCpuSeconds(subject.pid)) ?? NaN;
  sampling = false;
  await sampler;
  const cpuSeconds = cpu1 - cpu0;
  const half = t0 + wallSeconds * 500;
  const firstHalfPeak = Math.max(rss0, ...samples.filter(([t]) => t <= half).map(([, r]) => r));
  return {
    bytes: received,
    cpuSeconds,
    cpuPerGiB: cpuSeconds / (received / GiB),
    wallSeconds,
    rssGrowthBytes: peak - rss0,
    rssLateGrowthBytes: Math.max(0, peak - firstHalfPeak),
  };
}

/** Who is measured: netio, Deno's streams, or the C reference (no runtime at all). */
export type Implementation = "netio" | "deno" | "c";

const referenceSource = new URL("./transfer/reference.c", import.meta.url).pathname;
const referenceBinary = "/tmp/netio-transfer-reference";
let referenceBuilt: Promise<boolean> | undefined;

/** Builds the C reference once (`cc -O2`); false when no compiler is there or it fails. */
export function buildReference(log: (message: string) => void = () => {}): Promise<boolean> {
  referenceBuilt ??= (async () => {
    for (const cc of ["cc", "gcc", "clang"]) {
      try {
        const out = await new Deno.Command(cc, {
          args: ["-O2", "-pthread", "-o", referenceBinary, referenceSource],
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (out.code === 0) return true;
        log(`${cc} failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 300)}`);
      } catch {
        // not installed: try the next
      }
    }
    log("no C compiler: the C reference rows are skipped");
    return false;
  })();
  return referenceBuilt;
}

/** One file send: sink on core 1, the sender on core 0. */
export async function runSend(impl: Implementation, repeat = REPEAT): Promise<TransferRun> {
  const pinning = await detectPinning();
  const sink = Peer.start(pinning.client, ["--role", "sink"]);
  let sender: Peer | undefined;
  try {
    const port = (await sink.expect(/^listening on (\d+)$/))[1]!;
    sender = impl === "c"
      ? Peer.spawn(pinning.server, [
        referenceBinary,
        "send",
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
      throw new Error(`${impl} send: the sink received ${run.bytes} bytes`);
    }
    return run;
  } finally {
    await sender?.stop();
    await sink.stop();
  }
}

/** One proxied transfer: source and sink on core 1, the proxy on core 0. */
export async function runProxy(impl: Implementation, repeat = REPEAT): Promise<TransferRun> {
  const pinning = await detectPinning();
  const sink = Peer.start(pinning.client, ["--role", "sink"]);
  let relay: Peer | undefined;
  let source: Peer | undefined;
  try {
    const sinkPort = (await sink.expect(/^listening on (\d+)$/))[1]!;
    relay = impl === "c"
      ? Peer.spawn(pinning.server, [referenceBinary, "proxy", "127.0.0.1", sinkPort])
      : Peer.start(pinning.server, ["--role", "proxy", "--impl", impl, "--upstream", sinkPort]);
    const port = (await relay.expect(/^listening on (\d+)$/))[1]!;
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
      throw new Error(`${impl} proxy: the sink received ${run.bytes} bytes`);
    }
    return run;
  } finally {
    await source?.stop();
    await relay?.stop();
    await sink.stop();
  }
}

/**
 * Runs every implementation `runs` times, rotating who goes first each round, so none always
 * meets a warmer page cache or a cooler CPU.
 */
async function rotate(
  runs: number,
  impls: Implementation[],
  run: (impl: Implementation) => Promise<TransferRun>,
): Promise<Map<Implementation, TransferRun[]>> {
  const results = new Map<Implementation, TransferRun[]>(impls.map((impl) => [impl, []]));
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(i + k) % impls.length]!;
      results.get(impl)!.push(await run(impl));
    }
  }
  return results;
}

const fmt = (x: number, digits = 3): string => x.toFixed(digits);

function describe(name: string, runs: TransferRun[]): string {
  return `${name}: ${runs.map((r) => fmt(r.cpuPerGiB)).join(", ")} CPU s/GiB; ` +
    `${runs.map((r) => fmt(r.bytes / GiB / r.wallSeconds, 2)).join(", ")} GiB/s; ` +
    `RSS +${runs.map((r) => fmt(r.rssGrowthBytes / MiB, 1)).join(", ")} MiB ` +
    `(second half +${runs.map((r) => fmt(r.rssLateGrowthBytes / MiB, 1)).join(", ")})`;
}

/** Options of {@linkcode compare} beyond the context: how many runs per side. */
export interface TransferCompareOptions {
  /** Runs per side (default 5; 7 with `context.full`). */
  runs?: number;
}

/**
 * Runs both comparisons and returns the report's rows: CPU per GiB for sendFile and for the
 * proxy (netio vs Deno's pipeTo), and RSS growth for each.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./transfer_compare.ts";
 *
 * const rows = await compare({ root: "/work/main/", log: (m) => console.error(m) });
 * for (const row of rows) console.log(row.work, row.ratio?.toFixed(2), row.met);
 * ```
 */
export async function compare(
  context: ComparisonContext,
  options: TransferCompareOptions = {},
): Promise<ComparisonRow[]> {
  const log = context.log;
  const runs = options.runs ?? (context.full ? 7 : 5);
  const pinning = await detectPinning();
  if (pinning.warning) log(`pinning: ${pinning.warning}`);
  await ensureDataFile(log);
  const impls: Implementation[] = (await buildReference(log))
    ? ["netio", "deno", "c"]
    : ["netio", "deno"];
  try {
    log(`send a file: 1 GiB (256 MiB x4) over loopback, ${runs} runs each of ${impls.join(", ")}`);
    const send = await rotate(runs, impls, runSend);
    log(`proxy: 1 GiB through, ${runs} runs each of ${impls.join(", ")}`);
    const relay = await rotate(runs, impls, runProxy);
    const names: Record<Implementation, [string, string]> = {
      netio: ["netio sendFile", "netio proxy (splice)"],
      deno: ["Deno pipeTo", "Deno pipeTo proxy"],
      c: ["C sendfile", "C splice proxy (2 threads)"],
    };
    for (const impl of impls) log(describe(`  ${names[impl][0]}`, send.get(impl)!));
    for (const impl of impls) log(describe(`  ${names[impl][1]}`, relay.get(impl)!));

    const cpu = (rs: TransferRun[] | undefined): number | null =>
      rs ? median(rs.map((r) => r.cpuPerGiB)) : null;
    const rss = (rs: TransferRun[] | undefined): number | null =>
      rs ? median(rs.map((r) => r.rssGrowthBytes / MiB)) : null;
    const speed = (rs: TransferRun[] | undefined): string =>
      rs ? fmt(median(rs.map((r) => r.bytes / GiB / r.wallSeconds)), 2) : "-";
    const rows: ComparisonRow[] = [
      comparisonRow({
        work: "send a file, 1 GiB over loopback (256 MiB x4)",
        netio: cpu(send.get("netio")),
        peer: cpu(send.get("deno")),
        peerName: "Deno file.readable.pipeTo(conn.writable)",
        unit: "CPU s/GiB",
        target: 0.9,
        note: `median of ${runs}; sender on core 0, sink on core 1; ` +
          `${speed(send.get("netio"))} vs ${speed(send.get("deno"))} GiB/s`,
      }),
      comparisonRow({
        work: "proxy 1 GiB over loopback",
        netio: cpu(relay.get("netio")),
        peer: cpu(relay.get("deno")),
        peerName: "Deno pipeTo proxy",
        unit: "CPU s/GiB",
        target: 0.35,
        note: `median of ${runs}; proxy on core 0, source and sink on core 1; ` +
          `${speed(relay.get("netio"))} vs ${speed(relay.get("deno"))} GiB/s`,
      }),
    ];
    if (send.has("c")) {
      rows.push(
        comparisonRow({
          work: "send a file, 1 GiB over loopback: netio vs the kernel's floor",
          netio: cpu(send.get("netio")),
          peer: cpu(send.get("c")),
          peerName: "C sendfile (blocking loop)",
          unit: "CPU s/GiB",
          target: null,
          note: "informative: what sendfile costs with no runtime at all",
        }),
        comparisonRow({
          work: "proxy 1 GiB over loopback: netio vs the kernel's floor",
          netio: cpu(relay.get("netio")),
          peer: cpu(relay.get("c")),
          peerName: "C splice proxy (a blocking thread per direction)",
          unit: "CPU s/GiB",
          target: null,
          note: "informative: what splice costs with no runtime at all",
        }),
      );
    }
    rows.push(
      comparisonRow({
        work: "sender RSS growth while sending 1 GiB",
        netio: rss(send.get("netio")),
        peer: rss(send.get("deno")),
        peerName: "Deno file.readable.pipeTo(conn.writable)",
        unit: "MiB",
        target: null,
        note: "peak RSS during the run less RSS just before; flat = near 0",
      }),
      comparisonRow({
        work: "proxy RSS growth while proxying 1 GiB",
        netio: rss(relay.get("netio")),
        peer: rss(relay.get("deno")),
        peerName: "Deno pipeTo proxy",
        unit: "MiB",
        target: null,
        note: "peak RSS during the run less RSS just before; flat = near 0",
      }),
    );
    return rows;
  } finally {
    killAll();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: "string" },
      runs: { type: "string" },
      full: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: deno run -A bench/load/transfer_compare.ts [--runs N] [--full] [--json FILE]",
    );
    return;
  }
  const started = performance.now();
  const rows = await compare(
    {
      root: new URL("../../", import.meta.url).pathname,
      log: (message) => console.error(message),
      full: values.full,
    },
    values.runs !== undefined ? { runs: Number(values.runs) } : {},
  );
  console.log("| work | netio | peer | peer name | unit | ratio | target | met |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.work} | ${r.netio?.toFixed(3)} | ${
        r.peer?.toFixed(3)
      } | ${r.peerName} | ${r.unit} | ` +
        `${r.ratio?.toFixed(2) ?? "-"} | ${r.target ?? "-"} | ${r.met ?? "-"} |`,
    );
  }
  console.error(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(rows, null, 2));
}

if (import.meta.main) {
  globalThis.addEventListener("unload", killAll);
  await main();
}
