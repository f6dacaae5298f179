/**
 * The servers under comparison: {@linkcode startServer} starts one pinned to the server core and
 * waits for its `listening on PORT` line; {@linkcode ServerProcess} reads what it spends from
 * `/proc` and stops it; {@linkcode killAllServers} is the one clean-up that ends every server and
 * every tracked helper process, on ^C, on exit and from a last `finally`.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./servers.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * console.log(server.url, await server.cpuSeconds());
 * ```
 *
 * @module
 */
import { delay, killTrackedChildren, lineSplitter } from "./children.ts";
import {
  detectPinning,
  isProcessAlive,
  processTree,
  treeCpuSeconds,
  treeRssBytes,
} from "./proc.ts";

/**
 * A server to compare. Its command takes `--port N` and `--host ADDR` (appended by
 * {@linkcode startServer}) and prints `listening on PORT` to stdout when ready.
 *
 * @example
 * ```ts
 * import type { ServerSpec } from "./servers.ts";
 *
 * const node: ServerSpec = { name: "node:http", command: ["node", "bench/load/servers/node_http.mjs"] };
 * console.log(node.name);
 * ```
 */
export interface ServerSpec {
  /** Display name, e.g. "Deno.serve". */
  name: string;
  /** Program and arguments, without `--port`/`--host`. */
  command: string[];
  /** Working directory; default the current one. */
  cwd?: string;
}

/** Options of {@linkcode startServer}. */
export interface StartServerOptions {
  /** Loopback address to bind. Default "127.0.0.1". */
  host?: string;
  /** How long to wait for `listening on PORT`. Default 20 s. */
  readyTimeoutMs?: number;
}

const liveServers = new Set<ServerProcess>();
let exitHooksInstalled = false;

/**
 * Makes ^C, SIGTERM and the process's unload run {@linkcode killAllServers}, once per process:
 * a benchmark interrupted or killed by a timeout must not leave servers behind.
 * {@linkcode startServer} and the comparison runner call it; calling it again does nothing.
 *
 * @example
 * ```ts ignore
 * import { installExitHooks } from "./servers.ts";
 *
 * installExitHooks();
 * ```
 */
export function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // A benchmark interrupted by ^C or killed by a timeout must not leave servers behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      killAllServers();
      Deno.exit(130);
    });
  }
  globalThis.addEventListener("unload", killAllServers);
}

/**
 * Kills every server started by {@linkcode startServer} that is still running, and every helper
 * process still running (wrk, the idle client, transfer peers: see `trackChild` in
 * `children.ts`), SIGKILL, no waiting. Installed as a ^C and
 * unload hook; call it from a last `finally` as well.
 *
 * @example
 * ```ts
 * import { killAllServers } from "./servers.ts";
 *
 * try {
 *   // ... benchmark ...
 * } finally {
 *   killAllServers();
 * }
 * ```
 */
export function killAllServers(): void {
  for (const server of liveServers) server.killNow();
  killTrackedChildren();
}

/**
 * A running server started by {@linkcode startServer}: its pid and port, `/proc` readings, and
 * `stop()` (also run by `await using`).
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./servers.ts";
 *
 * await using server = await startServer({
 *   name: "node:http",
 *   command: ["node", "bench/load/servers/node_http.mjs"],
 * });
 * console.log(server.port, await server.cpuSeconds(), await server.rssBytes());
 * ```
 */
export class ServerProcess {
  /** Display name from the spec. */
  readonly name: string;
  /** The port it printed. */
  readonly port: number;
  /** Address it was bound to. */
  readonly host: string;
  #child: Deno.ChildProcess;
  #stderrTail: () => string;
  #stopped = false;

  /** Use {@linkcode startServer}. */
  constructor(
    name: string,
    host: string,
    port: number,
    child: Deno.ChildProcess,
    stderrTail: () => string,
  ) {
    this.name = name;
    this.host = host;
    this.port = port;
    this.#child = child;
    this.#stderrTail = stderrTail;
  }

  /** Process id (taskset execs the server, so this is the server itself). */
  get pid(): number {
    return this.#child.pid;
  }

  /** `http://HOST:PORT/`. */
  get url(): string {
    return `http://${this.host}:${this.port}/`;
  }

  /** Last lines the server wrote to stderr, for error messages. */
  stderrTail(): string {
    return this.#stderrTail();
  }

  /** CPU seconds spent so far by the server and its descendants, every thread. */
  cpuSeconds(): Promise<number> {
    return treeCpuSeconds(this.pid);
  }

  /** Resident bytes of the server and its descendants. */
  rssBytes(): Promise<number> {
    return treeRssBytes(this.pid);
  }

  /** Throws when the server has exited (it crashed under load). */
  assertAlive(): void {
    if (this.#stopped) throw new Error(`${this.name} was stopped`);
    if (!isProcessAlive(this.pid)) {
      throw new Error(`${this.name} exited during the run\n${this.stderrTail()}`);
    }
  }

  /** SIGKILL the server and its descendants now, without waiting. */
  killNow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    liveServers.delete(this);
    for (const pid of processTree(this.pid).reverse()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, wait up to 2 s, then SIGKILL; resolves when the process has exited. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    const descendants = processTree(this.pid).slice(1);
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 2_000)),
    ]);
    clearTimeout(timer);
    this.#stopped = true;
    liveServers.delete(this);
    for (const pid of exited ? descendants : [this.pid, ...descendants]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.#child.status;
  }

  /** Same as {@linkcode ServerProcess.stop}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts a server pinned to core 0 (see {@linkcode detectPinning}) with `--port 0 --host HOST`
 * appended, and waits for its `listening on PORT` line. On a timeout or early exit the process
 * is killed and the error carries its stderr.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./servers.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * console.log(`${server.name} on ${server.url}, pid ${server.pid}`);
 * ```
 */
export async function startServer(
  spec: ServerSpec,
  options: StartServerOptions = {},
): Promise<ServerProcess> {
  installExitHooks();
  const host = options.host ?? "127.0.0.1";
  const pinning = await detectPinning();
  const [program, ...args] = [
    ...pinning.server,
    ...spec.command,
    "--port",
    "0",
    "--host",
    host,
  ];
  const child = new Deno.Command(program!, {
    args,
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  // Drain stderr in the background (a full pipe would stall the server); keep the last 4 KiB.
  let stderr = "";
  const stderrDone = (async () => {
    const stream = child.stderr.pipeThrough(new TextDecoderStream());
    for await (const chunk of stream) stderr = (stderr + chunk).slice(-4096);
  })().catch(() => {});
  const stderrTail = (): string => stderr.trim();

  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  const reader = lines.getReader();
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    while (true) {
      const next = await Promise.race([reader.read(), timedOut]);
      if (next === "timeout") {
        throw new Error(`${spec.name}: no "listening on PORT" line within ${timeoutMs} ms`);
      }
      if (next.done) {
        await Promise.race([stderrDone, delay(200)]);
        throw new Error(`${spec.name} exited before listening\n${stderrTail()}`);
      }
      const match = /^listening on (\d+)\s*$/.exec(next.value);
      if (match) {
        const server = new ServerProcess(spec.name, host, Number(match[1]), child, stderrTail);
        liveServers.add(server);
        // Keep reading stdout so a chatty server never blocks on a full pipe.
        (async () => {
          while (!(await reader.read()).done) { /* discard */ }
        })().catch(() => {});
        return server;
      }
    }
  } catch (error) {
    // The whole tree: a wrapper's children would otherwise hold the pipes (and the port) open.
    for (const pid of processTree(child.pid).reverse()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await child.status;
    reader.releaseLock();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
