/**
 * Many HTTP/1.1 GET requests through a {@linkcode ConnectionPool}: `--concurrency` workers share
 * at most `--max-connections` keep-alive connections, each response is read with the
 * `ResponseParser` of `@netio/netio/http` (../http.ts), and the end prints requests per second, latency percentiles
 * and the pool's statistics. `--new-connection-per-request` runs the same load without the pool
 * (connect, one request with `Connection: close`, close), for comparison.
 *
 * ```sh
 * deno run --allow-ffi --allow-net examples/pooled_client.ts --serve
 * deno run --allow-ffi --allow-net examples/pooled_client.ts --url http://127.0.0.1:8080/ -n 50000 -c 32
 * ```
 *
 * A GET on a reused connection that fails before any byte of its response arrived is retried
 * once on another connection, as Go's and undici's clients do: the server may have closed the
 * idle connection just as the request left (the keep-alive race no health check can close).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { installCliErrors } from "./_cli.ts";
import {
  ConnectionPool,
  FixedResponse,
  type Lease,
  type PoolStats,
  TcpListener,
  TcpStream,
} from "../mod.ts";
import { INCOMPLETE, PARSE_ERROR, RequestParser, ResponseParser } from "../http.ts";

const usage = `usage: deno run --allow-ffi --allow-net examples/pooled_client.ts [options]

Sends HTTP/1.1 GET requests through netio's connection pool and prints req/s, latency and the
pool's statistics.

options:
  --url URL                   target: http://HOST:PORT/PATH or HOST:PORT (default: --serve)
  --serve                     start a small netio HTTP server in this process and target it
  -n, --requests N            requests to send (default 10000)
  --duration-seconds S        stop starting requests after S seconds (default: no limit)
  -c, --concurrency C         requests in flight at once (default 16)
  --max-connections M         pool size (default: the concurrency)
  --new-connection-per-request  no pool: connect, one request (Connection: close), close
  --json                      print the result as one JSON line
  -h, --help                  this text`;

// -------------------------------------------------------------------------------------------
// Arguments

installCliErrors(usage);
const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    serve: { type: "boolean", default: false },
    requests: { type: "string", short: "n", default: "10000" },
    "duration-seconds": { type: "string" },
    concurrency: { type: "string", short: "c", default: "16" },
    "max-connections": { type: "string" },
    "new-connection-per-request": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(usage);
  Deno.exit(0);
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${text}\n\n${usage}`);
    Deno.exit(2);
  }
  return n;
}

const requests = positive("requests", values.requests);
const concurrency = positive("concurrency", values.concurrency);
const maxConnections = values["max-connections"] === undefined
  ? concurrency
  : positive("max-connections", values["max-connections"]);
const durationMs = values["duration-seconds"] === undefined
  ? Infinity
  : Number(values["duration-seconds"]) * 1000;
if (!(durationMs > 0)) {
  console.error(`--duration-seconds must be positive\n\n${usage}`);
  Deno.exit(2);
}
const perRequest = values["new-connection-per-request"];

/** HOST:PORT/PATH from `http://host:port/path` or `host:port`. */
function parseTarget(text: string): { hostname: string; port: number; path: string } {
  const url = new URL(text.includes("://") ? text : `http://${text}`);
  if (url.protocol !== "http:") throw new TypeError(`only http:// URLs, got ${text}`);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  return { hostname, port: Number(url.port || 80), path: url.pathname + url.search };
}

// -------------------------------------------------------------------------------------------
// A small in-process server for --serve: keep-alive, pipelining-safe, "Hello, World!".

function serve(): { port: number; close: () => void } {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const hello = new FixedResponse(200, {
    headers: { "Content-Type": "text/plain" },
    body: "Hello, World!",
  });
  const connections = new Set<TcpStream>();
  const handle = async (stream: TcpStream): Promise<void> => {
    connections.add(stream);
    const parser = new RequestParser();
    let buf = new Uint8Array(16384);
    let end = 0;
    try {
      stream.setNoDelay(true);
      for (;;) {
        const n = await stream.read(buf.subarray(end));
        if (n === null) return;
        end += n;
        let start = 0;
        for (;;) {
          const r = parser.parse(buf, start, end);
          if (r === INCOMPLETE) break;
          if (r === PARSE_ERROR) return;
          await stream.writeAll(hello.bytes(parser.keepAlive));
          if (!parser.keepAlive) return;
          start += r;
        }
        buf.copyWithin(0, start, end);
        end -= start;
        if (end === buf.length) buf = growTo(buf, buf.length * 2, end);
      }
    } catch {
      // a reset or a closed stream ends this connection
    } finally {
      connections.delete(stream);
      stream.close();
    }
  };
  (async () => {
    for await (const stream of listener) handle(stream);
  })();
  return {
    port: listener.addr.port,
    close: () => {
      listener.close();
      for (const stream of connections) stream.close();
    },
  };
}

function growTo(buf: Uint8Array, size: number, keep: number): Uint8Array<ArrayBuffer> {
  const bigger = new Uint8Array(size);
  bigger.set(buf.subarray(0, keep));
  return bigger;
}

// -------------------------------------------------------------------------------------------
// The client

const server = values.url === undefined || values.serve ? serve() : undefined;
const target = server
  ? { hostname: "127.0.0.1", port: server.port, path: "/" }
  : parseTarget(values.url!);
const authority = target.hostname.includes(":")
  ? `[${target.hostname}]:${target.port}`
  : `${target.hostname}:${target.port}`;
