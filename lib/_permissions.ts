/**
 * The one place netio asks Deno for permissions. FFI could reach past Deno's sandbox; before netio
 * binds, connects or opens a file, it asks for exactly what Deno's own API would need, and throws
 * Deno's own `NotCapable` error when it is not granted (a prompt, where Deno would prompt).
 *
 * @module
 */

/**
 * Throws Deno's `NotCapable` unless `desc` is granted, prompting where Deno itself would.
 *
 * @example
 * ```ts ignore
 * import { requirePermission } from "./_permissions.ts";
 * requirePermission({ name: "read", path: "/etc/hosts" }, "--allow-read", "read access to \"/etc/hosts\"");
 * ```
 */
export function requirePermission(
  desc: Deno.PermissionDescriptor,
  flag: string,
  what: string,
): void {
  let state = Deno.permissions.querySync(desc).state;
  if (state === "prompt") state = Deno.permissions.requestSync(desc).state;
  if (state !== "granted") {
    throw new Deno.errors.NotCapable(`Requires ${what}, run again with the ${flag} flag`);
  }
}

/**
 * Throws Deno's `NotCapable` unless `--allow-net` covers `hostname:port`.
 *
 * @example
 * ```ts ignore
 * import { requireNet } from "./_permissions.ts";
 * requireNet("127.0.0.1", 8080);
 * ```
 */
export function requireNet(hostname: string, port: number): void {
  const host = `${
    hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname
  }:${port}`;
  requirePermission({ name: "net", host }, "--allow-net", `net access to "${host}"`);
}

/**
 * Throws Deno's `NotCapable` unless `--allow-read` covers `path`.
 *
 * @example
 * ```ts ignore
 * import { requireRead } from "./_permissions.ts";
 * requireRead("/srv/www");
 * ```
 */
export function requireRead(path: string): void {
  requirePermission({ name: "read", path }, "--allow-read", `read access to "${path}"`);
}

/**
 * True when `desc` is already granted; never prompts. For optional reads (an environment
 * variable, a file under /proc) that must not stop a program at a prompt the README does not
 * announce.
 *
 * @example
 * ```ts
 * import { granted } from "./_permissions.ts";
 * console.log(typeof granted({ name: "env", variable: "HOME" }));
 * ```
 */
export function granted(desc: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(desc).state === "granted";
}
