/**
 * The epoll reactor inside Deno's event loop: {@linkcode Reactor}, {@linkcode Registration},
 * the {@linkcode Interest} and {@linkcode Ready} flags, options and the fairness defaults.
 * Re-exports only.
 *
 * @module
 */

export { Interest, interestToEpoll, readinessFromEpoll, Ready } from "./interest.ts";
export type { BackendName } from "./backend.ts";
export {
  type BackendInfo,
  DEFAULT_TURN_BUDGET,
  DEFAULT_YIELD_INTERVAL_MS,
  type ReactorOptions,
  type ReactorStats,
} from "./options.ts";
export type { ParkingDesign } from "./parking.ts";
export { Reactor } from "./reactor.ts";
export {
  type DataCallback,
  type ReadyCallback,
  type RegisterOptions,
  Registration,
  type SentCallback,
} from "./registration.ts";
