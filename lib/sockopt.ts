/**
 * Typed socket options (socket2-style pairs) and TCP_INFO, over a descriptor number. The socket
 * classes expose these as methods; the functions here are the single implementation.
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
} from "../ffi/constants.ts";
import { fail, sysGetsockopt, sysSetsockopt } from "../ffi/libc.ts";
import {
  decodeLinger,
  decodeTcpInfo,
  encodeLinger,
  TCP_INFO_SIZE,
  type TcpInfo,
} from "../ffi/structs.ts";

export type { TcpInfo };

const intBuf = new Uint8Array(4);
const intView = new DataView(intBuf.buffer);
const lenBuf = new Uint8Array(4);
const lenView = new DataView(lenBuf.buffer);

/** Sets an int-valued option. */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  intView.setInt32(0, value, true);
  const r = sysSetsockopt(fd, level, name, intBuf);
  if (r < 0) throw fail(r, "setsockopt");
}

/** Reads an int-valued option. */
export function getIntOption(fd: number, level: number, name: number): number {
  const r = sysGetsockopt(fd, level, name, intBuf, lenBuf);
  if (r < 0) throw fail(r, "getsockopt");
  return intView.getInt32(0, true);
}

function checkBool(name: string, on: unknown): void {
  if (typeof on !== "boolean") throw new TypeError(`${name} expects a boolean, got ${typeof on}`);
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number") throw new TypeError(`${name} expects a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

/** Keepalive settings for {@linkcode setKeepAlive}. */
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

// Each option: a setter and a getter over an fd. The socket classes wrap these as methods.

/** TCP_NODELAY: disable Nagle's algorithm. */
export function setNoDelay(fd: number, on: boolean): void {
  checkBool("setNoDelay", on);
  setIntOption(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}
/** Reads TCP_NODELAY. */
export function noDelay(fd: number): boolean {
  return getIntOption(fd, IPPROTO_TCP, TCP_NODELAY) !== 0;
}

/** TCP_CORK: hold partial frames until uncorked (or 200 ms). */
export function setCork(fd: number, on: boolean): void {
  checkBool("setCork", on);
  setIntOption(fd, IPPROTO_TCP, TCP_CORK, on ? 1 : 0);
}
/** Reads TCP_CORK. */
export function cork(fd: number): boolean {
  return getIntOption(fd, IPPROTO_TCP, TCP_CORK) !== 0;
}

/**
 * TCP_QUICKACK: send ACKs at once. The kernel clears it again on its own (it is not permanent),
 * so a read-back shows the current mode, not what was last set.
 */
export function setQuickAck(fd: number, on: boolean): void {
  checkBool("setQuickAck", on);
  setIntOption(fd, IPPROTO_TCP, TCP_QUICKACK, on ? 1 : 0);
}
/** Reads TCP_QUICKACK. */
export function quickAck(fd: number): boolean {
  return getIntOption(fd, IPPROTO_TCP, TCP_QUICKACK) !== 0;
}

/** SO_REUSEADDR. */
export function setReuseAddress(fd: number, on: boolean): void {
  checkBool("setReuseAddress", on);
  setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0);
}
/** Reads SO_REUSEADDR. */
export function reuseAddress(fd: number): boolean {
  return getIntOption(fd, SOL_SOCKET, SO_REUSEADDR) !== 0;
}

/** SO_REUSEPORT: several sockets may bind the same address; the kernel balances accepts. */
export function setReusePort(fd: number, on: boolean): void {
  checkBool("setReusePort", on);
  setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0);
}
/** Reads SO_REUSEPORT. */
export function reusePort(fd: number): boolean {
  return getIntOption(fd, SOL_SOCKET, SO_REUSEPORT) !== 0;
}

/** SO_SNDBUF in bytes. The kernel doubles the value (for bookkeeping) and clamps it. */
export function setSendBufferSize(fd: number, bytes: number): void {
  setIntOption(fd, SOL_SOCKET, SO_SNDBUF, checkInt("setSendBufferSize", bytes, 1, 0x7fffffff));
}
/** Reads SO_SNDBUF: what the kernel really set (twice the request, within its limits). */
export function sendBufferSize(fd: number): number {
  return getIntOption(fd, SOL_SOCKET, SO_SNDBUF);
}

