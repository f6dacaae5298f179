// Moved to lib/transfer/ and lib/net/write.ts: this shim keeps old import paths working during
// the restructuring.
export { BUDGET_UNIT_BYTES } from "./transfer/_budget.ts";
export * from "./transfer/file.ts";
export * from "./transfer/sendfile.ts";
export * from "./transfer/splice.ts";
export { type TransferStats, transferStats } from "./transfer/stats.ts";
export { writev, type WritevOptions, type WritevTarget } from "./net/write.ts";
