/**
 * The one way the harness builds a `deno run` command line for a server or helper it starts:
 * {@linkcode denoRun}, with {@linkcode NETIO_PERMISSIONS}, what a netio program needs.
 *
 * @example
 * ```ts
 * import { denoRun, NETIO_PERMISSIONS } from "./deno_run.ts";
 *
 * const command = denoRun("bench/load/servers/echo_netio.ts", {
 *   permissions: NETIO_PERMISSIONS,
 *   env: { NETIO_BACKEND: "epoll" },
 * });
 * console.log(command.slice(0, 3)); // [ "env", "NETIO_BACKEND=epoll", <deno> ]
 * ```
 *
 * @module
 */

/**
 * What a netio program is granted: FFI (libc), the network, reading files, and the environment
 * (`NETIO_BACKEND` is read only when env access is granted, so a program run without
 * `--allow-env` keeps the default backend whatever the environment says).
 */
export const NETIO_PERMISSIONS: readonly string[] = [
  "--allow-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-env",
];

/** Options of {@linkcode denoRun}. */
export interface DenoRunOptions {
  /** The `--allow-*` flags. Default none. */
  permissions?: readonly string[];
  /** Arguments after the script. */
  args?: readonly string[];
  /**
   * Environment variables to set, through `env` (which execs, so the pid stays the program's:
   * what the harness reads from `/proc/PID` is the Deno process's).
   */
  env?: Readonly<Record<string, string>>;
}

/**
 * `[env K=V ...] deno run PERMISSIONS SCRIPT ARGS`, with this process's Deno.
 *
 * @example
 * ```ts
 * import { denoRun } from "./deno_run.ts";
 *
 * const command = denoRun("bench/load/servers/deno_serve.ts", { permissions: ["--allow-net"] });
 * console.log(command.slice(1)); // [ "run", "--allow-net", "bench/load/servers/deno_serve.ts" ]
 * ```
 */
export function denoRun(script: string, options: DenoRunOptions = {}): string[] {
  const env = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
  return [
    ...(env.length > 0 ? ["env", ...env] : []),
    Deno.execPath(),
    "run",
    ...(options.permissions ?? []),
    script,
    ...(options.args ?? []),
  ];
}
