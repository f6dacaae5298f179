/**
 * The epoll HTTP/1.1 keep-alive server, done right: every complete request of a read parsed and
 * answered in order (pipelining), the batch's responses written in one call, limits and timeouts
 * against slow or malformed clients, a connection cap with backpressure, graceful shutdown on
 * SIGINT/SIGTERM, and `--workers N` threads sharing the port through SO_REUSEPORT.
 *
 * Routes: `/` answers "Hello, World!" (text/plain), `/echo` echoes the request body, `/thread`
 * names the thread that answered ("main" or "worker N"), anything else is 404.
 *
 * ```sh
 * deno run --allow-ffi --allow-net --allow-read --allow-env examples/http_server.ts --port 8080
 * curl -d hi http://127.0.0.1:8080/echo
 * ```
 *
 * `--backend uring` runs the reactor on io_uring (`--backend epoll` on epoll; by default
 * `NETIO_BACKEND`, else epoll); where io_uring is missing or refused it falls back to epoll and
 * says why on stderr.
 *
 * The server core (parsing, batching, limits, deadlines) is `serveHttp` in lib/http/server.ts (the `@netio/netio/http` subpath, ../http.ts here).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runCli, UsageError } from "./_cli.ts";
import {
  FixedResponse,
  type HttpRequest,
  type HttpResponse,
  type HttpServer,
  Reactor,
  serveHttp,
  TcpListener,
} from "../mod.ts";

const usage = `usage: deno run --allow-ffi --allow-net --allow-read --allow-env \\
         examples/http_server.ts [options]

An HTTP/1.1 keep-alive server on netio's reactor. Routes: / (Hello, World!),
/echo (echoes the request body), /thread (which thread answered), anything else 404.
Prints 'listening on PORT' when ready;
SIGINT/SIGTERM shut it down gracefully (a second signal exits at once).

options:
  --host ADDR              address to bind (default 127.0.0.1)
  --port N                 port, 0 for any free one (default 8080)
  --max-connections N      connections served at once (per worker); beyond it clients
                           wait in the backlog (default: the fd limit minus a reserve)
  --idle-timeout-ms MS     close keep-alive connections idle this long (default 75000; 0 off)
  --header-timeout-ms MS   a request head must arrive within this long (default 10000; 0 off)
  --workers N              N worker threads, each with its own reactor and SO_REUSEPORT
                           listener on the same port (default 1: serve on the main thread)
  --backend NAME           the reactor's backend: epoll or uring (io_uring); default
                           NETIO_BACKEND when set, else epoll. Where io_uring is missing
                           or refused the server runs on epoll and says why on stderr
  --access-log             print one line per response (off by default)
  -h, --help               this text`;

// -------------------------------------------------------------------------------------------
// The application

const TEXT = Object.freeze({ "Content-Type": "text/plain" });
const BINARY = Object.freeze({ "Content-Type": "application/octet-stream" });
const hello = new FixedResponse(200, { headers: TEXT, body: "Hello, World!" });
const notFound = new FixedResponse(404, { headers: TEXT, body: "Not Found\n" });

/**
 * The routes of one server thread; synchronous, so the whole batch is answered in one pass.
 * `/thread` names the thread that answered ("main", or "worker N" with `--workers`).
 */
function routes(thread: string): (request: HttpRequest) => HttpResponse {
  const whoami = new FixedResponse(200, { headers: TEXT, body: thread });
  return (request) => {
    const path = request.path;
    if (path === "/") return hello;
    if (path === "/echo") return { status: 200, headers: BINARY, body: request.body };
    if (path === "/thread") return whoami;
    return notFound;
  };
}

interface Settings {
  host: string;
  port: number;
  maxConnections: number | undefined;
  idleTimeoutMs: number;
  headerTimeoutMs: number;
  accessLog: boolean;
  reusePort: boolean;
  /** The reactor's backend from `--backend`; undefined: NETIO_BACKEND, else the default. */
  backend: "epoll" | "uring" | undefined;
  /** Which thread serves: "main" or "worker N". */
  thread: string;
}

/**
 * The reactor of one server thread: one with the backend asked for, or the default one. A
 * fallback (io_uring missing or refused) is said on stderr, once per thread.
 */
function reactorFor(settings: Settings): Reactor {
  const reactor = settings.backend === undefined
    ? Reactor.default()
    : new Reactor({ backend: settings.backend });
  const reason = reactor.backendInfo().fallbackReason;
  if (reason !== undefined) {
    console.error(settings.thread === "main" ? reason : `${settings.thread}: ${reason}`);
  }
  return reactor;
}

function start(settings: Settings): HttpServer {
  return serveHttp({
    reactor: reactorFor(settings),
    handler: routes(settings.thread),
    hostname: settings.host,
    port: settings.port,
    ...(settings.maxConnections !== undefined ? { maxConnections: settings.maxConnections } : {}),
    idleTimeoutMs: settings.idleTimeoutMs,
    headerTimeoutMs: settings.headerTimeoutMs,
    reusePort: settings.reusePort,
    ...(settings.accessLog ? { accessLog: (line: string) => console.log(line) } : {}),
  });
}

