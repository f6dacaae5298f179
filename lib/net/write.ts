/**
 * The one home of socket writes below every user of them: {@linkcode sendSome} (send(2) with
 * MSG_NOSIGNAL), {@linkcode WritevCursor} (one resumable writev(2) step over a list of buffers)
 * and {@linkcode writev} (every byte of a list, waiting for room between steps). `TcpStream`,
 * the transfers and the HTTP server all write through these.
 *
 * @module
 */

import { IOV_MAX, MSG_NOSIGNAL } from "../../ffi/constants.ts";
import { EAGAIN, EINTR } from "../../ffi/errno.ts";
import { fail, MAX_IO, sysSend, sysWritev } from "../../ffi/libc.ts";
import { encodeIovecs, IOVEC_SIZE } from "../../ffi/structs.ts";
import { checkBytes, checkObject, checkOptionalSignal } from "../_validate.ts";
import { stats } from "../transfer/stats.ts";

/**
 * send(2) of `bytes` on `fd` with MSG_NOSIGNAL, EINTR retried: the byte count, 0 when it would
 * block (EAGAIN is a value), or -errno.
 *
 * @example
 * ```ts ignore
 * const n = sendSome(fd, bytes);
 * if (n < 0) throw fail(n, "send");
 * ```
 */
export function sendSome(fd: number, bytes: Uint8Array<ArrayBuffer>): number {
  for (;;) {
    const r = sysSend(fd, bytes, MSG_NOSIGNAL);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, a count falls through to the same `return r`
    if (r >= 0) return r;
    if (r === -EAGAIN) return 0;
    // Stryker disable next-line ConditionalExpression,UnaryOperator: equivalent, a non-blocking send(2) never sleeps, so never fails with EINTR
    if (r !== -EINTR) return r;
  }
}

// One iovec array for the whole process: it is filled and consumed inside one synchronous
// writev(2) call, so writers waiting between calls can share it.
// Stryker disable next-line ArithmeticOperator: equivalent, a larger array only wastes memory
const iovWords = new BigUint64Array(IOV_MAX * (IOVEC_SIZE / 8));
const iovBytes = new Uint8Array(iovWords.buffer);

/**
 * The position of the next unwritten byte in a list of buffers (buffer `index`, byte `skip` inside
 * it), and one writev(2) step from there that advances it. Batches of at most IOV_MAX buffers and
 * MAX_IO bytes per call; empty buffers are skipped.
 *
 * @example
 * ```ts ignore
 * const cursor = new WritevCursor();
 * const n = cursor.step(fd, [head, body]); // bytes written, 0 = would block, < 0 = -errno
 * ```
 */
export class WritevCursor {
  /** Index of the buffer holding the next unwritten byte. */
  index = 0;
  /** Bytes of that buffer already written. */
  skip = 0;

  /** Back to the start of a new list. */
  reset(): void {
    this.index = 0;
    this.skip = 0;
  }

  /**
   * One writev(2) from the cursor (EINTR retried): the byte count written (the cursor moves past
   * it), 0 when it would block, or -errno. `list` must still hold unwritten bytes.
   */
  step(fd: number, list: readonly Uint8Array<ArrayBuffer>[]): number {
    // Skip empty buffers (and any fully written one), so a batch starts on real data.
    while (list[this.index]!.byteLength === this.skip) {
      this.index++;
      this.skip = 0;
    }
    const first = list[this.index]!;
    let count = 1;
    let batch: number;
    // The MAX_IO caps below are belt and braces: Linux truncates one writev(2) to MAX_RW_COUNT
    // (2 GiB - 4 KiB, within i32) by itself, so a batch over MAX_IO changes how many bytes one
    // call may attempt, never which bytes are sent.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent, see above
    if (first.byteLength - this.skip >= MAX_IO) {
      // The result is read back as i32: keep one call's total under 2 GiB.
      batch = encodeIovecs(iovWords, [first.subarray(this.skip, this.skip + MAX_IO)], 0, 1, 0);
    } else {
      // Stryker disable next-line ArithmeticOperator: equivalent, see above (a smaller batch only)
      let sum = first.byteLength - this.skip;
      const limit = Math.min(IOV_MAX, list.length - this.index);
      while (count < limit) {
        const next = list[this.index + count]!.byteLength;
        // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: equivalent, see above
        if (sum + next > MAX_IO) break;
        // Stryker disable next-line AssignmentOperator: equivalent, see above
        sum += next;
        count++;
      }
      batch = encodeIovecs(iovWords, list, this.index, count, this.skip);
    }
    let r = sysWritev(fd, iovBytes, count);
    // Stryker disable next-line ConditionalExpression,UnaryOperator: equivalent, a non-blocking writev(2) never sleeps, so never fails with EINTR
    while (r === -EINTR) r = sysWritev(fd, iovBytes, count);
    stats.writevSyscalls++;
    // 0 never comes from a socket with bytes to send; were it to, waiting for room is safe.
    // Stryker disable next-line ConditionalExpression: equivalent, a batch starts on a non-empty buffer (the loop above), so r is never 0
    if (r === -EAGAIN || r === 0) return 0;
    // Stryker disable next-line EqualityOperator: equivalent, r === 0 returned just above
    if (r < 0) return r;
    if (r < batch) stats.writevPartialWrites++;
    this.advance(list, r);
    return r;
  }

