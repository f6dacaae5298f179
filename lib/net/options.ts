/**
 * Socket options, socket2-style, from ONE descriptor table ({@linkcode SOCKET_OPTIONS}): each row
 * names the option and holds its validation, its setter and its getter over a descriptor. The
 * socket methods (`setNoDelay`/`noDelay`, ...), {@linkcode tuneFd} and the option tests all go
 * through the rows, so an option exists once. TCP_INFO and SO_ERROR are read-only extras.
 *
 * @module
 */

import {
  IPPROTO_TCP,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SOL_SOCKET,
  TCP_CORK,
  TCP_INFO,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
  TCP_NOTSENT_LOWAT,
  TCP_QUICKACK,
  TCP_USER_TIMEOUT,
} from "../../ffi/constants.ts";
import { fail, sysGetsockopt, sysSetsockopt } from "../../ffi/libc.ts";
import {
  decodeLinger,
  decodeTcpInfo,
  encodeLinger,
  IntCell,
  LINGER_SIZE,
  TCP_INFO_SIZE,
  type TcpInfo,
} from "../../ffi/structs.ts";
import { checkBoolean, checkInteger } from "../_validate.ts";

export type { TcpInfo };

/** The largest C int: the top of every size and time option's range. */
const INT_MAX = 0x7fffffff;
/** TCP_KEEPIDLE and TCP_KEEPINTVL take at most this many seconds (MAX_TCP_KEEPIDLE). */
const KEEPALIVE_SECONDS_MAX = 32767;
/** TCP_KEEPCNT takes at most this many probes (MAX_TCP_KEEPCNT). */
const KEEPALIVE_COUNT_MAX = 127;
/** SO_LINGER's l_linger in seconds, as netio bounds it (the kernel takes an int). */
const LINGER_SECONDS_MAX = 65535;

// One buffer per layout for the whole process: each is filled and read inside one sync call.
const intCell = new IntCell();
const lenCell = new IntCell();
const lingerBuf = new Uint8Array(LINGER_SIZE);
const infoBuf = new Uint8Array(TCP_INFO_SIZE);

/** Sets an int-valued option (setsockopt). */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  intCell.value = value;
  const r = sysSetsockopt(fd, level, name, intCell.bytes);
  if (r < 0) throw fail(r, "setsockopt");
}

/** Reads an int-valued option (getsockopt). */
export function getIntOption(fd: number, level: number, name: number): number {
  const r = sysGetsockopt(fd, level, name, intCell.bytes, lenCell.bytes);
  if (r < 0) throw fail(r, "getsockopt");
  return intCell.value;
}

/** Keepalive settings for `setKeepAlive`. */
export interface KeepAlive {
  /** Seconds of idleness before the first probe (TCP_KEEPIDLE), 1..32767. */
  idleSec?: number;
  /** Seconds between probes (TCP_KEEPINTVL), 1..32767. */
  intervalSec?: number;
  /** Unanswered probes before the connection is dropped (TCP_KEEPCNT), 1..127. */
  count?: number;
}

/** Linger setting: `null` for off, or seconds to linger on close (0 = reset on close). */
export type Linger = number | null;

/** One row of the option table: validation, setter and getter over a descriptor. */
export interface OptionDescriptor<Set, Get = Set> {
  /** What the option is, for docs and error messages (e.g. "TCP_NODELAY"). */
  readonly kernelName: string;
  /** Checks a value before any syscall; TypeError or RangeError naming `what`. */
  validate(value: unknown, what: string): Set;
  /** Applies a validated value. */
  set(fd: number, value: Set): void;
  /** Reads the value back as the kernel holds it. */
  get(fd: number): Get;
}

function flag(kernelName: string, level: number, name: number): OptionDescriptor<boolean> {
  return {
    kernelName,
    validate: (value, what) => checkBoolean(value, what),
    set: (fd, on) => setIntOption(fd, level, name, on ? 1 : 0),
    get: (fd) => getIntOption(fd, level, name) !== 0,
  };
}

function integer(
  kernelName: string,
  level: number,
  name: number,
  min: number,
): OptionDescriptor<number> {
  return {
    kernelName,
    validate: (value, what) => checkInteger(value, what, min, INT_MAX),
    set: (fd, value) => setIntOption(fd, level, name, value),
    get: (fd) => getIntOption(fd, level, name),
  };
}

