/**
 * {@linkcode PoolOptions} checked and completed with their defaults, once, in the pool's
 * constructor: every later decision reads a {@linkcode PoolSettings} and never sees `undefined`.
 *
 * @module
 */

import {
  checkNumber,
  checkObject,
  checkOptionalFunction,
  checkOptionalInteger,
} from "../_validate.ts";
import { TcpStream } from "../net/mod.ts";
import type { TuneSettings } from "../net/options.ts";
import type { LeakReport, PoolOptions, PoolTarget } from "./options.ts";

/** `maxConnections` when not given. */
const DEFAULT_MAX_CONNECTIONS = 64;
/** `idleTimeoutMs` when not given: 30 s. */
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** `maxLifetimeMs` when not given: 30 minutes, as HikariCP. */
const DEFAULT_MAX_LIFETIME_MS = 1_800_000;
/** `lifetimeJitter` when not given: 2.5%, so that a batch opened together does not expire together. */
const DEFAULT_LIFETIME_JITTER = 0.025;
/** The largest `lifetimeJitter`: beyond half, "lifetime" would stop meaning much. */
const MAX_LIFETIME_JITTER = 0.5;
/** `acquireTimeoutMs` when not given: 30 s. */
const DEFAULT_ACQUIRE_TIMEOUT_MS = 30_000;
/** `maxPendingAcquires` when not given. */
const DEFAULT_MAX_PENDING_ACQUIRES = 10_000;
/** The sweep timer's slack is at most this long, however long the idle and lifetime limits. */
const MAX_SWEEP_SLACK_MS = 1000;
/** The slack is this fraction of the shorter limit, so that short limits stay accurate. */
const SWEEP_SLACK_DIVISOR = 32;
/** Counts and times have no upper bound beyond what a number holds. */
const UNBOUNDED = Infinity;

/** Every {@linkcode PoolOptions} entry with its default applied, checked. */
export interface PoolSettings {
  readonly maxConnections: number;
  readonly maxPerHost: number;
  /** 0 or Infinity: never. */
  readonly idleTimeoutMs: number;
  /** 0 or Infinity: never. */
  readonly maxLifetimeMs: number;
  readonly lifetimeJitter: number;
  /** Infinity: never. */
  readonly acquireTimeoutMs: number;
  /** Infinity: never. */
  readonly connectTimeoutMs: number;
  /** Infinity: unbounded. */
  readonly maxPendingAcquires: number;
  readonly minIdle: number;
  readonly checkAfterIdleMs: number;
  /** 0: leak detection off. */
  readonly leakDetectionMs: number;
  readonly onLeak: (report: LeakReport) => void;
  readonly validate: ((stream: TcpStream) => boolean) | undefined;
  readonly connect: (target: PoolTarget, signal: AbortSignal) => Promise<TcpStream>;
  readonly tune: TuneSettings | undefined;
  /** Deadlines closer together than this are swept by one timer run. */
  readonly sweepSlackMs: number;
}

/** An integer option `>= min`, or its default when omitted. */
function integerOption(value: unknown, what: string, fallback: number, min: number): number {
  return checkOptionalInteger(value, what, min, UNBOUNDED) ?? fallback;
}

/** Like {@linkcode integerOption}, but Infinity is allowed too ("never", "unbounded"). */
function integerOrInfinityOption(
  value: unknown,
  what: string,
  fallback: number,
  min: number,
): number {
  if (value === Infinity) return value;
  return integerOption(value, what, fallback, min);
}

function defaultConnect(target: PoolTarget, signal: AbortSignal): Promise<TcpStream> {
  return TcpStream.connect({ hostname: target.hostname, port: target.port, signal });
}

function defaultOnLeak(report: LeakReport): void {
  console.warn(
    `netio ConnectionPool: a lease on ${report.hostname}:${report.port} has been held for ` +
      `${report.heldMs} ms; acquired at:\n${report.stack}`,
  );
}