/** SO_RCVBUF in bytes (doubled and clamped by the kernel, like SO_SNDBUF). */
export function setRecvBufferSize(fd: number, bytes: number): void {
  setIntOption(fd, SOL_SOCKET, SO_RCVBUF, checkInt("setRecvBufferSize", bytes, 1, 0x7fffffff));
}
/** Reads SO_RCVBUF as the kernel set it. */
export function recvBufferSize(fd: number): number {
  return getIntOption(fd, SOL_SOCKET, SO_RCVBUF);
}

/**
 * SO_KEEPALIVE plus TCP_KEEPIDLE/KEEPINTVL/KEEPCNT. `false` turns keepalive off; an object turns
 * it on with the given timings (those left out keep their current values).
 */
export function setKeepAlive(fd: number, keepAlive: boolean | KeepAlive): void {
  if (typeof keepAlive === "boolean") {
    setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, keepAlive ? 1 : 0);
    return;
  }
  if (typeof keepAlive !== "object" || keepAlive === null) {
    throw new TypeError("setKeepAlive expects a boolean or { idleSec, intervalSec, count }");
  }
  const { idleSec, intervalSec, count } = keepAlive;
  // Validate everything before the first syscall, so bad input changes nothing.
  if (idleSec !== undefined) checkInt("keepAlive.idleSec", idleSec, 1, 32767);
  if (intervalSec !== undefined) checkInt("keepAlive.intervalSec", intervalSec, 1, 32767);
  if (count !== undefined) checkInt("keepAlive.count", count, 1, 127);
  if (idleSec !== undefined) setIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, idleSec);
  if (intervalSec !== undefined) setIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, intervalSec);
  if (count !== undefined) setIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, count);
  setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}
/** Reads keepalive: `false` when off, else its timings. */
export function keepAlive(fd: number): false | Required<KeepAlive> {
  if (getIntOption(fd, SOL_SOCKET, SO_KEEPALIVE) === 0) return false;
  return {
    idleSec: getIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE),
    intervalSec: getIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL),
    count: getIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT),
  };
}

const lingerBuf = new Uint8Array(8);
/** SO_LINGER: `null` off; `n` seconds to wait for unsent data on close; 0 resets on close. */
export function setLinger(fd: number, linger: Linger): void {
  const b = linger === null
    ? encodeLinger(false, 0)
    : encodeLinger(true, checkInt("setLinger", linger, 0, 65535));
  const r = sysSetsockopt(fd, SOL_SOCKET, SO_LINGER, b);
  if (r < 0) throw fail(r, "setsockopt");
}
/** Reads SO_LINGER. */
export function linger(fd: number): Linger {
  const r = sysGetsockopt(fd, SOL_SOCKET, SO_LINGER, lingerBuf, lenBuf);
  if (r < 0) throw fail(r, "getsockopt");
  const l = decodeLinger(lingerBuf);
  return l.on ? l.seconds : null;
}

