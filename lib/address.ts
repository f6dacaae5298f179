// Moved to lib/net/address.ts: this shim keeps old import paths working during the restructuring.
export * from "./net/address.ts";
