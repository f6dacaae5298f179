// Moved to lib/net/fd.ts: this shim keeps old import paths working during the restructuring.
export * from "./net/fd.ts";