/** Grace period for requests in flight at shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;

// -------------------------------------------------------------------------------------------
// Worker threads (`--workers N`): this same file, run in a Worker.

type ToWorker = { type: "start"; settings: Settings } | { type: "shutdown" };
type FromWorker = { type: "listening"; port: number } | { type: "error"; message: string } | {
  type: "closed";
};

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
  close(): void;
}

function runWorker(scope: WorkerScope): void {
  let server: HttpServer | undefined;
  scope.onmessage = async (event) => {
    const message = event.data;
    if (message.type === "start") {
      try {
        server = start(message.settings);
        scope.postMessage({ type: "listening", port: server.addr.port });
      } catch (error) {
        scope.postMessage({ type: "error", message: String(error) });
      }
    } else if (message.type === "shutdown") {
      await server?.shutdown({ timeoutMs: SHUTDOWN_GRACE_MS });
      scope.postMessage({ type: "closed" });
      scope.close();
    }
  };
}

// -------------------------------------------------------------------------------------------
// The main thread

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`--${name} must be an integer in ${min}..${max}, got ${text}`);
  }
  return value;
}

function parseSettings(args: string[]): { settings: Settings; workers: number } | null {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
      "max-connections": { type: "string" },
      "idle-timeout-ms": { type: "string", default: "75000" },
      "header-timeout-ms": { type: "string", default: "10000" },
      workers: { type: "string", default: "1" },
      backend: { type: "string" },
      "access-log": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const workers = integer("workers", values.workers, 1, 256);
  const backend = values.backend;
  if (backend !== undefined && backend !== "epoll" && backend !== "uring") {
    throw new RangeError(`--backend must be epoll or uring, got ${backend}`);
  }
  return {
    workers,
    settings: {
      host: values.host,
      port: integer("port", values.port, 0, 65535),
      maxConnections: values["max-connections"] === undefined
        ? undefined
        : integer("max-connections", values["max-connections"], 1, 1_000_000),
      idleTimeoutMs: integer("idle-timeout-ms", values["idle-timeout-ms"], 0, 2 ** 31 - 1),
      headerTimeoutMs: integer("header-timeout-ms", values["header-timeout-ms"], 0, 2 ** 31 - 1),
      accessLog: values["access-log"],
      reusePort: workers > 1,
      backend,
      thread: "main",
    },
  };
}

/** Calls `onFirst` on the first SIGINT/SIGTERM; a second one exits at once. */
function onSignals(onFirst: () => Promise<void>): void {
  let signalled = false;
  const handle = (): void => {
    if (signalled) Deno.exit(130);
    signalled = true;
    onFirst().then(() => Deno.exit(0), (error) => {
      console.error(error);
      Deno.exit(1);
    });
  };
  Deno.addSignalListener("SIGINT", handle);
  Deno.addSignalListener("SIGTERM", handle);
}

async function startWorkers(settings: Settings, count: number): Promise<Worker[]> {
  // Bind first to learn the port (for --port 0); the workers join it through SO_REUSEPORT. The
  // probe closes before the port is announced, so no client can land in its backlog.
  const probe = TcpListener.bind({ hostname: settings.host, port: settings.port, reusePort: true });
  const port = probe.addr.port;
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(import.meta.url, { type: "module" });
      workers.push(worker);
      const ready = new Promise<void>((resolve, reject) => {
        worker.onmessage = (event: MessageEvent<FromWorker>) => {
          if (event.data.type === "listening") resolve();
          else if (event.data.type === "error") reject(new Error(event.data.message));
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(event.message));
        };
      });
      worker.postMessage(
        {
          type: "start",
          settings: { ...settings, port, thread: `worker ${i + 1}` },
        } satisfies ToWorker,
      );
      await ready;
    }
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  } finally {
    probe.close();
  }
  console.log(`listening on ${port}`);
  return workers;
}

function stopWorkers(workers: Worker[]): Promise<void> {
  return Promise.all(workers.map((worker) =>
    new Promise<void>((resolve) => {
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        if (event.data.type === "closed") resolve();
      };
      worker.postMessage({ type: "shutdown" } satisfies ToWorker);
    })
  )).then(() => {});
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseSettings>;
  try {
    parsed = parseSettings(Deno.args);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed === null) {
    console.log(usage);
    return;
  }
  const { settings, workers } = parsed;
  if (workers > 1) {
    // The handlers go in before the workers start: a signal during startup ends the process at
    // once (exit takes the workers with it) instead of being lost.
    const started: { threads?: Worker[] } = {};
    onSignals(() => started.threads ? stopWorkers(started.threads) : Promise.resolve());
    started.threads = await startWorkers(settings, workers);
    return;
  }
  const server = start(settings);
  console.log(`listening on ${server.addr.port}`);
  onSignals(() => server.shutdown({ timeoutMs: SHUTDOWN_GRACE_MS }));
}

const scope = globalThis as unknown as { WorkerGlobalScope?: new () => unknown };
if (scope.WorkerGlobalScope !== undefined && globalThis instanceof scope.WorkerGlobalScope) {
  runWorker(globalThis as unknown as WorkerScope);
} else if (import.meta.main) {
  await runCli(main, usage);
}
