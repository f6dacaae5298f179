/**
 * Transfers on the reactor's turn budget: a fast peer keeps a socket writable, so a transfer loop
 * might never wait for readiness; every step is charged instead, one unit per
 * {@linkcode BUDGET_UNIT_BYTES}, and waits for the next turn once the budget is spent.
 *
 * @module
 */

import type { TcpStream } from "../net/stream.ts";

/**
 * Bytes a transfer moves per unit of the reactor's turn budget (see `ReactorOptions.turnBudget`):
 * a 4 MiB sendfile step costs 64 units, as much as 64 socket reads of one event each.
 */
export const BUDGET_UNIT_BYTES: number = 64 * 1024;

/** Gives Deno's macrotask queue (timers, other I/O, the reactor's pump) one turn. */
/**
 * Charges `bytes` moved without waiting to the turn budget of `stream`'s reactor. Returns the wait
 * for the next turn when the budget is spent, undefined while it lasts.
 */
export function charge(stream: TcpStream, bytes: number): Promise<void> | undefined {
  const reactor = stream.reactor;
  return reactor.spend(Math.ceil(bytes / BUDGET_UNIT_BYTES)) ? undefined : reactor.nextTurn();
}