const encoder = new TextEncoder();
const keepAliveRequest = encoder.encode(
  `GET ${target.path} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: netio-pooled-client\r\n\r\n`,
);
const closeRequest = encoder.encode(
  `GET ${target.path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`,
);

const pool = perRequest ? undefined : new ConnectionPool({
  maxConnections,
  maxPendingAcquires: Infinity,
  tune: { noDelay: true },
});

/** Why a request failed, and whether its bytes could have reached the server's application. */
class RequestError extends Error {
  /** True when no byte of a response arrived (so a GET may be retried). */
  readonly beforeResponse: boolean;
  constructor(message: string, beforeResponse: boolean, options?: ErrorOptions) {
    super(message, options);
    this.beforeResponse = beforeResponse;
  }
}

/** One worker's reusable state: its read buffer and parser. */
class Worker {
  buf = new Uint8Array(16384);
  parser = new ResponseParser();

  /**
   * Sends one request on `conn` and reads its response; returns the status and whether the
   * connection may be kept. Written for any `Deno.Conn`: the pool's leases hand it netio
   * TcpStreams, which are `Deno.TcpConn`s, and a `Deno.connect()` connection would do as well.
   */
  async exchange(conn: Deno.Conn, request: Uint8Array): Promise<[number, boolean]> {
    const parser = this.parser;
    parser.reset();
    try {
      for (let off = 0; off < request.length;) off += await conn.write(request.subarray(off));
    } catch (error) {
      throw new RequestError("write failed", true, { cause: error });
    }
    let end = 0;
    for (;;) {
      if (end === this.buf.length) this.buf = growTo(this.buf, this.buf.length * 2, end);
      let n: number | null;
      try {
        n = await conn.read(this.buf.subarray(end));
      } catch (error) {
        throw new RequestError("read failed", end === 0, { cause: error });
      }
      if (n === null) {
        const r = parser.finish(this.buf, 0, end);
        if (r > 0 && r === end) return [parser.status, false];
        throw new RequestError("connection closed before the response", end === 0);
      }
      end += n;
      const r = parser.parse(this.buf, 0, end);
      if (r === INCOMPLETE) continue;
      if (r === PARSE_ERROR) throw new RequestError(`bad response: ${parser.errorReason}`, false);
      // Bytes after the response: the connection is out of step and cannot be reused.
      return [parser.status, parser.keepAlive && r === end];
    }
  }

  /** One request through the pool, retried once when a reused connection died under it. */
  async pooled(): Promise<number> {
    for (let attempt = 0;; attempt++) {
      const lease: Lease = await pool!.acquire(target);
      try {
        const [status, keep] = await this.exchange(lease.stream, keepAliveRequest);
        if (keep) lease.release();
        else lease.destroy();
        return status;
      } catch (error) {
        lease.destroy();
        if (
          error instanceof RequestError && error.beforeResponse && lease.reused && attempt === 0
        ) {
          retries++;
          continue;
        }
        throw error;
      }
    }
  }

  /** One request on a connection of its own. */
  async unpooled(): Promise<number> {
    using stream = await TcpStream.connect(target);
    stream.setNoDelay(true);
    const [status] = await this.exchange(stream, closeRequest);
    return status;
  }
}

let started = 0;
let completed = 0;
let failed = 0;
let retries = 0;
let non2xx = 0;
let firstError: unknown;
const latencies = new Float64Array(requests);
const startedAt = performance.now();
const deadline = startedAt + durationMs;

async function run(worker: Worker): Promise<void> {
  while (started < requests && performance.now() < deadline) {
    started++;
    const t0 = performance.now();
    try {
      const status = perRequest ? await worker.unpooled() : await worker.pooled();
      if (status < 200 || status > 399) non2xx++;
      latencies[completed++] = performance.now() - t0;
    } catch (error) {
      failed++;
      firstError ??= error;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, () => run(new Worker())));
const seconds = (performance.now() - startedAt) / 1000;
const stats: PoolStats | undefined = pool?.stats();
await pool?.close();
server?.close();

const sorted = latencies.subarray(0, completed).sort();
const percentile = (p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const result = {
  mode: perRequest ? "new connection per request" : "pool",
  target: `http://${authority}${target.path}`,
  requests: completed,
  failed,
  retries,
  non2xx,
  seconds,
  requestsPerSecond: completed / seconds,
  latencyMs: { p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99) },
  concurrency,
  maxConnections: perRequest ? null : maxConnections,
  pool: stats ? { ...stats, hosts: undefined } : null,
};

if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`${result.mode}: ${result.target}, concurrency ${concurrency}`);
  console.log(
    `${completed} requests in ${seconds.toFixed(2)} s: ${
      result.requestsPerSecond.toFixed(0)
    } req/s, ${failed} failed, ${retries} retried, ${non2xx} non-2xx/3xx`,
  );
  console.log(
    `latency p50 ${result.latencyMs.p50.toFixed(3)} ms, p90 ${
      result.latencyMs.p90.toFixed(3)
    } ms, p99 ${result.latencyMs.p99.toFixed(3)} ms`,
  );
  if (stats) {
    console.log(
      `pool: ${stats.created} connections opened, ${stats.reused} reuses, ` +
        `${stats.staleReplaced} stale replaced, ${stats.idleEvicted} evicted, ` +
        `${stats.timeouts} timeouts, ${stats.connectFailures} connect failures`,
    );
  }
  if (firstError !== undefined) console.error("first error:", firstError);
}
if (failed > 0) Deno.exitCode = 1;
