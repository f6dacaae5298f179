/**
 * Tunes a live loopback TCP connection and shows what the kernel made of it: opens a listener and
 * a connection to it, applies a typical tuning set to the client side, prints each option
 * before -> after (saying where the kernel adjusted the value), sends `--bytes` to the server and
 * prints TCP_INFO of both ends. Closes everything and exits.
 *
 * ```sh
 * deno run --allow-ffi --allow-net examples/tcp_tuning.ts --bytes 64MiB
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { integerFlag, runCli, UsageError } from "./_cli.ts";
import {
  type KeepAlive,
  type TcpInfo,
  TcpListener,
  TcpStream,
  type TuneChange,
  type TuneSettings,
} from "../mod.ts";

const usage = `usage: deno run --allow-ffi --allow-net examples/tcp_tuning.ts [options]

Opens a loopback connection, applies a tuning set to the client end, prints before -> after per
option, sends --bytes to the server and prints TCP_INFO of both ends.

options:
  --host ADDR   address to listen on and connect to (default 127.0.0.1; ::1 for IPv6)
  --port N      port to listen on, 0 for any free one (default 0)
  --bytes N     bytes to send; suffixes KiB, MiB, GiB (default 8MiB)
  --json        print one JSON object instead of tables
  -h, --help    this text`;

/** The tuning set this example applies to the client end. */
const TUNING: TuneSettings = {
  noDelay: true,
  keepAlive: { idleSec: 30, intervalSec: 5, count: 4 },
  sendBufferSize: 256 * 1024,
  recvBufferSize: 256 * 1024,
  userTimeoutMs: 10_000,
  notSentLowat: 16384,
  quickAck: true,
};

function parseBytes(text: string): number {
  const m = /^(\d+)\s*(|B|KiB|K|MiB|M|GiB|G)$/i.exec(text.trim());
  if (!m) throw new TypeError(`--bytes: expected a size like 8MiB, got ${JSON.stringify(text)}`);
  const unit = m[2]!.toUpperCase()[0] ?? "";
  const scale = unit === "K" ? 1024 : unit === "M" ? 1 << 20 : unit === "G" ? 1 << 30 : 1;
  const n = Number(m[1]) * scale;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`--bytes must be at least 1`);
  return n;
}

function show(value: unknown): string {
  if (value === null) return "off";
  if (value === false) return "off";
  if (value === true) return "on";
  if (typeof value === "object") {
    const k = value as Required<KeepAlive>;
    return `idle ${k.idleSec}s, every ${k.intervalSec}s, ${k.count} probes`;
  }
  return String(value);
}

/** An honest one-line note on what the kernel did with a requested value. */
function note(change: TuneChange): string {
  const { option, requested, after } = change;
  if (option === "sendBufferSize" || option === "recvBufferSize") {
    const r = requested as number, a = after as number;
    const limit = option === "sendBufferSize" ? "wmem_max" : "rmem_max";
    if (a === 2 * r) return "kernel doubled it (half is kept for bookkeeping)";
    if (a < 2 * r) return `kernel capped it at 2 x net.core.${limit}`;
    return "kernel raised it to its minimum";
  }
  if (option === "quickAck") {
    return "not sticky: the kernel leaves quick-ack mode again on its own";
  }
  if (change.adjusted) return "kernel adjusted it";
  return change.before === change.after ? "unchanged (already set)" : "set as asked";
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "))
    .join("\n");
}

/** TCP_INFO fields printed, with their units. */
const INFO_FIELDS: [keyof TcpInfo, string][] = [
  ["state", ""],
  ["caState", ""],
  ["rttUs", "us"],
  ["rttVarUs", "us"],
  ["minRttUs", "us"],
  ["rtoUs", "us"],
  ["atoUs", "us"],
  ["sndMss", "bytes"],
  ["rcvMss", "bytes"],
  ["advmss", "bytes"],
  ["pmtu", "bytes"],
  ["sndCwnd", "segments"],
  ["sndSsthresh", "segments"],
  ["sndWnd", "bytes"],
  ["rcvSpace", "bytes"],
  ["bytesSent", "bytes"],
  ["bytesAcked", "bytes"],
  ["bytesReceived", "bytes"],
  ["segsOut", "segments"],
  ["segsIn", "segments"],
  ["dataSegsOut", "segments"],
  ["dataSegsIn", "segments"],
  ["notsentBytes", "bytes"],
  ["unacked", "segments"],
  ["retransmits", ""],
  ["totalRetrans", "segments"],
  ["bytesRetrans", "bytes"],
  ["deliveryRate", "bytes/s"],
  ["pacingRate", "bytes/s"],
  ["busyTimeUs", "us"],
  ["rwndLimitedUs", "us"],
  ["sndbufLimitedUs", "us"],
];

