/**
 * Sends a file (or a byte range of it) to a TCP receiver with sendfile(2), drawing a progress bar
 * on stderr when stdout is a terminal and the transfer is large (8 MiB or more).
 *
 * ```sh
 * nc -l 127.0.0.1 9000 > copy.iso &
 * deno run --allow-ffi --allow-net --allow-read --allow-env examples/send_file.ts \
 *   --to 127.0.0.1:9000 big.iso
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { integerFlag, runCli, UsageError } from "./_cli.ts";
import { openFile, sendFile, TcpStream } from "../mod.ts";

const usage = `usage: deno run --allow-ffi --allow-net --allow-read --allow-env \\
         examples/send_file.ts --to HOST:PORT [--offset N] [--length N] FILE

Connects to HOST:PORT, sends FILE (or LENGTH bytes from OFFSET) by sendfile(2), closes.
A progress bar goes to stderr when stdout is a terminal and the transfer is 8 MiB or more.

options:
  --to HOST:PORT  receiver (required)
  --offset N      first byte to send (default 0)
  --length N      bytes to send (default: to the end of the file)
  -h, --help      this text`;

const BAR_THRESHOLD = 8 * 1024 * 1024;

/** Formats a byte count with a binary unit: "512 B", "3.4 MiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** One line of progress: `[#####-----]  50%  5.0 MiB / 10.0 MiB  80.0 MiB/s`. */
export function progressLine(sent: number, total: number, seconds: number, width = 30): string {
  const fraction = total > 0 ? sent / total : 1;
  const filled = Math.round(fraction * width);
  const rate = seconds > 0 ? `${formatBytes(sent / seconds)}/s` : "";
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
    `${String(Math.floor(fraction * 100)).padStart(3)}%  ` +
    `${formatBytes(sent)} / ${formatBytes(total)}  ${rate}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      to: { type: "string" },
      offset: { type: "string", default: "0" },
      length: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const path = positionals[0];
  const to = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(values.to ?? "");
  if (path === undefined) throw new UsageError("no FILE given");
  if (!to) throw new UsageError(`--to must be HOST:PORT, got ${values.to ?? "nothing"}`);
  // Every flag is checked before anything is opened or connected.
  const offset = integerFlag("offset", values.offset, 0, Number.MAX_SAFE_INTEGER);
  const length = values.length === undefined
    ? undefined
    : integerFlag("length", values.length, 0, Number.MAX_SAFE_INTEGER);

  using file = openFile(path);
  using conn = await TcpStream.connect({ hostname: to[1] ?? to[2]!, port: Number(to[3]) });
  const total = length ?? file.size - offset;
  const showBar = Deno.stdout.isTerminal() && total >= BAR_THRESHOLD;
  const encoder = new TextEncoder();
  const started = performance.now();
  let lastDraw = 0;
  const draw = (sent: number): void => {
    const line = progressLine(sent, total, (performance.now() - started) / 1000);
    Deno.stderr.writeSync(encoder.encode(`\r${line}`));
  };
  const sent = await sendFile(conn, file, {
    offset,
    ...(length !== undefined ? { length } : {}),
    ...(showBar
      ? {
        onProgress: (s: number) => {
          const now = performance.now();
          if (now - lastDraw >= 100) { // at most ten redraws a second
            lastDraw = now;
            draw(s);
          }
        },
      }
      : {}),
  });
  if (showBar) {
    draw(sent);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  conn.closeWrite();
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `sent ${sent} bytes in ${seconds.toFixed(2)} s (${
      formatBytes(sent / Math.max(seconds, 1e-6))
    }/s)`,
  );
}

if (import.meta.main) await runCli(main, usage);
