/**
 * What processes and cores spent, read from `/proc`: CPU seconds and resident bytes of a process
 * (and of its descendants), busy seconds of one core or of the whole machine from `/proc/stat`,
 * plus how the harness pins the server and the load generator to cores.
 *
 * Deno asks for `--allow-all` (`-A`) to read another process's `/proc/PID` files; the readers
 * throw a clear error rather than return a silent zero.
 *
 * @example
 * ```ts ignore
 * import { machineBusySeconds, processCpuSeconds } from "./proc.ts";
 *
 * console.log(await processCpuSeconds(Deno.pid), await machineBusySeconds());
 * ```
 *
 * @module
 */
import { runQuiet } from "./children.ts";

/** CPU pinning prefixes: the server on one core, the load generator on another. */
export interface Pinning {
  /** Prefix for the server command, e.g. `["taskset", "-c", "0"]`, or `[]`. */
  server: string[];
  /** Prefix for the load generator (wrk, idle client), e.g. `["taskset", "-c", "1"]`, or `[]`. */
  client: string[];
  /** The core the server runs on, when pinned. */
  serverCore: number | null;
  /** Why pinning is off or partial, when it is. */
  warning?: string;
}

let pinningCache: Promise<Pinning> | undefined;

/**
 * Decides how to pin: server on core 0 and load on core 1 with `taskset` when there are two
 * cores or more; unpinned (with a warning) on one core or without taskset, where both sides
 * share the CPU and ratios mean less.
 *
 * @example
 * ```ts
 * import { detectPinning } from "./proc.ts";
 *
 * const pinning = await detectPinning();
 * console.log(pinning.server, pinning.client, pinning.warning ?? "pinned");
 * ```
 */
export function detectPinning(): Promise<Pinning> {
  pinningCache ??= (async (): Promise<Pinning> => {
    const cores = navigator.hardwareConcurrency;
    if (cores < 2) {
      return {
        server: [],
        client: [],
        serverCore: null,
        warning: `only ${cores} core: server and load generator share it, unpinned`,
      };
    }
    for (const core of ["0", "1"]) {
      const probe = await runQuiet(["taskset", "-c", core, "true"]);
      if (probe === null) {
        return {
          server: [],
          client: [],
          serverCore: null,
          warning: "taskset not found: running unpinned",
        };
      }
      if (probe.code !== 0) {
        return {
          server: [],
          client: [],
          serverCore: null,
          warning: `taskset -c ${core} failed (${probe.stderr.trim()}): running unpinned`,
        };
      }
    }
    return { server: ["taskset", "-c", "0"], client: ["taskset", "-c", "1"], serverCore: 0 };
  })();
  return pinningCache;
}

let clockTicksCache: Promise<number> | undefined;

/**
 * Clock ticks per second of `/proc/PID/stat` times, from `getconf CLK_TCK` (100 almost
 * everywhere).
 *
 * @example
 * ```ts
 * import { clockTicksPerSecond } from "./proc.ts";
 *
 * console.log(await clockTicksPerSecond()); // 100
 * ```
 */
