/**
 * Address handling for sockets: validation, resolution and Deno's net permission check.
 *
 * @module
 */

import { AF_INET, AF_INET6 } from "../ffi/constants.ts";
import { encodeSockaddrIn, encodeSockaddrIn6, parseIPv4, parseIPv6 } from "../ffi/structs.ts";

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
  const host = `${
    hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname
  }:${port}`;
  const desc = { name: "net", host } as const;
  let state = Deno.permissions.querySync(desc).state;
  if (state === "prompt") state = Deno.permissions.requestSync(desc).state;
  if (state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires net access to "${host}", run again with the --allow-net flag`,
    );
  }
}