/**
 * Checks `options` and applies the defaults. Throws TypeError for a wrong type and RangeError for
 * a value out of range, before the pool holds anything.
 *
 * @example
 * ```ts
 * import { resolvePoolSettings } from "./_settings.ts";
 * const settings = resolvePoolSettings({ maxConnections: 8 });
 * console.log(settings.maxPerHost, settings.idleTimeoutMs); // 8 30000
 * ```
 */
export function resolvePoolSettings(options: PoolOptions): PoolSettings {
  checkObject(options, "ConnectionPool options");
  const maxConnections = integerOption(
    options.maxConnections,
    "maxConnections",
    DEFAULT_MAX_CONNECTIONS,
    1,
  );
  const maxPerHost = integerOption(options.maxPerHost, "maxPerHost", maxConnections, 1);
  const idleTimeoutMs = integerOrInfinityOption(
    options.idleTimeoutMs,
    "idleTimeoutMs",
    DEFAULT_IDLE_TIMEOUT_MS,
    0,
  );
  const maxLifetimeMs = integerOrInfinityOption(
    options.maxLifetimeMs,
    "maxLifetimeMs",
    DEFAULT_MAX_LIFETIME_MS,
    0,
  );
  const lifetimeJitter = checkNumber(
    options.lifetimeJitter ?? DEFAULT_LIFETIME_JITTER,
    "lifetimeJitter",
    0,
  );
  if (lifetimeJitter > MAX_LIFETIME_JITTER) {
    throw new RangeError(
      `lifetimeJitter must be a number in 0..${MAX_LIFETIME_JITTER}, got ${lifetimeJitter}`,
    );
  }
  const acquireTimeoutMs = integerOrInfinityOption(
    options.acquireTimeoutMs,
    "acquireTimeoutMs",
    DEFAULT_ACQUIRE_TIMEOUT_MS,
    1,
  );
  const connectTimeoutMs = integerOrInfinityOption(
    options.connectTimeoutMs,
    "connectTimeoutMs",
    acquireTimeoutMs,
    1,
  );
  const maxPendingAcquires = integerOrInfinityOption(
    options.maxPendingAcquires,
    "maxPendingAcquires",
    DEFAULT_MAX_PENDING_ACQUIRES,
    0,
  );
  const minIdle = integerOption(options.minIdle, "minIdle", 0, 0);
  if (minIdle > maxPerHost) {
    throw new RangeError(`minIdle (${minIdle}) exceeds maxPerHost (${maxPerHost})`);
  }
  const checkAfterIdleMs = integerOrInfinityOption(
    options.checkAfterIdleMs,
    "checkAfterIdleMs",
    0,
    0,
  );
  const leakDetectionMs = integerOption(options.leakDetectionMs, "leakDetectionMs", 0, 0);
  const onLeak = checkOptionalFunction(options.onLeak, "onLeak") ?? defaultOnLeak;
  const validate = checkOptionalFunction(options.validate, "validate");
  const connect = checkOptionalFunction(options.connect, "connect") ?? defaultConnect;
  if (options.tune !== undefined) checkObject(options.tune, "tune");
  // 0 means "never" for both limits, like Infinity.
  const window = Math.min(idleTimeoutMs || Infinity, maxLifetimeMs || Infinity);
  const sweepSlackMs = Number.isFinite(window)
    ? Math.min(MAX_SWEEP_SLACK_MS, Math.ceil(window / SWEEP_SLACK_DIVISOR))
    : 0;
  return {
    maxConnections,
    maxPerHost,
    idleTimeoutMs,
    maxLifetimeMs,
    lifetimeJitter,
    acquireTimeoutMs,
    connectTimeoutMs,
    maxPendingAcquires,
    minIdle,
    checkAfterIdleMs,
    leakDetectionMs,
    onLeak,
    validate,
    connect,
    tune: options.tune,
    sweepSlackMs,
  };
}