export function clockTicksPerSecond(): Promise<number> {
  clockTicksCache ??= (async (): Promise<number> => {
    const result = await runQuiet(["getconf", "CLK_TCK"]);
    const ticks = Number(result?.stdout.trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  })();
  return clockTicksCache;
}

/**
 * The process and all its descendants (a server started through a wrapper still counts whole).
 *
 * @example
 * ```ts ignore
 * import { processTree } from "./proc.ts";
 *
 * console.log(processTree(Deno.pid).includes(Deno.pid)); // true
 * ```
 */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const parent = all[i]!;
    let tasks: string[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${parent}/task`)].map((entry) => entry.name);
    } catch (error) {
      rethrowProcPermission(error, `/proc/${parent}/task`);
      continue; // exited meanwhile
    }
    for (const task of tasks) {
      try {
        const children = Deno.readTextFileSync(`/proc/${parent}/task/${task}/children`);
        for (const child of children.trim().split(/\s+/)) {
          if (child !== "") all.push(Number(child));
        }
      } catch (error) {
        rethrowProcPermission(error, `/proc/${parent}/task/${task}/children`);
        // thread exited, or the kernel lacks CONFIG_PROC_CHILDREN: the process alone counts
      }
    }
  }
  return all;
}

/**
 * Deno asks for `--allow-all` to read `/proc/PID` files and `/proc/stat` (`--allow-read` is not
 * enough); a silent zero would make every figure wrong, so say so.
 */
function rethrowProcPermission(error: unknown, path: string): void {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    throw new Error(
      `cannot read ${path}: Deno needs --allow-all (-A) to read /proc files`,
      { cause: error },
    );
  }
}

async function readProcFile(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    rethrowProcPermission(error, path);
    return null; // the process is gone
  }
}

/**
 * CPU seconds (user + system, every thread) spent so far by one process, from
 * `/proc/PID/stat` fields 14 and 15. Threads are included: the kernel sums them in the
 * thread group's line. `null` when the process is gone.
 *
 * @example
 * ```ts ignore
 * import { processCpuSeconds } from "./proc.ts";
 *
 * console.log(await processCpuSeconds(Deno.pid));
 * ```
 */
export async function processCpuSeconds(pid: number): Promise<number | null> {
  const ticks = await clockTicksPerSecond();
  const stat = await readProcFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) is in parentheses and may hold spaces; count after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / ticks;
}

/**
 * Resident bytes of one process, from `VmRSS` in `/proc/PID/status`; `null` when it is gone.
 *
 * @example
 * ```ts ignore
 * import { processRssBytes } from "./proc.ts";
 *
 * console.log(((await processRssBytes(Deno.pid)) ?? 0) / 1024 / 1024, "MiB");
 * ```
 */
export async function processRssBytes(pid: number): Promise<number | null> {
  const status = await readProcFile(`/proc/${pid}/status`);
  if (status === null) return null;
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * Busy CPU seconds (everything but idle and iowait) of one core so far, from `/proc/stat`;
 * `null` when the line is missing.
 *
 * @example
 * ```ts ignore
 * import { coreBusySeconds } from "./proc.ts";
 *
 * console.log(await coreBusySeconds(0));
 * ```
 */
export function coreBusySeconds(core: number): Promise<number | null> {
  return statBusySeconds(`cpu${core} `);
}

/**
 * Busy CPU seconds of the whole machine so far (every core: everything but idle and iowait), from
 * the `cpu` line of `/proc/stat`; `null` when it is missing. The difference over a run is what
 * the machine spent, whoever was charged: over loopback the receiver's protocol work lands on
 * whichever process triggers it, so per-process CPU alone moves with how the other side reads.
 *
 * @example
 * ```ts ignore
 * import { machineBusySeconds } from "./proc.ts";
 *
 * const before = await machineBusySeconds();
 * await new Promise((resolve) => setTimeout(resolve, 100));
 * console.log(((await machineBusySeconds())! - before!).toFixed(2), "busy CPU s in 0.1 s");
 * ```
 */
export function machineBusySeconds(): Promise<number | null> {
  return statBusySeconds("cpu ");
}

async function statBusySeconds(prefix: string): Promise<number | null> {
  const ticks = await clockTicksPerSecond();
  const stat = await readProcFile("/proc/stat");
  const line = stat?.split("\n").find((l) => l.startsWith(prefix));
  if (line === undefined) return null;
  // user nice system idle iowait irq softirq steal ...; guest time is already inside user.
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = fields.reduce(
    (sum, value, index) => index === 3 || index === 4 ? sum : sum + value,
    0,
  );
  return busy / ticks;
}

/**
 * Whether a process is still running: false once it has exited, also while it is a zombie not
 * yet reaped. Throws (rather than answer false) when Deno lacks the permission to read `/proc`.
 *
 * @example
 * ```ts ignore
 * import { isProcessAlive } from "./proc.ts";
 *
 * console.log(isProcessAlive(Deno.pid)); // true
 * ```
 */
export function isProcessAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    rethrowProcPermission(error, `/proc/${pid}/stat`);
    return false;
  }
  return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

/**
 * CPU seconds of a process tree (see {@linkcode processTree}).
 *
 * @example
 * ```ts ignore
 * import { treeCpuSeconds } from "./proc.ts";
 *
 * console.log(await treeCpuSeconds(Deno.pid));
 * ```
 */
export async function treeCpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const member of processTree(pid)) total += (await processCpuSeconds(member)) ?? 0;
  return total;
}

/**
 * Resident bytes of a process tree (see {@linkcode processTree}).
 *
 * @example
 * ```ts ignore
 * import { treeRssBytes } from "./proc.ts";
 *
 * console.log(await treeRssBytes(Deno.pid));
 * ```
 */
export async function treeRssBytes(pid: number): Promise<number> {
  let total = 0;
  for (const member of processTree(pid)) total += (await processRssBytes(member)) ?? 0;
  return total;
}
