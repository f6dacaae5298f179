/**
 * {@linkcode ServeHttpOptions} checked and resolved to the settings a server runs with, before
 * anything is bound: bad options throw TypeError or RangeError naming the option.
 *
 * @module
 */

import { RLIMIT_NOFILE } from "../../ffi/constants.ts";
import { sysGetrlimit } from "../../ffi/libc.ts";
import { decodeRlimit, RLIMIT_SIZE } from "../../ffi/structs.ts";
import { checkInteger, checkNumber, checkObject } from "../_validate.ts";
import type { RequestParserOptions } from "./request_parser.ts";
import type { HttpHandler, ServeHttpOptions } from "./server_types.ts";

/** Descriptors never used for connections: stdio, epoll, the listener, files, spares. */
const FD_RESERVE = 64;
/** The connection cap when the descriptor limit cannot be read. */
const FALLBACK_MAX_CONNECTIONS = 10_000;
/** The connection cap when the descriptor limit is unlimited. */
const UNLIMITED_MAX_CONNECTIONS = 1_000_000;
/** nginx's keepalive_timeout. */
const DEFAULT_IDLE_TIMEOUT_MS = 75_000;
const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** Go waits 500 ms in closeWriteAndWait. */
const DEFAULT_LINGER_MS = 500;
/** The sweep runs often enough that a deadline fires at most a quarter late... */
const SWEEP_FRACTION = 4;
/** ... but no more often than this (a timer costs a macrotask turn) ... */
const MIN_SWEEP_INTERVAL_MS = 5;
/** ... nor less often than this, so a late deadline is never late by much. */
const MAX_SWEEP_INTERVAL_MS = 1000;
/** The longest interval considered when every timeout is disabled. */
const SWEEP_BASIS_MS = 4000;

/** What a server runs with, resolved from its options. */
export interface ServerSettings {
  handler: HttpHandler;
  maxConnections: number;
  idleTimeoutMs: number;
  headerTimeoutMs: number;
  lingerMs: number;
  noDelay: boolean;
  accessLog: ((line: string) => void) | undefined;
  onError: (error: unknown) => void;
  /** Only the limits that were given, so the parser's defaults apply to the rest. */
  parserOptions: RequestParserOptions;
  sweepIntervalMs: number;
}

function defaultMaxConnections(): number {
  const rlimit = new Uint8Array(RLIMIT_SIZE);
  if (sysGetrlimit(RLIMIT_NOFILE, rlimit) < 0) return FALLBACK_MAX_CONNECTIONS;
  const soft = decodeRlimit(rlimit).soft;
  return Number.isFinite(soft) ? Math.max(1, soft - FD_RESERVE) : UNLIMITED_MAX_CONNECTIONS;
}

/**
 * A timeout in milliseconds, 0 to disable: a finite number >= 0, or `fallback` when omitted.
 * Infinity is refused rather than read as "never": timers take finite delays, and 0 already
 * means never.
 */
export function checkTimeout(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = checkNumber(value, what, 0);
  if (!Number.isFinite(ms)) {
    throw new RangeError(`${what} must be a finite number >= 0, got ${ms}`);
  }
  return ms;
}

/** Checks `options` and resolves every default. */
export function resolveServeOptions(options: ServeHttpOptions): ServerSettings {
  checkObject(options, "serveHttp options");
  const handler = options.handler;
  if (typeof handler !== "function") {
    throw new TypeError(`handler must be a function, got ${typeof handler}`);
  }
  const maxConnections = checkInteger(
    options.maxConnections ?? defaultMaxConnections(),
    "maxConnections",
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const idleTimeoutMs = checkTimeout(
    options.idleTimeoutMs,
    "idleTimeoutMs",
    DEFAULT_IDLE_TIMEOUT_MS,
  );
  const headerTimeoutMs = checkTimeout(
    options.headerTimeoutMs,
    "headerTimeoutMs",
    DEFAULT_HEADER_TIMEOUT_MS,
  );
  const lingerMs = checkTimeout(options.lingerMs, "lingerMs", DEFAULT_LINGER_MS);
  const shortest = Math.min(
    ...[idleTimeoutMs, headerTimeoutMs, lingerMs].filter((t) => t > 0),
    SWEEP_BASIS_MS,
  );
  return {
    handler,
    maxConnections,
    idleTimeoutMs,
    headerTimeoutMs,
    lingerMs,
    noDelay: options.noDelay ?? true,
    accessLog: options.accessLog,
    onError: options.onError ?? ((error) => console.error("netio http server:", error)),
    parserOptions: {
      ...(options.maxHeaderBytes !== undefined ? { maxHeaderBytes: options.maxHeaderBytes } : {}),
      ...(options.maxUrlBytes !== undefined ? { maxUrlBytes: options.maxUrlBytes } : {}),
      ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(options.maxHeaders !== undefined ? { maxHeaders: options.maxHeaders } : {}),
    },
    sweepIntervalMs: Math.max(
      MIN_SWEEP_INTERVAL_MS,
      Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(shortest / SWEEP_FRACTION)),
    ),
  };
}
