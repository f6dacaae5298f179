// Moved to lib/net/: this shim keeps old import paths working during the restructuring.
export { BusyError } from "./net/readiness.ts";
export * from "./net/listener.ts";
export * from "./net/stream.ts";
export type { SocketAddress } from "./net/address.ts";