const keepAliveOption: OptionDescriptor<boolean | KeepAlive, false | Required<KeepAlive>> = {
  kernelName: "SO_KEEPALIVE + TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT",
  validate(value: unknown, what: string): boolean | KeepAlive {
    if (typeof value === "boolean") return value;
    if (typeof value !== "object" || value === null) {
      throw new TypeError(`${what} expects a boolean or { idleSec, intervalSec, count }`);
    }
    const k = value as KeepAlive;
    if (k.idleSec !== undefined) {
      checkInteger(k.idleSec, `${what}.idleSec`, 1, KEEPALIVE_SECONDS_MAX);
    }
    if (k.intervalSec !== undefined) {
      checkInteger(k.intervalSec, `${what}.intervalSec`, 1, KEEPALIVE_SECONDS_MAX);
    }
    if (k.count !== undefined) checkInteger(k.count, `${what}.count`, 1, KEEPALIVE_COUNT_MAX);
    return k;
  },
  set(fd: number, keepAlive: boolean | KeepAlive): void {
    if (typeof keepAlive === "boolean") {
      setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, keepAlive ? 1 : 0);
      return;
    }
    const { idleSec, intervalSec, count } = keepAlive;
    if (idleSec !== undefined) setIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, idleSec);
    if (intervalSec !== undefined) setIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, intervalSec);
    if (count !== undefined) setIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, count);
    setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  },
  get(fd: number): false | Required<KeepAlive> {
    if (getIntOption(fd, SOL_SOCKET, SO_KEEPALIVE) === 0) return false;
    return {
      idleSec: getIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE),
      intervalSec: getIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL),
      count: getIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT),
    };
  },
};

const lingerOption: OptionDescriptor<Linger> = {
  kernelName: "SO_LINGER",
  validate: (value, what) =>
    value === null ? null : checkInteger(value, what, 0, LINGER_SECONDS_MAX),
  set(fd: number, linger: Linger): void {
    const b = linger === null ? encodeLinger(false, 0) : encodeLinger(true, linger);
    const r = sysSetsockopt(fd, SOL_SOCKET, SO_LINGER, b);
    if (r < 0) throw fail(r, "setsockopt");
  },
  get(fd: number): Linger {
    const r = sysGetsockopt(fd, SOL_SOCKET, SO_LINGER, lingerBuf, lenCell.bytes);
    if (r < 0) throw fail(r, "getsockopt");
    const l = decodeLinger(lingerBuf);
    return l.on ? l.seconds : null;
  },
};

/** The shape of {@linkcode SOCKET_OPTIONS}: one row per option, its value types. */
export interface SocketOptionTable {
  /** TCP_NODELAY. */
  readonly noDelay: OptionDescriptor<boolean>;
  /** TCP_CORK. */
  readonly cork: OptionDescriptor<boolean>;
  /** TCP_QUICKACK. */
  readonly quickAck: OptionDescriptor<boolean>;
  /** SO_REUSEADDR. */
  readonly reuseAddress: OptionDescriptor<boolean>;
  /** SO_REUSEPORT. */
  readonly reusePort: OptionDescriptor<boolean>;
  /** SO_SNDBUF, bytes. */
  readonly sendBufferSize: OptionDescriptor<number>;
  /** SO_RCVBUF, bytes. */
  readonly recvBufferSize: OptionDescriptor<number>;
  /** SO_KEEPALIVE and its timings. */
  readonly keepAlive: OptionDescriptor<boolean | KeepAlive, false | Required<KeepAlive>>;
  /** SO_LINGER. */
  readonly linger: OptionDescriptor<Linger>;
  /** TCP_USER_TIMEOUT, ms. */
  readonly userTimeoutMs: OptionDescriptor<number>;
  /** TCP_NOTSENT_LOWAT, bytes. */
  readonly notSentLowat: OptionDescriptor<number>;
}

/**
 * The option table. Notes on the kernel's behaviour:
 * - TCP_QUICKACK is not permanent: the kernel clears it on its own, so a read-back shows the
 *   current mode, not what was last set.
 * - SO_SNDBUF and SO_RCVBUF are doubled (for bookkeeping) and clamped: the getter reports what the
 *   kernel really set.
 * - TCP_NOTSENT_LOWAT reads 0 when unset (the sysctl net.ipv4.tcp_notsent_lowat applies).
 * - TCP_USER_TIMEOUT is in milliseconds, 0 = the system default.
 *
 * @example
 * ```ts
 * import { SOCKET_OPTIONS } from "./options.ts";
 * console.log(Object.keys(SOCKET_OPTIONS).length, SOCKET_OPTIONS.noDelay.kernelName); // 11 TCP_NODELAY
 * ```
 */
