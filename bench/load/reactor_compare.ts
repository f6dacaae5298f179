/**
 * Reactor comparison, side by side in one run: netio's echo server against a `Deno.listen` echo
 * server (server CPU per message with 100 connections, one-connection round-trip p50), and the
 * wake latency of the two parking designs.
 *
 * ```sh
 * deno run -A bench/load/reactor_compare.ts
 * ```
 *
 * @module
 */
import {
  type ComparisonContext,
  type ComparisonRow,
  comparisonRow,
  detectPinning,
  killAllServers,
  median,
  runQuiet,
  type ServerProcess,
  startServer,
} from "./lib.ts";
import { runComparisonMain } from "./runner.ts";
import { denoRun } from "./deno_run.ts";

/** What `echo_client.ts` reports for one run. */
export interface EchoRun {
  /** Messages echoed back. */
  messages: number;
  /** Wall seconds of the run. */
  seconds: number;
  /** Median round trip, microseconds. */
  p50Us: number;
  /** 99th percentile round trip, microseconds. */
  p99Us: number;
}

/**
 * Drives an echo server with `echo_client.ts` (pinned to the client core): `connections`
 * ping-pong connections for `seconds`; the client's report and the server's CPU per message.
 *
 * @example
 * ```ts ignore
 * import { echoLoad } from "./reactor_compare.ts";
 * import { startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.listen echo",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/echo_deno.ts"],
 * });
 * console.log((await echoLoad(server, 100, 2)).cpuUsPerMessage);
 * ```
 */
export async function echoLoad(
  server: ServerProcess,
  connections: number,
  seconds: number,
): Promise<{ run: EchoRun; cpuUsPerMessage: number }> {
  const pinning = await detectPinning();
  const before = await server.cpuSeconds();
  const result = await runQuiet([
    ...pinning.client,
    Deno.execPath(),
    "run",
    "--allow-net",
    new URL("./echo_client.ts", import.meta.url).pathname,
    "--port",
    String(server.port),
    "--connections",
    String(connections),
    "--seconds",
    String(seconds),
  ], (seconds + 30) * 1000);
  const after = await server.cpuSeconds();
  if (!result || result.code !== 0) {
    throw new Error(`echo client failed: ${result?.stderr ?? "could not start"}`);
  }
  const run = JSON.parse(result.stdout.trim().split("\n").pop()!) as EchoRun;
  return { run, cpuUsPerMessage: ((after - before) * 1e6) / Math.max(1, run.messages) };
}

/**
 * Runs the reactor comparison and returns its rows.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./reactor_compare.ts";
 * console.table(await compare({ root: "./", log: console.error }));
 * ```
 */
export async function compare(context: ComparisonContext): Promise<ComparisonRow[]> {
  const root = context.root;
  const seconds = context.full ? 5 : 2;
  const rounds = 3;
  const netioServer = await startServer({
    name: "netio echo",
    // No --allow-env: the echo server keeps the default backend whatever NETIO_BACKEND says.
    command: denoRun(`${root}bench/load/servers/echo_netio.ts`, {
      permissions: ["--allow-ffi", "--allow-net", "--allow-read"],
    }),
  });
  const denoServer = await startServer({
    name: "Deno.listen echo",
    command: [Deno.execPath(), "run", "--allow-net", `${root}bench/load/servers/echo_deno.ts`],
  });
  const cpu: Record<string, number[]> = { netio: [], deno: [] };
  const rtt: Record<string, number[]> = { netio: [], deno: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [key, server] of [["netio", netioServer], ["deno", denoServer]] as const) {
        context.log(`reactor: round ${round + 1}/${rounds}, ${server.name}, 100 connections`);
        cpu[key]!.push((await echoLoad(server, 100, seconds)).cpuUsPerMessage);
        context.log(`reactor: round ${round + 1}/${rounds}, ${server.name}, 1 connection`);
        rtt[key]!.push((await echoLoad(server, 1, seconds)).run.p50Us);
      }
    }
  } finally {
    await netioServer.stop();
    await denoServer.stop();
    killAllServers();
  }
  context.log("reactor: wake latency of the parking designs");
  const wake = await runQuiet([
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-read",
    `${root}bench/load/wake_latency.ts`,
    "--wakes",
    context.full ? "1000" : "300",
  ], 60_000);
  const wakeRows: ComparisonRow[] = [];
  if (wake && wake.code === 0) {
    const w = JSON.parse(wake.stdout.trim().split("\n").pop()!) as Record<
      string,
      { p50Us: number; p99Us: number }
    >;
    for (const p of ["p50Us", "p99Us"] as const) {
      wakeRows.push(comparisonRow({
        work: `idle-to-ready wake latency ${p.slice(0, 3)} (nonblocking park, the default)`,
        netio: w.nonblocking?.[p],
        peer: w.worker?.[p],
        peerName: "worker + Atomics.waitAsync park",
        unit: "us",
        target: null,
      }));
    }
  }
  return [
    comparisonRow({
      work: "echo, 100 connections, server CPU per message",
      netio: median(cpu.netio!),
      peer: median(cpu.deno!),
      peerName: "Deno.listen",
      unit: "us CPU/message",
      target: 0.9,
    }),
    comparisonRow({
      work: "echo ping-pong, 1 connection, p50 round trip",
      netio: median(rtt.netio!),
      peer: median(rtt.deno!),
      peerName: "Deno.listen",
      unit: "us",
      target: 1.1,
    }),
    ...wakeRows,
  ];
}

if (import.meta.main) await runComparisonMain(compare, import.meta);
