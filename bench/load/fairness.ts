/**
 * One fairness run (issue #10): a busy echo load and a probe of Deno's own I/O, in one process.
 *
 * - The load: `--connections` connections echo `--size`-byte messages for `--seconds`, both ends
 *   in this process, on netio (`--load netio`: TcpListener/TcpStream on the default reactor) or on
 *   Deno's own sockets (`--load deno`: Deno.listen/Deno.connect), or no load (`--load none`).
 * - The probe, sequential, during the load only:
 *   - `--probe fetch`: `fetch` round trips to a `Deno.serve` in the same process;
 *   - `--probe listen`: a `Deno.connect` that writes one byte to a `Deno.listen` server in the same
 *     process; the figure is connect start to the server's first byte read (accept-to-first-byte).
 *
 * Prints one JSON line: echoes completed, probe count, probe p50/p99 in milliseconds, and the
 * reactor's counters (polls, yields, budget cut-offs). The runner is
 * `bench/load/fairness_compare.ts`; this file is the process it starts for each side.
 *
 * ```sh
 * deno run -A bench/load/fairness.ts --load netio --probe fetch --seconds 2
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Reactor, type ReactorOptions, TcpListener, TcpStream } from "../../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    load: { type: "string", default: "netio" },
    probe: { type: "string", default: "fetch" },
    seconds: { type: "string", default: "2" },
    connections: { type: "string", default: "20" },
    size: { type: "string", default: "65536" },
    parking: { type: "string" },
    "turn-budget": { type: "string" },
    "yield-interval-ms": { type: "string" },
    "yield-on-runtime-io": { type: "string" },
  },
});

const seconds = Number(values.seconds);
const connections = Number(values.connections);
const size = Number(values.size);
const load = values.load;
const probe = values.probe;
if (!["netio", "deno", "none"].includes(load)) throw new TypeError(`--load: ${load}`);
if (!["fetch", "listen", "none"].includes(probe)) throw new TypeError(`--probe: ${probe}`);

const reactorOptions: ReactorOptions = {};
if (values.parking) reactorOptions.parking = values.parking as "nonblocking" | "worker";
if (values["turn-budget"]) reactorOptions.turnBudget = Number(values["turn-budget"]);
if (values["yield-interval-ms"]) {
  reactorOptions.yieldIntervalMs = Number(values["yield-interval-ms"]);
}
if (values["yield-on-runtime-io"]) {
  reactorOptions.yieldOnRuntimeIo = values["yield-on-runtime-io"] !== "false";
}
const reactor = new Reactor(reactorOptions);

/** A minimal stream surface both socket kinds share. */
interface Duplex {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  close(): void;
}

let running = true;
let echoes = 0;

async function echoServer(conn: Duplex): Promise<void> {
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } catch {
    // the client went away at the end of the run
  } finally {
    conn.close();
  }
}

async function echoClient(conn: Duplex): Promise<void> {
  const msg = new Uint8Array(size).fill(7);
  const buf = new Uint8Array(65536);
  try {
    while (running) {
      let off = 0;
      while (off < size) off += await conn.write(msg.subarray(off));
      let got = 0;
      while (got < size) {
        const n = await conn.read(buf);
        if (n === null) return;
        got += n;
      }
      echoes++;
    }
  } finally {
    conn.close();
  }
}

async function startLoad(): Promise<() => Promise<void>> {
  if (load === "none") return () => Promise.resolve();
  const tasks: Promise<void>[] = [];
  if (load === "netio") {
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0, reactor });
    for (let i = 0; i < connections; i++) {
      const client = await TcpStream.connect({
        hostname: "127.0.0.1",
        port: listener.addr.port,
        reactor,
      });
      const server = await listener.accept();
      tasks.push(echoServer(server), echoClient(client));
    }
    listener.close();
  } else {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    for (let i = 0; i < connections; i++) {
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const server = await listener.accept();
      tasks.push(echoServer(server), echoClient(client));
    }
    listener.close();
  }
  return async () => {
    running = false;
    await Promise.all(tasks);
  };
}

async function fetchProbe(until: number): Promise<number[]> {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    () => new Response("ok"),
  );
  const samples: number[] = [];
  const url = `http://127.0.0.1:${server.addr.port}/`;
  while (performance.now() < until) {
    const t0 = performance.now();
    const r = await fetch(url);
    await r.text();
    const t1 = performance.now();
    if (t1 <= until) samples.push(t1 - t0);
  }
  ac.abort();
  await server.finished;
  return samples;
}

async function listenProbe(until: number): Promise<number[]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const samples: number[] = [];
  const one = new Uint8Array([1]);
  const buf = new Uint8Array(1);
  while (performance.now() < until) {
    const t0 = performance.now();
    const accepted = listener.accept();
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await client.write(one);
    const conn = await accepted;
    await conn.read(buf);
    const t1 = performance.now();
    conn.close();
    client.close();
    if (t1 <= until) samples.push(t1 - t0);
  }
  listener.close();
  return samples;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

const stopLoad = await startLoad();
const echoesAtStart = echoes;
const until = performance.now() + seconds * 1000;
const samples = probe === "fetch"
  ? await fetchProbe(until)
  : probe === "listen"
  ? await listenProbe(until)
  : await new Promise<number[]>((resolve) => setTimeout(() => resolve([]), seconds * 1000));
const echoesDuring = echoes - echoesAtStart;
await stopLoad();
const stats = reactor.stats();
await reactor.close();
samples.sort((a, b) => a - b);
console.log(JSON.stringify({
  load,
  probe,
  echoes: echoesDuring,
  probes: samples.length,
  p50Ms: percentile(samples, 0.5),
  p99Ms: percentile(samples, 0.99),
  polls: stats.polls,
  yields: stats.yields,
  budgetCutoffs: stats.budgetCutoffs,
}));