  /** Moves past `n` bytes: whole buffers first, then into the one where the write stopped. */
  advance(list: readonly Uint8Array[], n: number): void {
    let left = n;
    while (left > 0) {
      const avail = list[this.index]!.byteLength - this.skip;
      if (left < avail) {
        this.skip += left;
        return;
      }
      left -= avail;
      this.index++;
      this.skip = 0;
    }
  }
}

/** What {@linkcode writev} writes to: a descriptor and a way to wait for room on it. */
export interface WritevTarget {
  /** The descriptor (throws ClosedError once closed). */
  readonly fd: number;
  /** Resolves when the descriptor is writable again after a would-block. */
  waitWritable(options: { signal?: AbortSignal; afterWouldBlock?: boolean }): Promise<void>;
}

/** Options of {@linkcode writev}. */
export interface WritevOptions {
  /** Aborts a write that is waiting for room (bytes already written stay written). */
  signal?: AbortSignal;
}

/**
 * Writes every byte of `bufs`, in order, with writev(2): one syscall for many buffers (an HTTP
 * head and its body, say), no concatenation. A partial write resumes at the exact byte it
 * stopped at; more than IOV_MAX (1024) buffers are sent in batches. Resolves with the total byte
 * count once everything is written, or rejects (ErrnoError EPIPE/ECONNRESET for a reset peer).
 *
 * The iovec array is preallocated, and the buffers are referenced by this call until it returns:
 * do not modify them before the promise settles.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream, writev } from "../../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * const enc = new TextEncoder();
 * const n = await writev(server, [enc.encode("HTTP/1.1 200 OK\r\n\r\n"), enc.encode("hi")]);
 * const buf = new Uint8Array(n);
 * let got = 0;
 * while (got < n) got += (await client.read(buf.subarray(got))) ?? 0;
 * console.log(n); // 21
 * ```
 */
export async function writev(
  out: WritevTarget,
  bufs: readonly Uint8Array[],
  options: WritevOptions = {},
): Promise<number> {
  if (
    typeof out !== "object" || out === null ||
    typeof (out as WritevTarget).waitWritable !== "function"
  ) {
    throw new TypeError("writev: out must be a TcpStream");
  }
  if (!Array.isArray(bufs)) throw new TypeError("writev expects an array of Uint8Array");
  checkObject(options, "writev options");
  const signal = checkOptionalSignal(options.signal);
  const list = bufs as readonly Uint8Array<ArrayBuffer>[];
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    total += checkBytes(list[i], `writev: bufs[${i}]`).byteLength;
  }
  signal?.throwIfAborted();
  if (total === 0) {
    void out.fd; // throws ClosedError on a closed stream, like every other write
    return 0;
  }
  const cursor = new WritevCursor();
  let written = 0;
  while (written < total) {
    const r = cursor.step(out.fd, list);
    if (r > 0) {
      written += r;
      continue;
    }
    if (r === 0) {
      stats.readinessWaits++;
      await out.waitWritable(
        signal ? { signal, afterWouldBlock: true } : { afterWouldBlock: true },
      );
      continue;
    }
    throw fail(r, "writev");
  }
  return written;
}
