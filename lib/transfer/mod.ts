/**
 * Zero-copy transfers: {@linkcode sendFile} (file -> socket), {@linkcode splice} and
 * {@linkcode proxy} (socket -> pipe -> socket), their files (opened alone, or beneath a
 * {@linkcode FileRoot}), pipes and counters. Re-exports only.
 *
 * @module
 */

export { BUDGET_UNIT_BYTES } from "./_budget.ts";
export { FileHandle, openFile } from "./file.ts";
export {
  FileRoot,
  openRoot,
  type OpenRootOptions,
  type RootDirEntry,
  type RootMethod,
  type RootStat,
} from "./root.ts";
export { sendFile, type SendFileOptions } from "./sendfile.ts";
export {
  closeIdlePipes,
  proxy,
  type ProxyOptions,
  type ProxyResult,
  splice,
  type SpliceOptions,
} from "./splice.ts";
export { type TransferStats, transferStats } from "./stats.ts";
