/**
 * Cost per open of a file beneath a root: `FileRoot.open` by openat2 (one syscall, the kernel
 * confines the lookup) vs today's realpath + open (`Deno.realPathSync`, a prefix check, then
 * `openFile`) vs `FileRoot.open` by the per-component walk (the fallback where openat2 is missing
 * or refused). Each open is followed by the fstat every variant does and a close. The file sits
 * three directories deep, as a static site's assets often do. The baseline is openat2; `deno
 * bench` prints the others relative to it.
 *
 * ```sh
 * deno bench --allow-ffi --allow-read --allow-write bench/root_bench.ts
 * ```
 *
 * @module
 */

import { openFile, openRoot } from "../mod.ts";

const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "netio-root-bench-" }));
const rel = "assets/css/vendor/site.css";
Deno.mkdirSync(`${dir}/assets/css/vendor`, { recursive: true });
Deno.writeTextFileSync(`${dir}/${rel}`, "body { margin: 0 }\n");
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const beneath = openRoot(dir, { mode: "openat2" });
const walk = openRoot(dir, { mode: "walk" });

Deno.bench("FileRoot.open (openat2, RESOLVE_BENEATH)", { group: "open", baseline: true }, () => {
  beneath.open(rel).close();
});

Deno.bench("Deno.realPathSync + prefix check + openFile", { group: "open" }, () => {
  const real = Deno.realPathSync(`${dir}/${rel}`);
  if (!real.startsWith(`${dir}/`)) throw new Error("outside");
  openFile(real).close();
});

Deno.bench("FileRoot.open (walk: openat O_NOFOLLOW per component)", { group: "open" }, () => {
  walk.open(rel).close();
});
