/**
 * Idle keep-alive connection client for `measureIdleConnections` in `lib.ts`. It runs as its own
 * process because each process may hold only 20,000 fds here, and the server needs its own.
 *
 * Protocol (one JSON object per stdout line, commands on stdin):
 * - on `open`: opens `--count` connections, sends one `GET /` on each and reads the answer, then
 *   prints `{"event":"ready","opened":N,"answered":N,"failed":N,"seconds":S}` and holds them idle;
 * - on `again`: sends a second `GET /` on every connection, prints
 *   `{"event":"done","answered":N,"failed":N,"seconds":S}`;
 * - on end of stdin: closes everything and exits.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/load/idle_client.ts --port 8080 --count 2000
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
    count: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "200" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help || values.port === undefined) {
  console.log(
    "usage: deno run --allow-net=HOST bench/load/idle_client.ts --port N [--host ADDR]\n" +
      "       [--count N] [--concurrency N]\n" +
      "stdin commands: 'open', 'again'; reports one JSON object per stdout line",
  );
  Deno.exit(values.help ? 0 : 2);
}

const hostname = values.host;
const port = Number(values.port);
const count = Number(values.count);
const concurrency = Math.max(1, Math.min(Number(values.concurrency), count));
const request = new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
const headerEnd = new Uint8Array([13, 10, 13, 10]);

function report(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Sends one request and reads one Content-Length response; true on a 2xx answer. */
async function exchange(conn: Deno.Conn, buffer: Uint8Array): Promise<boolean> {
  let written = 0;
  while (written < request.length) written += await conn.write(request.subarray(written));
  let filled = 0;
  let bodyStart = -1;
  let total = -1;
  while (total < 0 || filled < total) {
    if (filled === buffer.length) return false; // larger than a hello answer: not what we test
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return false;
    filled += n;
    if (bodyStart < 0) {
      const end = indexOf(buffer.subarray(0, filled), headerEnd, 0);
      if (end < 0) continue;
      bodyStart = end + 4;
      const head = new TextDecoder().decode(buffer.subarray(0, end));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      total = bodyStart + Number(length?.[1] ?? 0);
      if (!/^HTTP\/1\.1 2\d\d /.test(head)) return false;
    }
  }
  return true;
}

const connections: (Deno.Conn | null)[] = new Array(count).fill(null);

/** Runs `task(i)` for every connection index, `concurrency` at a time. */
async function forEachConnection(
  task: (index: number, buffer: Uint8Array) => Promise<boolean>,
): Promise<{ answered: number; failed: number; seconds: number }> {
  const started = performance.now();
  let nextIndex = 0;
  let answered = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    const buffer = new Uint8Array(4096);
    while (nextIndex < count) {
      const index = nextIndex++;
      try {
        if (await task(index, buffer)) answered++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { answered, failed, seconds: (performance.now() - started) / 1000 };
}

async function open(): Promise<void> {
  const result = await forEachConnection(async (index, buffer) => {
    const conn = await Deno.connect({ hostname, port });
    connections[index] = conn;
    return await exchange(conn, buffer);
  });
  const opened = connections.filter((conn) => conn !== null).length;
  report({ event: "ready", opened, ...result });
}

async function again(): Promise<void> {
  const result = await forEachConnection((index, buffer) => {
    const conn = connections[index];
    return conn ? exchange(conn, buffer) : Promise.resolve(false);
  });
  report({ event: "done", ...result });
}

try {
  const commands = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  for await (const chunk of commands) {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const command = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (command === "open") await open();
      else if (command === "again") await again();
    }
  }
} catch (error) {
  report({ event: "error", error: String(error) });
} finally {
  for (const conn of connections) {
    try {
      conn?.close();
    } catch {
      // closed by the peer already
    }
  }
}
