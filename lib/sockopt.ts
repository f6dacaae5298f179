// Moved to lib/net/options.ts: this shim keeps old import paths working during the restructuring.
import { setOption } from "./net/options.ts";
export * from "./net/options.ts";

/** TCP_NODELAY on `fd` (the HTTP server's import, until it moves to the option table). */
export function setNoDelay(fd: number, on: boolean): void {
  setOption(fd, "noDelay", on, "setNoDelay");
}
