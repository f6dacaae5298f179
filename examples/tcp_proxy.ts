/**
 * A TCP proxy: listens, opens one upstream connection per client, and relays both directions
 * with splice(2) through pooled pipes, so the bytes never enter JavaScript. Half-closes are
 * passed on; each connection logs its byte counts when it ends.
 *
 * ```sh
 * deno run --allow-ffi --allow-net --allow-env examples/tcp_proxy.ts \
 *   --listen-port 9000 --upstream 127.0.0.1:8080
 * ```
 *
 * The proxy is also a module: `startProxy()` runs one in-process (the tests do).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { integerFlag, runCli, UsageError } from "./_cli.ts";
import { closeIdlePipes, proxy, TcpListener, TcpStream } from "../mod.ts";

const usage = `usage: deno run --allow-ffi --allow-net --allow-env examples/tcp_proxy.ts \\
         --upstream HOST:PORT [options]

Relays every connection to the upstream with splice(2); logs the bytes moved each way per
connection on stderr. Prints 'listening on PORT' when ready.

options:
  --upstream HOST:PORT     where to connect for each client (required)
  --listen-host ADDR       address to bind (default 127.0.0.1)
  --listen-port N          port to listen on, 0 for any free one (default 9000)
  --connect-timeout-ms MS  give up on an upstream connect after this long (default 10000)
  -h, --help               this text`;

/** Options of {@linkcode startProxy}. */
export interface ProxyServerOptions {
  /** Upstream host. */
  upstreamHost: string;
  /** Upstream port. */
  upstreamPort: number;
  /** Address to bind (default 127.0.0.1). */
  listenHost?: string;
  /** Port to listen on, 0 for any (default 9000). */
  listenPort?: number;
  /** Upstream connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** One line per finished connection. */
  log?: (line: string) => void;
}

/** A running proxy. */
export interface ProxyServer {
  /** The bound port. */
  port: number;
  /** Stops accepting, closes every relayed connection, resolves when all are done. */
  close(): Promise<void>;
}

/** Splits "host:port" (or "[v6]:port"). */
export function parseHostPort(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new TypeError(`expected HOST:PORT, got ${text}`);
  return { hostname: m[1] ?? m[2]!, port };
}

/** Starts the proxy; resolves once it listens. */
export function startProxy(options: ProxyServerOptions): Promise<ProxyServer> {
  const listener = TcpListener.bind({
    hostname: options.listenHost ?? "127.0.0.1",
    port: options.listenPort ?? 9000,
  });
  const log = options.log;
  const open = new Set<TcpStream>();
  const relays = new Set<Promise<void>>();
  let nextId = 1;

  const relay = async (client: TcpStream, id: number): Promise<void> => {
    const started = performance.now();
    let upstream: TcpStream | undefined;
    try {
      upstream = await TcpStream.connect({
        hostname: options.upstreamHost,
        port: options.upstreamPort,
        timeoutMs: options.connectTimeoutMs ?? 10_000,
      });
      open.add(upstream);
      const { aToB, bToA } = await proxy(client, upstream);
      const ms = (performance.now() - started).toFixed(0);
      log?.(
        `#${id} done: client->upstream ${aToB} bytes, upstream->client ${bToA} bytes, ${ms} ms`,
      );
    } catch (e) {
      log?.(`#${id} error: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (upstream) {
        open.delete(upstream);
        upstream.close();
      }
      open.delete(client);
      client.close();
    }
  };

  const accepting = (async () => {
    for await (const client of listener) {
      open.add(client);
      const p = relay(client, nextId++).finally(() => relays.delete(p));
      relays.add(p);
    }
  })();

  return Promise.resolve({
    port: listener.addr.port,
    async close(): Promise<void> {
      listener.close();
      await accepting;
      for (const s of open) s.close();
      await Promise.allSettled([...relays]);
      closeIdlePipes();
    },
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      upstream: { type: "string" },
      "listen-host": { type: "string", default: "127.0.0.1" },
      "listen-port": { type: "string", default: "9000" },
      "connect-timeout-ms": { type: "string", default: "10000" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values.upstream === undefined) throw new UsageError("--upstream is required");
  let upstream: { hostname: string; port: number };
  try {
    upstream = parseHostPort(values.upstream);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const port = integerFlag("listen-port", values["listen-port"], 0, 65535);
  const timeout = integerFlag("connect-timeout-ms", values["connect-timeout-ms"], 1, 2 ** 31 - 1);
  const server = await startProxy({
    upstreamHost: upstream.hostname,
    upstreamPort: upstream.port,
    listenHost: values["listen-host"],
    listenPort: port,
    connectTimeoutMs: timeout,
    log: (line) => console.error(line),
  });
  console.log(`listening on ${server.port}`);
  const stop = (): void => {
    server.close().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) await runCli(main, usage);
