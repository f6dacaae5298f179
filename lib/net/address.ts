/**
 * Addresses for sockets: IP text (parse and format, RFC 5952), the {@linkcode SocketAddress}
 * shape, validation, resolution and Deno's net permission check.
 *
 * @module
 */

import { AF_INET, AF_INET6 } from "../../ffi/constants.ts";
import {
  decodeSockaddr,
  encodeSockaddrIn,
  encodeSockaddrIn6,
  type RawSockaddr,
} from "../../ffi/structs.ts";
import { requireNet } from "../_permissions.ts";

/**
 * Parses a dotted-quad IPv4 literal into 4 bytes, or returns null when `text` is not one.
 * Leading zeros are refused (they mean octal to some parsers: ambiguity is how SSRF filters fail).
 */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p[0] === "0")) return null;
    let v = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j) - 48;
      if (c < 0 || c > 9) return null;
      v = v * 10 + c;
    }
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parses an IPv6 literal (with `::` and an embedded IPv4 tail) into 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (text.includes("%")) return null; // zone ids are not supported
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const groups: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
      groups.push(parseInt(p, 16));
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 2 ? total > 7 : total !== 8) return null;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** Formats 4 bytes as dotted-quad. */
export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Formats 16 bytes as an RFC 5952 IPv6 string (longest zero run compressed, lower case). */
export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** A decoded socket address, shaped like `Deno.NetAddr`. */
export interface SocketAddress {
  /** Always "tcp" for netio's sockets. */
  transport: "tcp";
  /** IP literal: "127.0.0.1", "::1". */
  hostname: string;
  /** Port number, host order. */
  port: number;
  /** Address family. */
  family: "IPv4" | "IPv6";
}

/** The {@linkcode SocketAddress} of a decoded sockaddr. */
export function socketAddress(raw: RawSockaddr): SocketAddress {
  return raw.family === AF_INET
    ? { transport: "tcp", hostname: formatIPv4(raw.ip), port: raw.port, family: "IPv4" }
    : { transport: "tcp", hostname: formatIPv6(raw.ip), port: raw.port, family: "IPv6" };
}

/** Decodes a sockaddr_in/_in6 buffer into a {@linkcode SocketAddress}; null for other families. */
export function decodeSocketAddress(b: Uint8Array): SocketAddress | null {
  const raw = decodeSockaddr(b);
  return raw ? socketAddress(raw) : null;
}

/** "127.0.0.1:80" or "[::1]:80": an address as error messages and permission names write it. */
export function hostPort(ip: string, port: number): string {
  return `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;
}

/** A resolved address, ready for bind/connect. */
export interface ResolvedAddress {
  /** AF_INET or AF_INET6. */
  family: number;
  /** The encoded sockaddr. */
  sockaddr: Uint8Array<ArrayBuffer>;
  /** The IP literal. */
  ip: string;
  /** The port. */
  port: number;
}

/** Validates a port number: an integer in 0..65535 (0 only where `allowZero`). */
export function checkPort(port: unknown, allowZero: boolean): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${String(port)}`);
  }
  if (port === 0 && !allowZero) throw new RangeError("port 0 cannot be connected to");
  return port;
}

/** Validates a hostname argument's type and shape (no syscall, no DNS). */
export function checkHostname(hostname: unknown): string {
  if (typeof hostname !== "string") {
    throw new TypeError(`hostname must be a string, got ${typeof hostname}`);
  }
  if (hostname.length === 0 || hostname.length > 253 || /[\s\0/]/.test(hostname)) {
    throw new TypeError(`invalid hostname: ${JSON.stringify(hostname)}`);
  }
  return hostname;
}

/** Resolves an IP literal or "localhost" without DNS; null for other names. */
export function resolveLiteral(hostname: string, port: number): ResolvedAddress | null {
  if (hostname === "localhost") hostname = "127.0.0.1";
  const v4 = parseIPv4(hostname);
  if (v4) return { family: AF_INET, sockaddr: encodeSockaddrIn(v4, port), ip: hostname, port };
  const v6 = parseIPv6(hostname);
  if (v6) {
    const ip = hostname.replace(/^\[|\]$/g, "");
    return { family: AF_INET6, sockaddr: encodeSockaddrIn6(v6, port), ip, port };
  }
  return null;
}

/** Resolves a hostname: literals directly, other names through Deno's DNS resolver (A, then AAAA). */
export async function resolveAddress(hostname: string, port: number): Promise<ResolvedAddress> {
  const literal = resolveLiteral(hostname, port);
  if (literal) return literal;
  for (const type of ["A", "AAAA"] as const) {
    let records: string[] = [];
    try {
      records = await Deno.resolveDns(hostname, type);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    }
    const first = records[0];
    if (first !== undefined) {
      const r = resolveLiteral(first, port);
      if (r) return r;
    }
  }
  throw new Deno.errors.NotFound(`could not resolve hostname ${JSON.stringify(hostname)}`);
}

/**
 * Throws Deno's own permission error unless `--allow-net` covers `hostname:port`. FFI could
 * reach the network behind Deno's sandbox; netio checks first so it never does.
 */
export function checkNetPermission(hostname: string, port: number): void {
  requireNet(hostname, port);
}
