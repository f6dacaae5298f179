/**
 * {@linkcode sendFile}: file -> socket with sendfile(2), 64-bit offsets, partial sends resumed,
 * and a pread + send fallback where the kernel refuses.
 *
 * SIGPIPE: sendfile cannot take MSG_NOSIGNAL, so a write to a reset peer raises SIGPIPE. Deno
 * ignores SIGPIPE for the whole process, so the call fails with EPIPE and becomes an ErrnoError.
 *
 * @module
 */

import { EAGAIN, EINTR, EINVAL, ENOSYS } from "../../ffi/errno.ts";
import { fail, sysPread, sysSendfile } from "../../ffi/libc.ts";
import { Int64Cell } from "../../ffi/structs.ts";
import { checkStream, type TcpStream } from "../net/stream.ts";
import {
  checkObject,
  checkOptionalByteCount,
  checkOptionalFunction,
  checkOptionalSignal,
} from "../_validate.ts";
import { charge } from "./_budget.ts";

/** Buffer size of the read/write fallback (when the kernel refuses sendfile). */
const FALLBACK_CHUNK = 64 * 1024;

import { FileHandle, openFile } from "./file.ts";
import { stats } from "./stats.ts";

/** Options of {@linkcode sendFile}. */
export interface SendFileOptions {
  /** First byte of the file to send (default 0). Beyond the end of the file: RangeError. */
  offset?: number;
  /** Bytes to send (default: to the end of the file). Past the end of the file: RangeError. */
  length?: number;
  /** Aborts the transfer: the promise rejects with the signal's reason; the stream stays open. */
  signal?: AbortSignal;
  /** Called after each chunk with the bytes sent so far and the total to send. */
  onProgress?: (sent: number, total: number) => void;
  /** `false` sends with pread + send instead of sendfile(2), as the kernel-refused fallback does. */
  zeroCopy?: boolean;
}

/**
 * Sends a file, or a byte range of it, to a stream with sendfile(2): the bytes go from the page
 * cache to the socket without passing through JavaScript. Resolves with the bytes sent (always
 * the whole range; anything less is an error).
 *
 * `file` is a path (opened and closed here, `--allow-read` checked) or a {@linkcode FileHandle}
 * (left open). Offsets are 64-bit: files over 4 GiB work. Partial sends are resumed after the
 * socket becomes writable again. A file that shrinks during the send rejects with
 * `Deno.errors.UnexpectedEof` rather than spinning on sendfile returning 0. A reset peer rejects
 * with ErrnoError EPIPE or ECONNRESET. Where the kernel refuses sendfile for the descriptors
 * (EINVAL, ENOSYS) the rest is sent with pread + send and counted in {@linkcode transferStats}.
 *
 * @example
 * ```ts
 * import { sendFile, TcpListener, TcpStream } from "../../mod.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello, file");
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * const sent = await sendFile(server, path, { offset: 7 });
 * const buf = new Uint8Array(sent);
 * await client.read(buf);
 * console.log(sent, new TextDecoder().decode(buf)); // 4 "file"
 * await Deno.remove(path);
 * ```
 */
export async function sendFile(
  out: TcpStream,
  file: string | URL | FileHandle,
  options: SendFileOptions = {},
): Promise<number> {
  checkStream(out, "sendFile: out");
  checkObject(options, "sendFile options");
  const offset = checkOptionalByteCount(options.offset, "offset") ?? 0;
  const length = checkOptionalByteCount(options.length, "length");
  const signal = checkOptionalSignal(options.signal);
  const onProgress = checkOptionalFunction(options.onProgress, "onProgress");
  if (!(file instanceof FileHandle) && typeof file !== "string" && !(file instanceof URL)) {
    throw new TypeError("sendFile: file must be a path, a file URL or a FileHandle");
  }
  signal?.throwIfAborted();
  const owned = file instanceof FileHandle ? undefined : openFile(file);
  const handle = owned ?? (file as FileHandle);
  try {
    // The size now, not at open: the caller may have kept the handle while the file changed.
    const size = handle.currentSize();
    if (offset > size) {
      throw new RangeError(`offset ${offset} is beyond the end of the file (${size} bytes)`);
    }
    const total = length ?? size - offset;
    if (offset + total > size) {
      throw new RangeError(
        `offset ${offset} + length ${total} is beyond the end of the file (${size} bytes)`,
      );
    }
    stats.sendFileCalls++;
    if (options.zeroCopy === false) {
      stats.sendFileFallbacks++;
      return await sendByCopy(out, handle, offset, total, 0, signal, onProgress);
    }
    return await sendByKernel(out, handle, offset, total, signal, onProgress);
  } finally {
    owned?.close();
  }
}

