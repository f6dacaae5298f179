/**
 * Process-wide transfer counters, one object shared by every transfer loop.
 *
 * @module
 */

/**
 * Process-wide transfer counters, from {@linkcode transferStats}. "Fallback" counts transfers
 * where the kernel refused the zero-copy call for the descriptors given (EINVAL/ENOSYS) or the
 * caller asked for `zeroCopy: false`, and the bytes they moved by plain read/write instead.
 */
export interface TransferStats {
  /** sendFile() transfers started. */
  sendFileCalls: number;
  /** Bytes sent by sendfile(2). */
  sendFileBytes: number;
  /** sendFile() transfers that fell back to pread + send. */
  sendFileFallbacks: number;
  /** Bytes sent by the pread + send fallback. */
  sendFileFallbackBytes: number;
  /** splice() transfers started (proxy() runs two). */
  spliceCalls: number;
  /** Bytes moved by splice(2) (counted once, on the way out of the pipe). */
  spliceBytes: number;
  /** splice() transfers that fell back to recv + send. */
  spliceFallbacks: number;
  /** Bytes moved by the recv + send fallback. */
  spliceFallbackBytes: number;
  /** writev(2) system calls made. */
  writevSyscalls: number;
  /** writev(2) calls that wrote only part of what was given (the rest was resumed). */
  writevPartialWrites: number;
  /** Pipes created for splice(). */
  pipesCreated: number;
  /** Times a pooled pipe was reused instead of creating one. */
  pipesReused: number;
  /** Pipes idle in the pool now (each holds two descriptors). */
  pipesIdle: number;
  /** Times a transfer waited for readiness after the kernel said EAGAIN. */
  readinessWaits: number;
}

/** @internal The process-wide counters, written by the transfer loops. */
export const stats: TransferStats = {
  sendFileCalls: 0,
  sendFileBytes: 0,
  sendFileFallbacks: 0,
  sendFileFallbackBytes: 0,
  spliceCalls: 0,
  spliceBytes: 0,
  spliceFallbacks: 0,
  spliceFallbackBytes: 0,
  writevSyscalls: 0,
  writevPartialWrites: 0,
  pipesCreated: 0,
  pipesReused: 0,
  pipesIdle: 0,
  readinessWaits: 0,
};

/**
 * A snapshot of the process-wide transfer counters: zero-copy bytes, fallbacks to read/write,
 * writev partial writes, pipes created and reused.
 *
 * @example
 * ```ts
 * import { transferStats } from "../../mod.ts";
 * const s = transferStats();
 * console.log(s.sendFileBytes, s.sendFileFallbacks, s.pipesReused);
 * ```
 */
export function transferStats(): TransferStats {
  return { ...stats };
}

// ---------------------------------------------------------------------------------------------
// Helpers
