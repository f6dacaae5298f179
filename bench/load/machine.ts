/**
 * The machine a run was taken on, for the report: CPU model, cores, kernel, Deno/Node/wrk
 * versions, pinning, date.
 *
 * @example
 * ```ts
 * import { machineInfo } from "./machine.ts";
 *
 * console.log((await machineInfo()).cores > 0); // true
 * ```
 *
 * @module
 */
import { runQuiet } from "./children.ts";
import { detectPinning } from "./proc.ts";
import { wrkVersion } from "./wrk.ts";

/** The machine a run was taken on, for the report. */
export interface MachineInfo {
  /** From /proc/cpuinfo "model name". */
  cpuModel: string;
  /** Logical cores. */
  cores: number;
  /** `uname -r`. */
  kernel: string;
  /** Deno version. */
  deno: string;
  /** Node version, or "absent". */
  node: string;
  /** wrk version, or "absent". */
  wrk: string;
  /** How server and load generator were pinned. */
  pinning: string;
  /** ISO date of the run. */
  date: string;
}

/**
 * Describes this machine: CPU model, cores, kernel, Deno/Node/wrk versions, pinning, date.
 *
 * @example
 * ```ts
 * import { machineInfo } from "./machine.ts";
 *
 * const machine = await machineInfo();
 * console.log(`${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}`);
 * ```
 */
export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = "unknown";
  try {
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
  } catch {
    // not Linux, or /proc unreadable
  }
  const node = await runQuiet(["node", "--version"]);
  const pinning = await detectPinning();
  return {
    cpuModel,
    cores: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    node: node?.code === 0 ? node.stdout.trim() : "absent",
    wrk: (await wrkVersion()) ?? "absent",
    pinning: pinning.warning ??
      `server: ${pinning.server.join(" ")}, load: ${pinning.client.join(" ")}`,
    date: new Date().toISOString(),
  };
}