function showInfo(name: keyof TcpInfo, value: unknown): string {
  if (value === undefined) return "n/a (older kernel)";
  // 0x7fffffff: no slow-start threshold yet (the connection never left slow start).
  if (name === "sndSsthresh" && value === 0x7fffffff) return "unset";
  if (typeof value === "number" && name.endsWith("Rate")) {
    return `${value} (${(value / 1e6).toFixed(1)} MB/s)`;
  }
  return String(value);
}

/** Resolves once the client's bytes are all acknowledged (bounded: at most ~2 s of polling). */
async function waitAcked(client: TcpStream, bytes: number): Promise<TcpInfo> {
  let info = client.tcpInfo();
  for (let i = 0; i < 1000 && (info.bytesAcked ?? bytes) < bytes; i++) {
    await new Promise((r) => setTimeout(r, 2));
    info = client.tcpInfo();
  }
  return info;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      bytes: { type: "string", default: "8MiB" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = integerFlag("port", values.port, 0, 65535);
  let bytes: number;
  try {
    bytes = parseBytes(values.bytes);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }

  using listener = TcpListener.bind({ hostname: values.host, port });
  using client = await TcpStream.connect({ hostname: values.host, port: listener.addr.port });
  using server = await listener.accept();

  const changes = client.tune(TUNING);

  // Send `bytes` from the client; the server reads them all.
  const chunk = new Uint8Array(Math.min(bytes, 1 << 20)).fill(0x61);
  const started = performance.now();
  const receiving = (async () => {
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    while (total < bytes) {
      const n = await server.read(buf);
      if (n === null) break;
      total += n;
    }
    return total;
  })();
  for (let left = bytes; left > 0; left -= chunk.byteLength) {
    await client.writeAll(left >= chunk.byteLength ? chunk : chunk.subarray(0, left));
  }
  const received = await receiving;
  const elapsedMs = performance.now() - started;
  const clientInfo = await waitAcked(client, bytes);
  const serverInfo = server.tcpInfo();
  const quickAckNow = client.quickAck();

  if (values.json) {
    console.log(JSON.stringify(
      {
        address: listener.addr,
        tuning: changes,
        quickAckAfterTransfer: quickAckNow,
        transfer: { bytes, received, elapsedMs },
        tcpInfo: { client: clientInfo, server: serverInfo },
      },
      null,
      2,
    ));
    return;
  }

  const where = `${client.localAddr.hostname}:${client.localAddr.port} -> ` +
    `${listener.addr.hostname}:${listener.addr.port}`;
  console.log(`connection ${where}\n`);
  console.log("tuning applied to the client end:");
  console.log(table([
    ["option", "before", "requested", "after", "note"],
    ...changes.map((c) => [c.option, show(c.before), show(c.requested), show(c.after), note(c)]),
  ]));
  console.log(`\nquickAck read back after the transfer: ${show(quickAckNow)}`);

  const mib = received / (1 << 20);
  const rate = received / (elapsedMs / 1000) / (1 << 20);
  console.log(
    `\ntransferred ${received} bytes (${mib.toFixed(1)} MiB) in ${elapsedMs.toFixed(1)} ms` +
      ` (${rate.toFixed(0)} MiB/s)\n`,
  );
  console.log("TCP_INFO after the transfer:");
  console.log(table([
    ["field", "unit", "client (sender)", "server (receiver)"],
    ...INFO_FIELDS.map(([name, unit]) => [
      name,
      unit,
      showInfo(name, clientInfo[name]),
      showInfo(name, serverInfo[name]),
    ]),
  ]));
}

if (import.meta.main) await runCli(main, usage);