async function sendByKernel(
  out: TcpStream,
  handle: FileHandle,
  offset: number,
  total: number,
  signal: AbortSignal | undefined,
  onProgress: ((sent: number, total: number) => void) | undefined,
): Promise<number> {
  // sendfile's off_t* in/out parameter: always 64-bit on 64-bit Linux, so > 4 GiB offsets work.
  const offsetCell = new Int64Cell();
  let sent = 0;
  while (sent < total) {
    signal?.throwIfAborted();
    offsetCell.value = offset + sent;
    // Both getters throw ClosedError if either side was closed meanwhile: no stale fd reaches libc.
    const r = sysSendfile(out.fd, handle.fd, offsetCell.bytes, total - sent);
    if (r > 0) {
      sent += r;
      stats.sendFileBytes += r;
      onProgress?.(sent, total);
      const turn = sent < total ? charge(out, r) : undefined;
      if (turn) await turn;
      continue;
    }
    if (r === 0) throw shrunk(handle, offset + sent);
    if (r === -EAGAIN) {
      stats.readinessWaits++;
      await out.waitWritable(
        signal ? { signal, afterWouldBlock: true } : { afterWouldBlock: true },
      );
      continue;
    }
    if (r === -EINTR) continue;
    if (r === -EINVAL || r === -ENOSYS) {
      // The kernel cannot splice from this file (or into this socket): copy the rest instead.
      stats.sendFileFallbacks++;
      return await sendByCopy(out, handle, offset, total, sent, signal, onProgress);
    }
    throw fail(r, "sendfile");
  }
  return sent;
}

async function sendByCopy(
  out: TcpStream,
  handle: FileHandle,
  offset: number,
  total: number,
  sent: number,
  signal: AbortSignal | undefined,
  onProgress: ((sent: number, total: number) => void) | undefined,
): Promise<number> {
  // Stryker disable next-line ArithmeticOperator: equivalent, a larger buffer changes nothing: every read below is capped at total - sent
  const buf = new Uint8Array(Math.min(FALLBACK_CHUNK, Math.max(1, total - sent)));
  while (sent < total) {
    signal?.throwIfAborted();
    const want = Math.min(buf.byteLength, total - sent);
    let n = sysPread(handle.fd, buf.subarray(0, want), offset + sent);
    while (n === -EINTR) n = sysPread(handle.fd, buf.subarray(0, want), offset + sent);
    if (n < 0) throw fail(n, "pread");
    if (n === 0) throw shrunk(handle, offset + sent);
    let chunk = buf.subarray(0, n);
    while (chunk.byteLength > 0) {
      const w = out.tryWrite(chunk); // MSG_NOSIGNAL; 0 = would block
      if (w === 0) {
        stats.readinessWaits++;
        await out.waitWritable(signal ? { signal } : {});
        continue;
      }
      chunk = chunk.subarray(w);
      sent += w;
      stats.sendFileFallbackBytes += w;
      onProgress?.(sent, total);
    }
    const turn = sent < total ? charge(out, n) : undefined;
    if (turn) await turn;
  }
  return sent;
}

function shrunk(handle: FileHandle, at: number): Error {
  return new Deno.errors.UnexpectedEof(
    `sendFile: ${handle.path} ended at byte ${at} while being sent (the file shrank)`,
  );
}
