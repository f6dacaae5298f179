/**
 * The side-by-side whole-program benchmark harness, re-exported from one place: start a server
 * pinned to core 0, drive it with `wrk` pinned to core 1, and read what the server process spent
 * from `/proc` around the run (CPU seconds per request, resident bytes per idle connection). See
 * "How we measure" in DESIGN.md.
 *
 * One concept per file:
 *
 * - `_rows.ts`: {@linkcode ComparisonRow}, {@linkcode comparisonRow}, the module shape;
 * - `stats.ts`: {@linkcode median}, {@linkcode medianSample} (the only statistics module);
 * - `children.ts`: {@linkcode runQuiet} and the registry of helper processes to kill;
 * - `proc.ts`: pinning, `/proc` CPU and RSS readers, core and machine-wide busy seconds;
 * - `servers.ts`: {@linkcode startServer}, {@linkcode ServerProcess}, {@linkcode killAllServers};
 * - `wrk.ts`: {@linkcode ensureWrk}, {@linkcode runWrk}, {@linkcode measureLoad};
 * - `idle.ts`: {@linkcode measureIdleConnections};
 * - `machine.ts`: {@linkcode machineInfo};
 * - `runner.ts`: {@linkcode runComparisonMain}, the one `main` of every `*_compare.ts`.
 *
 * Run with `-A`: Deno asks for `--allow-all` to read another process's `/proc/PID` files, and
 * the harness spawns servers, wrk and taskset anyway. Everything is bounded: loopback only, fixed
 * durations, a timeout on every child process, and every server and helper is killed at the end,
 * on error too.
 *
 * @example
 * ```ts ignore
 * import { measureLoad, startServer } from "./lib.ts";
 *
 * await using server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * const load = await measureLoad(server, { connections: 50, durationSeconds: 3 });
 * console.log(`${load.cpuUsPerRequest.toFixed(2)} us CPU per request`);
 * ```
 *
 * @module
 */

export * from "./_rows.ts";
export * from "./stats.ts";
export * from "./children.ts";
export * from "./proc.ts";
export * from "./servers.ts";
export * from "./wrk.ts";
export * from "./idle.ts";
export * from "./machine.ts";
export * from "./runner.ts";
