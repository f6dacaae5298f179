/**
 * Zero-copy transfers: {@linkcode sendFile} (file -> socket), {@linkcode splice} and
 * {@linkcode proxy} (socket -> pipe -> socket), their files, pipes and counters. Re-exports only.
 *
 * @module
 */

export { BUDGET_UNIT_BYTES } from "./_budget.ts";
export { FileHandle, openFile } from "./file.ts";
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
