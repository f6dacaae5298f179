/**
 * Fairness with Deno's own I/O (issue #10), side by side in one run: while 20 connections echo
 * 64 KiB messages inside one process, how fast does that process's own `Deno.serve` answer a
 * `fetch`, and how fast does its own `Deno.listen` server get a new connection's first byte? The
 * same load on `Deno.listen`/`Deno.connect` is the peer. A third pair of rows prices the policy:
 * the echo throughput of the netio load alone with the reactor's defaults against the same load
 * with the policy off (`turnBudget` 65536, `yieldIntervalMs` Infinity, `yieldOnRuntimeIo` false:
 * the reactor as it was).
 *
 * Each side runs in a fresh process (`bench/load/fairness.ts`); rounds are interleaved and the
 * median of each figure is reported (the throughput pair gets two more rounds: it is the noisiest).
 *
 * ```sh
 * deno run -A bench/load/fairness_compare.ts          # 3 rounds of 2 s
 * deno run -A bench/load/fairness_compare.ts --full   # 5 rounds of 4 s
 * ```
 *
 * @module
 */
import {
  type ComparisonContext,
  type ComparisonRow,
  comparisonRow,
  median,
  runQuiet,
} from "./lib.ts";
import { runComparisonMain } from "./runner.ts";

/** One line printed by `bench/load/fairness.ts`. */
export interface FairnessRun {
  /** "netio", "deno" or "none". */
  load: string;
  /** "fetch", "listen" or "none". */
  probe: string;
  /** Echo round trips completed during the probe period. */
  echoes: number;
  /** Probes completed during the period. */
  probes: number;
  /** Probe latency percentiles, milliseconds; null without probes. */
  p50Ms: number | null;
  /** See `p50Ms`. */
  p99Ms: number | null;
  /** Reactor counters (netio load only; 0 otherwise). */
  polls: number;
  /** Yields to Deno's runtime. */
  yields: number;
  /** Turns cut short by the budget. */
  budgetCutoffs: number;
}

/**
 * Runs `bench/load/fairness.ts` once in a fresh process.
 *
 * @example
 * ```ts ignore
 * import { fairnessRun } from "./fairness_compare.ts";
 * console.log(await fairnessRun("./", ["--load", "netio", "--probe", "fetch"]));
 * ```
 */
export async function fairnessRun(root: string, args: string[]): Promise<FairnessRun> {
  const result = await runQuiet([
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-net=127.0.0.1",
    `${root}bench/load/fairness.ts`,
    ...args,
  ], 120_000);
  if (!result || result.code !== 0) {
    throw new Error(`fairness run ${args.join(" ")} failed: ${result?.stderr ?? "no start"}`);
  }
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as FairnessRun;
}

/**
 * Runs the fairness comparison and returns its rows.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./fairness_compare.ts";
 * console.table(await compare({ root: "./", log: console.error }));
 * ```
 */
export async function compare(context: ComparisonContext): Promise<ComparisonRow[]> {
  const rounds = context.full ? 5 : 3;
  const seconds = String(context.full ? 4 : 2);
  // The reactor as it was before the fairness policy.
  const policyOff = [
    "--turn-budget",
    "65536",
    "--yield-interval-ms",
    "Infinity",
    "--yield-on-runtime-io",
    "false",
  ];
  const sides: Record<string, readonly string[]> = {
    fetchNetio: ["--load", "netio", "--probe", "fetch"],
    fetchDeno: ["--load", "deno", "--probe", "fetch"],
    fetchNoPolicy: ["--load", "netio", "--probe", "fetch", ...policyOff],
    listenNetio: ["--load", "netio", "--probe", "listen"],
    listenDeno: ["--load", "deno", "--probe", "listen"],
    echoPolicy: ["--load", "netio", "--probe", "none"],
    echoNoPolicy: ["--load", "netio", "--probe", "none", ...policyOff],
  };
  const runs = new Map<keyof typeof sides, FairnessRun[]>();
  // The throughput pair is the noisiest here (one 2 s run of the same build read 40k or 52k
  // echoes): it gets two extra rounds.
  const throughputKeys = new Set<string>(["echoPolicy", "echoNoPolicy"]);
  for (let round = 0; round < rounds + 2; round++) {
    for (const [key, args] of Object.entries(sides) as [keyof typeof sides, readonly string[]][]) {
      if (round >= rounds && !throughputKeys.has(key)) continue;
      context.log(`fairness: round ${round + 1}/${rounds}, ${args.join(" ")}`);
      const run = await fairnessRun(context.root, [...args, "--seconds", seconds]);
      runs.set(key, [...(runs.get(key) ?? []), run]);
    }
  }
  const pick = (key: keyof typeof sides, field: "p50Ms" | "p99Ms" | "echoes"): number =>
    median((runs.get(key) ?? []).map((r) => r[field] ?? NaN));
  const yields = median((runs.get("fetchNetio") ?? []).map((r) => r.yields));
  return [
    comparisonRow({
      work: "in-process Deno.serve + fetch p50, while 20 conns echo 64 KiB",
      netio: pick("fetchNetio", "p50Ms"),
      peer: pick("fetchDeno", "p50Ms"),
      peerName: "same load on Deno.listen",
      unit: "ms",
      target: 1.5,
      note: `${yields} reactor yields in ${seconds} s`,
    }),
    comparisonRow({
      work: "in-process Deno.serve + fetch p99, while 20 conns echo 64 KiB",
      netio: pick("fetchNetio", "p99Ms"),
      peer: pick("fetchDeno", "p99Ms"),
      peerName: "same load on Deno.listen",
      unit: "ms",
      target: 2,
    }),
    comparisonRow({
      work: "in-process Deno.listen accept-to-first-byte p50, same load",
      netio: pick("listenNetio", "p50Ms"),
      peer: pick("listenDeno", "p50Ms"),
      peerName: "same load on Deno.listen",
      unit: "ms",
      target: 1.5,
    }),
    comparisonRow({
      work: "in-process Deno.listen accept-to-first-byte p99, same load",
      netio: pick("listenNetio", "p99Ms"),
      peer: pick("listenDeno", "p99Ms"),
      peerName: "same load on Deno.listen",
      unit: "ms",
      target: 2,
    }),
    comparisonRow({
      work: `echoes in ${seconds} s beside the fetch loop (which now gets its share)`,
      netio: pick("fetchNetio", "echoes"),
      peer: pick("fetchNoPolicy", "echoes"),
      peerName: "netio with the policy off",
      unit: "echoes",
      target: null,
      lowerIsBetter: false,
      note: `fetches served: ${median((runs.get("fetchNetio") ?? []).map((r) => r.probes))} vs ${
        median((runs.get("fetchNoPolicy") ?? []).map((r) => r.probes))
      }`,
    }),
    comparisonRow({
      work: `echo throughput of that netio load alone, echoes in ${seconds} s`,
      netio: pick("echoPolicy", "echoes"),
      peer: pick("echoNoPolicy", "echoes"),
      peerName: "netio with the policy off",
      unit: "echoes",
      target: 0.9,
      lowerIsBetter: false,
    }),
  ];
}

if (import.meta.main) await runComparisonMain(compare, import.meta);
