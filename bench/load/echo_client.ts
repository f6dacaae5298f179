/**
 * Echo load generator: `--connections C` connections, each sending a `--size`-byte message and
 * waiting for its echo, for `--seconds S`. Prints one JSON line: messages, seconds, and the
 * round-trip percentiles in microseconds. Uses Deno's built-in sockets, so both servers under
 * comparison face the same client.
 *
 * ```sh
 * deno run --allow-net bench/load/echo_client.ts --port 8080 --connections 100 --seconds 3
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    connections: { type: "string", default: "100" },
    seconds: { type: "string", default: "3" },
    size: { type: "string", default: "64" },
  },
});

const port = Number(values.port);
const connections = Number(values.connections);
const size = Number(values.size);
const deadline = performance.now() + Number(values.seconds) * 1000;
const samples: number[] = [];
let messages = 0;

async function run(): Promise<void> {
  const conn = await Deno.connect({ hostname: values.host, port });
  conn.setNoDelay(true);
  const msg = new Uint8Array(size).fill(97);
  const buf = new Uint8Array(size);
  try {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let off = 0;
      while (off < size) off += await conn.write(msg.subarray(off));
      let got = 0;
      while (got < size) {
        const n = await conn.read(buf.subarray(got));
        if (n === null) return;
        got += n;
      }
      messages++;
      if (samples.length < 200_000) samples.push((performance.now() - t0) * 1000);
    }
  } finally {
    conn.close();
  }
}

const start = performance.now();
await Promise.all(Array.from({ length: connections }, run));
const seconds = (performance.now() - start) / 1000;
samples.sort((a, b) => a - b);
const pct = (p: number): number =>
  samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
console.log(JSON.stringify({ messages, seconds, p50Us: pct(0.5), p99Us: pct(0.99) }));
