/**
 * Syscall fault injection for tests: a libc symbol that netio calls (accept4, epoll_create1,
 * epoll_ctl, epoll_wait, eventfd) answers, for a scripted number of calls, with a failure and an
 * errno of the test's choosing, then goes back to the real call. For the errors a test cannot make
 * the kernel produce on demand (EINTR, ECONNABORTED and ENFILE from accept4, EINTR from
 * epoll_wait, an eventfd or an epoll call that fails); everything else stays real. Every call is
 * counted, faked or not (an empty script only counts: recv and send are there for that).
 *
 * @module
 */

import { libc } from "../ffi/libc.ts";

/** The symbols that can be faked (their real signatures, loosely typed). */
export type FaultableSymbol =
  | "accept4"
  | "epoll_create1"
  | "epoll_ctl"
  | "epoll_wait"
  | "eventfd"
  | "recv"
  | "send";

type AnyCall = (...args: unknown[]) => number;

let errnoView: Int32Array | undefined;

/** This thread's errno, writable (netio's wrappers read it after a call returned -1). */
function errnoCell(): Int32Array {
  if (errnoView) return errnoView;
  const p = libc().__errno_location();
  if (p === null) throw new Error("__errno_location() returned NULL");
  return errnoView = new Int32Array(
    Deno.UnsafePointerView.getArrayBuffer(p, 4),
  );
}

/** What happened to the calls of a faked symbol while `body` ran. */
export interface CallLog {
  /** Every call's result, in order (-errno for an injected or real failure). */
  results: number[];
}

/**
 * Runs `body` with `name` answering from `script` first: a number is an errno to fail that call
 * with (the call returns -1 and sets errno, as libc does), `undefined` makes the real call. Past
 * the script, every call is real. The real symbol is back when `body` settles, whatever happens.
 */
export async function withFaults<T>(
  name: FaultableSymbol,
  script: readonly (number | undefined)[],
  body: (log: CallLog) => T | Promise<T>,
): Promise<T> {
  const symbols = libc() as unknown as Record<FaultableSymbol, AnyCall>;
  const real = symbols[name];
  const log: CallLog = { results: [] };
  let next = 0;
  const errno = errnoCell();
  symbols[name] = (...args: unknown[]): number => {
    const fault = next < script.length ? script[next] : undefined;
    next++;
    if (fault !== undefined) {
      errno[0] = fault;
      log.results.push(-fault);
      return -1;
    }
    const r = real(...args);
    log.results.push(r >= 0 ? r : -errno[0]!);
    return r;
  };
  try {
    return await body(log);
  } finally {
    symbols[name] = real;
  }
}