/** TCP_USER_TIMEOUT in milliseconds (0 = system default). */
export function setUserTimeoutMs(fd: number, ms: number): void {
  setIntOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, checkInt("setUserTimeoutMs", ms, 0, 0x7fffffff));
}
/** Reads TCP_USER_TIMEOUT in milliseconds. */
export function userTimeoutMs(fd: number): number {
  return getIntOption(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
}

/** TCP_NOTSENT_LOWAT in bytes: writability reported only below this much unsent data. */
export function setNotSentLowat(fd: number, bytes: number): void {
  setIntOption(
    fd,
    IPPROTO_TCP,
    TCP_NOTSENT_LOWAT,
    checkInt("setNotSentLowat", bytes, 0, 0x7fffffff),
  );
}
/** Reads TCP_NOTSENT_LOWAT in bytes (0 when unset: the sysctl net.ipv4.tcp_notsent_lowat applies). */
export function notSentLowat(fd: number): number {
  return getIntOption(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT);
}

/** Reads and clears SO_ERROR: the pending socket error, 0 if none. */
export function socketError(fd: number): number {
  return getIntOption(fd, SOL_SOCKET, SO_ERROR);
}

const infoBuf = new Uint8Array(TCP_INFO_SIZE);
/** Reads struct tcp_info, decoding only what the kernel's returned length covers. */
export function tcpInfo(fd: number): TcpInfo {
  const r = sysGetsockopt(fd, IPPROTO_TCP, TCP_INFO, infoBuf, lenBuf);
  if (r < 0) throw fail(r, "getsockopt");
  return decodeTcpInfo(infoBuf, lenView.getUint32(0, true));
}

/** The options {@linkcode tune} applies; each is optional. */
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

/** One option's outcome from {@linkcode tune}. */
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

type OptionPair = [(fd: number, v: never) => void, (fd: number) => unknown];
const OPTIONS: Record<keyof TuneSettings, OptionPair> = {
  noDelay: [setNoDelay, noDelay],
  cork: [setCork, cork],
  quickAck: [setQuickAck, quickAck],
  reuseAddress: [setReuseAddress, reuseAddress],
  reusePort: [setReusePort, reusePort],
  sendBufferSize: [setSendBufferSize, sendBufferSize],
  recvBufferSize: [setRecvBufferSize, recvBufferSize],
  keepAlive: [setKeepAlive, keepAlive],
  linger: [setLinger, linger],
  userTimeoutMs: [setUserTimeoutMs, userTimeoutMs],
  notSentLowat: [setNotSentLowat, notSentLowat],
};

const bool = (name: string) => (v: unknown): void => checkBool(name, v);
const VALIDATE: Record<keyof TuneSettings, (v: unknown) => void> = {
  noDelay: bool("noDelay"),
  cork: bool("cork"),
  quickAck: bool("quickAck"),
  reuseAddress: bool("reuseAddress"),
  reusePort: bool("reusePort"),
  sendBufferSize: (v) => void checkInt("sendBufferSize", v, 1, 0x7fffffff),
  recvBufferSize: (v) => void checkInt("recvBufferSize", v, 1, 0x7fffffff),
  keepAlive: (v) => {
    if (typeof v === "boolean") return;
    if (typeof v !== "object" || v === null) {
      throw new TypeError("keepAlive expects a boolean or { idleSec, intervalSec, count }");
    }
    const k = v as KeepAlive;
    if (k.idleSec !== undefined) checkInt("keepAlive.idleSec", k.idleSec, 1, 32767);
    if (k.intervalSec !== undefined) checkInt("keepAlive.intervalSec", k.intervalSec, 1, 32767);
    if (k.count !== undefined) checkInt("keepAlive.count", k.count, 1, 127);
  },
  linger: (v) => {
    if (v !== null) checkInt("linger", v, 0, 65535);
  },
  userTimeoutMs: (v) => void checkInt("userTimeoutMs", v, 0, 0x7fffffff),
  notSentLowat: (v) => void checkInt("notSentLowat", v, 0, 0x7fffffff),
};

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
  // Validate every value before the first syscall, so bad input changes nothing.
  for (const key of Object.keys(settings) as (keyof TuneSettings)[]) {
    if (!OPTIONS[key]) throw new TypeError(`unknown socket option: ${String(key)}`);
    const v = settings[key];
    if (v !== undefined) VALIDATE[key](v);
  }
  const changes: TuneChange[] = [];
  for (const key of Object.keys(settings) as (keyof TuneSettings)[]) {
    const pair = OPTIONS[key]!;
    const requested = settings[key];
    if (requested === undefined) continue;
    const [set, get] = pair;
    const before = get(fd);
    set(fd, requested as never);
    const after = get(fd);
    changes.push({ option: key, before, requested, after, adjusted: !sameValue(requested, after) });
  }
  return changes;
}