export const SOCKET_OPTIONS: SocketOptionTable = {
  noDelay: flag("TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY),
  cork: flag("TCP_CORK", IPPROTO_TCP, TCP_CORK),
  quickAck: flag("TCP_QUICKACK", IPPROTO_TCP, TCP_QUICKACK),
  reuseAddress: flag("SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR),
  reusePort: flag("SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT),
  sendBufferSize: integer("SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 1),
  recvBufferSize: integer("SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 1),
  keepAlive: keepAliveOption,
  linger: lingerOption,
  userTimeoutMs: integer("TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT, 0),
  notSentLowat: integer("TCP_NOTSENT_LOWAT", IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0),
};

type Table = SocketOptionTable;
type SetValue<K extends keyof Table> = Table[K] extends OptionDescriptor<infer S, unknown> ? S
  : never;
type GetValue<K extends keyof Table> = Table[K] extends OptionDescriptor<never, infer G> ? G
  : never;

/**
 * The options {@linkcode tuneFd} applies; each is optional. The keys are the rows of
 * {@linkcode SOCKET_OPTIONS} (a type test in tests/sockopt_test.ts keeps the two in step).
 */
export interface TuneSettings {
  /** TCP_NODELAY. */
  noDelay?: boolean;
  /** TCP_CORK. */
  cork?: boolean;
  /** TCP_QUICKACK. */
  quickAck?: boolean;
  /** SO_REUSEADDR. */
  reuseAddress?: boolean;
  /** SO_REUSEPORT. */
  reusePort?: boolean;
  /** SO_SNDBUF request, bytes. */
  sendBufferSize?: number;
  /** SO_RCVBUF request, bytes. */
  recvBufferSize?: number;
  /** SO_KEEPALIVE and its timings. */
  keepAlive?: boolean | KeepAlive;
  /** SO_LINGER. */
  linger?: Linger;
  /** TCP_USER_TIMEOUT, ms. */
  userTimeoutMs?: number;
  /** TCP_NOTSENT_LOWAT, bytes. */
  notSentLowat?: number;
}

/**
 * Validates and sets one option of the table on `fd` (`what` names it in errors, e.g.
 * "setNoDelay"). Nothing reaches the kernel when the value is refused.
 */
export function setOption<K extends keyof Table>(
  fd: number,
  key: K,
  value: SetValue<K>,
  what: string = key,
): void {
  const row = SOCKET_OPTIONS[key] as unknown as OptionDescriptor<SetValue<K>, unknown>;
  row.set(fd, row.validate(value, what));
}

/** Reads one option of the table from `fd`. */
export function getOption<K extends keyof Table>(fd: number, key: K): GetValue<K> {
  return SOCKET_OPTIONS[key].get(fd) as GetValue<K>;
}

/** Reads and clears SO_ERROR: the pending socket error, 0 if none. */
export function socketError(fd: number): number {
  return getIntOption(fd, SOL_SOCKET, SO_ERROR);
}

/** Reads struct tcp_info, decoding only what the kernel's returned length covers. */
export function tcpInfo(fd: number): TcpInfo {
  const r = sysGetsockopt(fd, IPPROTO_TCP, TCP_INFO, infoBuf, lenCell.bytes);
  if (r < 0) throw fail(r, "getsockopt");
  return decodeTcpInfo(infoBuf, lenCell.value);
}

/** One option's outcome from {@linkcode tuneFd}. */
export interface TuneChange {
  /** The option's name, as in {@linkcode TuneSettings}. */
  option: keyof TuneSettings;
  /** Read back before setting. */
  before: unknown;
  /** What was asked for. */
  requested: unknown;
  /** Read back after setting: where it differs from `requested`, the kernel adjusted it. */
  after: unknown;
  /** True when the read-back differs from the request (e.g. SO_SNDBUF doubled). */
  adjusted: boolean;
}

function sameValue(requested: unknown, after: unknown): boolean {
  if (typeof requested === "object" && requested !== null) {
    if (typeof after !== "object" || after === null) return false;
    for (const [k, v] of Object.entries(requested)) {
      if ((after as Record<string, unknown>)[k] !== v) return false;
    }
    return true;
  }
  if (requested === true && typeof after === "object" && after !== null) return true;
  return requested === after;
}

/** Applies `settings` to the socket `fd` and reports before -> after for each option. */
export function tuneFd(fd: number, settings: TuneSettings): TuneChange[] {
  if (typeof settings !== "object" || settings === null) {
    throw new TypeError("tune expects a settings object");
  }
  const keys = Object.keys(settings) as (keyof Table)[];
  // Validate every value before the first syscall, so bad input changes nothing.
  for (const key of keys) {
    if (!Object.hasOwn(SOCKET_OPTIONS, key)) {
      throw new TypeError(`unknown socket option: ${String(key)}`);
    }
    const v = settings[key];
    if (v !== undefined) SOCKET_OPTIONS[key].validate(v, key);
  }
  const changes: TuneChange[] = [];
  for (const key of keys) {
    const requested = settings[key];
    if (requested === undefined) continue;
    const row = SOCKET_OPTIONS[key] as unknown as OptionDescriptor<unknown, unknown>;
    const before = row.get(fd);
    row.set(fd, requested);
    const after = row.get(fd);
    changes.push({ option: key, before, requested, after, adjusted: !sameValue(requested, after) });
  }
  return changes;
}
