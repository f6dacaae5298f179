// Moved to lib/reactor/: this shim keeps old import paths working during the restructuring.
export * from "./reactor/reactor.ts";
export * from "./reactor/interest.ts";
export * from "./reactor/options.ts";
export * from "./reactor/registration.ts";
export type { ParkingDesign } from "./reactor/parking.ts";
