/**
 * Zero-copy transfers: {@linkcode sendFile} (file -> socket by sendfile(2)), {@linkcode splice}
 * and {@linkcode proxy} (socket -> socket through a pipe by splice(2)), and {@linkcode writev}
 * (many buffers, one syscall). Bytes move inside the kernel; JavaScript only counts them.
 *
 * Every loop here is the non-blocking kind: call until the kernel says EAGAIN, then wait for the
 * reactor's readiness edge, never a `usleep` spin. A fast peer keeps a socket writable, so a loop
 * might never wait: every step is charged to the reactor's turn budget instead, one unit per
 * {@linkcode BUDGET_UNIT_BYTES} moved, and waits for the next turn once the budget is spent. Timers,
 * other sockets and Deno's own I/O keep their turns (see the reactor's module documentation).
 *
 * SIGPIPE: sendfile, writev and splice cannot take MSG_NOSIGNAL, so a write to a reset peer raises
 * SIGPIPE. Deno ignores SIGPIPE for the whole process (the Rust runtime sets it to SIG_IGN before
 * `main`), so the call fails with EPIPE and netio turns that into an {@linkcode ErrnoError};
 * `tests/transfer_test.ts` proves the process survives for each of the three calls.
 *
 * This module imports only types from `socket.ts` (which imports {@linkcode writev} from here for
 * `TcpStream.writev`), so the two modules can load in either order.
 *
 * @module
 */

import {
  F_GETPIPE_SZ,
  F_SETPIPE_SZ,
  IOV_MAX,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  SPLICE_F_MOVE,
  SPLICE_F_NONBLOCK,
} from "../ffi/constants.ts";
import { EAGAIN, EINTR, EINVAL, ENOSYS, ENOTCONN, ErrnoError } from "../ffi/errno.ts";
import {
  check,
  fail,
  MAX_IO,
  sysClose,
  sysFcntl,
  sysFstat,
  sysOpen,
  sysPipe2,
  sysPread,
  sysSendfile,
  sysSplice,
  sysWritev,
} from "../ffi/libc.ts";
import { decodeStat, encodeIovecs, IOVEC_SIZE, STAT_SIZE } from "../ffi/structs.ts";
import { ClosedError, OwnedFd } from "./fd.ts";
import type { TcpStream } from "./socket.ts";

/**
 * Bytes a transfer moves per unit of the reactor's turn budget (see `ReactorOptions.turnBudget`):
 * a 4 MiB sendfile step costs 64 units, as much as 64 socket reads of one event each.
 */
export const BUDGET_UNIT_BYTES: number = 64 * 1024;

/** Buffer size of the read/write fallbacks (when the kernel refuses a zero-copy call). */
const FALLBACK_CHUNK = 64 * 1024;

/** Idle pipes kept for reuse by {@linkcode splice}; more are closed on release. */
const MAX_IDLE_PIPES = 16;

/** Default pipe capacity for {@linkcode splice}: 1 MiB, the unprivileged `pipe-max-size`. */
const DEFAULT_PIPE_SIZE = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Statistics

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

const stats: TransferStats = {
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
 * import { transferStats } from "../mod.ts";
 * const s = transferStats();
 * console.log(s.sendFileBytes, s.sendFileFallbacks, s.pipesReused);
 * ```
 */
export function transferStats(): TransferStats {
  return { ...stats, pipesIdle: idlePipes.length };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Gives Deno's macrotask queue (timers, other I/O, the reactor's pump) one turn. */
/**
 * Charges `bytes` moved without waiting to the turn budget of `stream`'s reactor. Returns the wait
 * for the next turn when the budget is spent, undefined while it lasts.
 */
function charge(stream: TcpStream, bytes: number): Promise<void> | undefined {
  const reactor = stream.reactor;
  return reactor.spend(Math.ceil(bytes / BUDGET_UNIT_BYTES)) ? undefined : reactor.nextTurn();
}

function checkStream(stream: unknown, what: string): TcpStream {
  if (
    typeof stream !== "object" || stream === null ||
    typeof (stream as TcpStream).waitWritable !== "function" ||
    typeof (stream as TcpStream).waitReadable !== "function"
  ) {
    throw new TypeError(`${what} must be a TcpStream`);
  }
  return stream as TcpStream;
}

function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
  return signal;
}

function checkCallback<T>(fn: T | undefined, what: string): T | undefined {
  if (fn !== undefined && typeof fn !== "function") {
    throw new TypeError(`${what} must be a function`);
  }
  return fn;
}

function checkCount(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
  return value;
}

function checkOptions(options: unknown, what: string): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what} options must be an object`);
  }
}

// ---------------------------------------------------------------------------------------------
// Files

const statBuf = new Uint8Array(STAT_SIZE);
const encoder = new TextEncoder();

/** fstat(2) on an open descriptor: type bits and size. */
function fstat(fd: number): { mode: number; size: number } {
  check(sysFstat(fd, statBuf), "fstat");
  return decodeStat(statBuf);
}

/** Throws Deno's own NotCapable error unless `--allow-read` covers `path`. */
function checkReadPermission(path: string): void {
  const desc = { name: "read", path } as const;
  let state = Deno.permissions.querySync(desc).state;
  if (state === "prompt") state = Deno.permissions.requestSync(desc).state;
  if (state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires read access to "${path}", run again with the --allow-read flag`,
    );
  }
}

/**
 * An open regular file, read-only, from {@linkcode openFile}: its descriptor and size, for
 * {@linkcode sendFile}. Close it with `close()` or `using`; closing twice is harmless.
 *
 * @example
 * ```ts
 * import { openFile } from "../mod.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello");
 * {
 *   using file = openFile(path);
 *   console.log(file.size); // 5
 * }
 * await Deno.remove(path);
 * ```
 */
export class FileHandle {
  #fd: OwnedFd;
  #size: number;
  #path: string;

  /** @internal Use {@linkcode openFile}. */
  constructor(fd: number, size: number, path: string) {
    this.#fd = new OwnedFd(fd);
    this.#size = size;
    this.#path = path;
  }

  /** The path the file was opened by. */
  get path(): string {
    return this.#path;
  }

  /** Size in bytes when opened (sendFile checks the current size again before sending). */
  get size(): number {
    return this.#size;
  }

  /** The descriptor (read-only, for advanced use). Throws ClosedError once closed. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** The current size in bytes (a fresh fstat). */
  currentSize(): number {
    return fstat(this.#fd.fd).size;
  }

  /** Closes the descriptor once; later calls do nothing. */
  close(): void {
    this.#fd.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens a regular file for reading (open O_RDONLY|O_CLOEXEC) after checking `--allow-read` for
 * the path, and reads its size with fstat. A directory throws ErrnoError EISDIR, a missing file
 * ENOENT; FIFOs, devices and sockets throw ErrnoError EINVAL (they have no size to send).
 *
 * O_NONBLOCK is added to the open flags: it changes nothing for a regular file, and keeps a FIFO
 * given by mistake from blocking the thread until a writer appears.
 *
 * @example
 * ```ts
 * import { openFile } from "../mod.ts";
 * const path = await Deno.makeTempFile();
 * using file = openFile(path);
 * console.log(file.size); // 0
 * file.close();
 * await Deno.remove(path);
 * ```
 */
export function openFile(path: string | URL): FileHandle {
  if (path instanceof URL) {
    if (path.protocol !== "file:") throw new TypeError(`openFile needs a file: URL, got ${path}`);
    path = decodeURIComponent(path.pathname);
  }
  if (typeof path !== "string") throw new TypeError("openFile expects a path string or file URL");
  if (path.length === 0 || path.includes("\0")) {
    throw new TypeError(`invalid path: ${JSON.stringify(path)}`);
  }
  checkReadPermission(path);
  const bytes = encoder.encode(path);
  const cPath = new Uint8Array(bytes.length + 1);
  cPath.set(bytes);
  let fd = sysOpen(cPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  while (fd === -EINTR) fd = sysOpen(cPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw fail(fd, "open");
  try {
    const { mode, size } = fstat(fd);
    const type = mode & S_IFMT;
    if (type === S_IFDIR) throw new ErrnoError(21, /* EISDIR */ "open");
    if (type !== S_IFREG) throw new ErrnoError(EINVAL, "open");
    return new FileHandle(fd, size, path);
  } catch (e) {
    sysClose(fd);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// sendFile

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
 * import { sendFile, TcpListener, TcpStream } from "../mod.ts";
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
  checkOptions(options, "sendFile");
  const offset = checkCount(options.offset, "offset") ?? 0;
  const length = checkCount(options.length, "length");
  const signal = checkSignal(options.signal);
  const onProgress = checkCallback(options.onProgress, "onProgress");
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
  const offBuf = new Uint8Array(8);
  const offView = new DataView(offBuf.buffer);
  let sent = 0;
  while (sent < total) {
    signal?.throwIfAborted();
    offView.setBigInt64(0, BigInt(offset + sent), true);
    // Both getters throw ClosedError if either side was closed meanwhile: no stale fd reaches libc.
    const r = sysSendfile(out.fd, handle.fd, offBuf, total - sent);
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

// ---------------------------------------------------------------------------------------------
// writev

// One iovec array for the whole process: it is filled and consumed inside one synchronous
// writev(2) call, so transfers waiting between calls can share it.
const iovWords = new BigUint64Array(IOV_MAX * (IOVEC_SIZE / 8));
const iovBytes = new Uint8Array(iovWords.buffer);

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
 * import { TcpListener, TcpStream, writev } from "../mod.ts";
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
  out: TcpStream,
  bufs: readonly Uint8Array[],
  options: WritevOptions = {},
): Promise<number> {
  checkStream(out, "writev: out");
  if (!Array.isArray(bufs)) throw new TypeError("writev expects an array of Uint8Array");
  checkOptions(options, "writev");
  const signal = checkSignal(options.signal);
  const list = bufs as readonly Uint8Array<ArrayBuffer>[];
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    if (!(b instanceof Uint8Array)) throw new TypeError(`writev: bufs[${i}] is not a Uint8Array`);
    total += b.byteLength;
  }
  signal?.throwIfAborted();
  if (total === 0) {
    void out.fd; // throws ClosedError on a closed stream, like every other write
    return 0;
  }
  // The position of the next unwritten byte: buffer `index`, byte `skip` inside it.
  let index = 0;
  let skip = 0;
  let written = 0;
  while (written < total) {
    // Skip empty buffers (and any fully written one), so a batch starts on real data.
    while (list[index]!.byteLength === skip) {
      index++;
      skip = 0;
    }
    const first = list[index]!;
    let count: number;
    let batch: number;
    if (first.byteLength - skip >= MAX_IO) {
      // The result is read back as i32: keep one call's total under 2 GiB.
      batch = encodeIovecs(iovWords, [first.subarray(skip, skip + MAX_IO)], 0, 1, 0);
      count = 1;
    } else {
      count = 1;
      let sum = first.byteLength - skip;
      const limit = Math.min(IOV_MAX, list.length - index);
      while (count < limit) {
        const next = list[index + count]!.byteLength;
        if (sum + next > MAX_IO) break;
        sum += next;
        count++;
      }
      batch = encodeIovecs(iovWords, list, index, count, skip);
    }
    const r = sysWritev(out.fd, iovBytes, count);
    stats.writevSyscalls++;
    if (r > 0) {
      written += r;
      if (r < batch) stats.writevPartialWrites++;
      // Advance past r bytes: whole buffers first, then into the one where the write stopped.
      let left = r;
      while (left > 0) {
        const avail = list[index]!.byteLength - skip;
        if (left < avail) {
          skip += left;
          left = 0;
        } else {
          left -= avail;
          index++;
          skip = 0;
        }
      }
      continue;
    }
    if (r === -EAGAIN) {
      stats.readinessWaits++;
      await out.waitWritable(
        signal ? { signal, afterWouldBlock: true } : { afterWouldBlock: true },
      );
      continue;
    }
    if (r === -EINTR) continue;
    if (r === 0) throw new Error(`writev wrote 0 of ${batch} bytes`); // never for a socket
    throw fail(r, "writev");
  }
  return written;
}

// ---------------------------------------------------------------------------------------------
// Pipes for splice

interface Pipe {
  readFd: number;
  writeFd: number;
  size: number;
}

const idlePipes: Pipe[] = [];
const pipeFds = new Uint8Array(8);
const pipeFdsView = new DataView(pipeFds.buffer);

function closePipe(p: Pipe): void {
  sysClose(p.readFd);
  sysClose(p.writeFd);
}

/** Sets a pipe's capacity; above the unprivileged maximum (EPERM) the pipe keeps what it has. */
function resizePipe(p: Pipe, size: number): void {
  let r = sysFcntl(p.writeFd, F_SETPIPE_SZ, size);
  if (r < 0) r = sysFcntl(p.writeFd, F_GETPIPE_SZ, 0);
  p.size = r > 0 ? r : 65536;
}

function acquirePipe(size: number): Pipe {
  const p = idlePipes.pop();
  if (p) {
    stats.pipesReused++;
    if (p.size !== size) resizePipe(p, size);
    return p;
  }
  check(sysPipe2(pipeFds, O_CLOEXEC | O_NONBLOCK), "pipe2");
  const pipe: Pipe = {
    readFd: pipeFdsView.getInt32(0, true),
    writeFd: pipeFdsView.getInt32(4, true),
    size: 0,
  };
  stats.pipesCreated++;
  resizePipe(pipe, size);
  return pipe;
}

/** Returns an empty pipe to the pool; a pipe that may still hold bytes is closed instead. */
function releasePipe(p: Pipe, empty: boolean): void {
  if (empty && idlePipes.length < MAX_IDLE_PIPES) idlePipes.push(p);
  else closePipe(p);
}

/**
 * Closes the pipes {@linkcode splice} keeps for reuse (two descriptors each) and returns how many
 * were closed. Call it when a program is done proxying, or before counting descriptors.
 *
 * @example
 * ```ts
 * import { closeIdlePipes } from "../mod.ts";
 * console.log(closeIdlePipes()); // 0 when nothing was spliced yet
 * ```
 */
export function closeIdlePipes(): number {
  const n = idlePipes.length;
  for (const p of idlePipes.splice(0)) closePipe(p);
  return n;
}

// ---------------------------------------------------------------------------------------------
// splice and proxy

/** Options of {@linkcode splice}. */
export interface SpliceOptions {
  /** Stop after this many bytes (default: until `from` reaches EOF). */
  length?: number;
  /**
   * Aborts the transfer: the promise rejects with the signal's reason. Bytes already read from
   * `from` but not yet written to `to` (at most one pipe's worth) are lost.
   */
  signal?: AbortSignal;
  /** Called after each chunk written to `to` with the bytes moved so far. */
  onProgress?: (moved: number) => void;
  /** Pipe capacity in bytes (default 1 MiB), set with F_SETPIPE_SZ; rounded up by the kernel. */
  pipeSize?: number;
  /** `false` moves the bytes with recv + send through a buffer instead of splice(2). */
  zeroCopy?: boolean;
}

// No SPLICE_F_MORE: like MSG_MORE it corks the socket, holding a partial segment for up to 200 ms.
const SPLICE_FLAGS = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

/**
 * Moves bytes from one stream to another through a pipe with splice(2), inside the kernel, until
 * `from` reaches EOF or `length` bytes have moved. Resolves with the bytes moved (less than
 * `length` only when `from` ended first). Does not close or half-close either stream.
 *
 * Pipes come from a small pool and go back to it empty (see {@linkcode closeIdlePipes}). Where the
 * kernel refuses splice for these descriptors (EINVAL, ENOSYS) the bytes move by recv + send,
 * counted in {@linkcode transferStats}. A reset peer rejects with ErrnoError.
 *
 * @example
 * ```ts
 * import { closeIdlePipes, splice, TcpListener, TcpStream } from "../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * using a = await TcpStream.connect({ hostname: "127.0.0.1", port });
 * using a2 = await listener.accept();
 * using b = await TcpStream.connect({ hostname: "127.0.0.1", port });
 * using b2 = await listener.accept();
 * await a.writeAll(new TextEncoder().encode("relay me"));
 * const moved = await splice(a2, b, { length: 8 }); // a2 -> b, inside the kernel
 * const buf = new Uint8Array(8);
 * let got = 0;
 * while (got < 8) got += (await b2.read(buf.subarray(got))) ?? 0;
 * console.log(moved, new TextDecoder().decode(buf)); // 8 "relay me"
 * closeIdlePipes();
 * ```
 */
export async function splice(
  from: TcpStream,
  to: TcpStream,
  options: SpliceOptions = {},
): Promise<number> {
  checkStream(from, "splice: from");
  checkStream(to, "splice: to");
  checkOptions(options, "splice");
  const length = checkCount(options.length, "length") ?? Number.POSITIVE_INFINITY;
  const signal = checkSignal(options.signal);
  const onProgress = checkCallback(options.onProgress, "onProgress");
  const pipeSize = checkCount(options.pipeSize, "pipeSize") ?? DEFAULT_PIPE_SIZE;
  if (pipeSize < 4096 || pipeSize > MAX_IO) {
    throw new RangeError(`pipeSize must be in 4096..${MAX_IO}, got ${pipeSize}`);
  }
  signal?.throwIfAborted();
  void from.fd; // ClosedError before any pipe is taken
  void to.fd;
  stats.spliceCalls++;
  if (options.zeroCopy === false) {
    stats.spliceFallbacks++;
    return await copyByBuffer(from, to, length, 0, signal, onProgress);
  }
  const pipe = acquirePipe(pipeSize);
  let inPipe = 0;
  try {
    const moved = await spliceThrough(pipe, from, to, length, signal, onProgress, (n) => {
      inPipe = n;
    });
    return moved;
  } finally {
    releasePipe(pipe, inPipe === 0);
  }
}

async function spliceThrough(
  pipe: Pipe,
  from: TcpStream,
  to: TcpStream,
  length: number,
  signal: AbortSignal | undefined,
  onProgress: ((moved: number) => void) | undefined,
  report: (inPipe: number) => void,
): Promise<number> {
  const wait = signal ? { signal } : {};
  let taken = 0; // bytes read from `from` into the pipe
  let moved = 0; // bytes written from the pipe to `to`
  let inPipe = 0;
  let eof = false;
  while (true) {
    signal?.throwIfAborted();
    let progressed = false;
    let step = 0; // bytes through the pipe this iteration, in and out, for the turn budget
    // Fill: socket -> pipe. EAGAIN means "no data" only when the pipe is empty: with data in it,
    // the pipe itself may be out of slots (each skb fragment takes one page slot, whatever its
    // size), so readiness is only awaited on `from` once the pipe is drained (below).
    if (!eof && taken < length && inPipe < pipe.size) {
      const want = Math.min(pipe.size - inPipe, length - taken);
      const r = sysSplice(from.fd, pipe.writeFd, want, SPLICE_FLAGS);
      if (r > 0) {
        taken += r;
        inPipe += r;
        step += r;
        report(inPipe);
        progressed = true;
      } else if (r === 0) {
        eof = true;
        progressed = true;
      } else if (r === -EINVAL || r === -ENOSYS) {
        if (inPipe === 0 && moved === 0) {
          stats.spliceFallbacks++;
          return await copyByBuffer(from, to, length, 0, signal, onProgress);
        }
        throw fail(r, "splice");
      } else if (r !== -EAGAIN && r !== -EINTR) {
        throw fail(r, "splice");
      }
    }
    // Drain: pipe -> socket.
    if (inPipe > 0) {
      const r = sysSplice(pipe.readFd, to.fd, inPipe, SPLICE_FLAGS);
      if (r > 0) {
        inPipe -= r;
        moved += r;
        step += r;
        report(inPipe);
        stats.spliceBytes += r;
        onProgress?.(moved);
        progressed = true;
      } else if (r === -EINVAL || r === -ENOSYS) {
        throw fail(r, "splice"); // bytes are in the pipe already: no clean fallback
      } else if (r !== -EAGAIN && r !== -EINTR) {
        throw fail(r, "splice");
      }
    }
    if (inPipe === 0 && (eof || taken >= length)) return moved;
    if (progressed) {
      const turn = charge(to, step);
      if (turn) await turn;
      continue;
    }
    // No progress: with bytes in the pipe, `to` is full (its splice said EAGAIN); otherwise the
    // pipe is empty and `from` said EAGAIN. Either way an edge will come for the one we wait on.
    stats.readinessWaits++;
    if (inPipe > 0) await to.waitWritable({ ...wait, afterWouldBlock: true });
    else await from.waitReadable({ ...wait, afterWouldBlock: true });
  }
}

async function copyByBuffer(
  from: TcpStream,
  to: TcpStream,
  length: number,
  moved: number,
  signal: AbortSignal | undefined,
  onProgress: ((moved: number) => void) | undefined,
): Promise<number> {
  const wait = signal ? { signal } : {};
  const buf = new Uint8Array(FALLBACK_CHUNK);
  while (moved < length) {
    signal?.throwIfAborted();
    const n = from.tryRead(buf.subarray(0, Math.min(buf.byteLength, length - moved)));
    if (n === null) break;
    if (n === 0) {
      stats.readinessWaits++;
      await from.waitReadable(wait);
      continue;
    }
    let chunk = buf.subarray(0, n);
    while (chunk.byteLength > 0) {
      const w = to.tryWrite(chunk);
      if (w === 0) {
        stats.readinessWaits++;
        await to.waitWritable(wait);
        continue;
      }
      chunk = chunk.subarray(w);
      moved += w;
      stats.spliceFallbackBytes += w;
      onProgress?.(moved);
    }
    const turn = charge(to, n);
    if (turn) await turn;
  }
  return moved;
}

/** Options of {@linkcode proxy}. */
export interface ProxyOptions {
  /** Stops both directions; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Pipe capacity per direction (see {@linkcode SpliceOptions.pipeSize}). */
  pipeSize?: number;
  /** `false` relays with recv + send instead of splice(2). */
  zeroCopy?: boolean;
}

/** Bytes relayed by {@linkcode proxy}, per direction. */
export interface ProxyResult {
  /** Bytes read from `a` and written to `b`. */
  aToB: number;
  /** Bytes read from `b` and written to `a`. */
  bToA: number;
}

/**
 * Relays two streams both ways with {@linkcode splice} until both directions are done. When one
 * side sends EOF, the other side's write half is shut (`closeWrite`), so half-closed
 * conversations work; the other direction keeps going. Resolves with the bytes moved each way.
 * If either direction fails (a reset peer), the other is stopped and the promise rejects with
 * that error. Neither stream is closed: that is the caller's job.
 *
 * @example
 * ```ts
 * import { closeIdlePipes, proxy, TcpListener, TcpStream } from "../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port });
 * using clientSide = await listener.accept();
 * using upstreamSide = await TcpStream.connect({ hostname: "127.0.0.1", port });
 * using upstream = await listener.accept();
 * const relay = proxy(clientSide, upstreamSide);
 * await client.writeAll(new TextEncoder().encode("ping"));
 * client.closeWrite(); // EOF travels through the proxy...
 * const buf = new Uint8Array(8);
 * console.log(await upstream.read(buf), await upstream.read(buf)); // 4 null
 * upstream.closeWrite(); // ...and back
 * console.log(await client.read(buf)); // null
 * console.log(await relay); // { aToB: 4, bToA: 0 }
 * closeIdlePipes();
 * ```
 */
export async function proxy(
  a: TcpStream,
  b: TcpStream,
  options: ProxyOptions = {},
): Promise<ProxyResult> {
  checkStream(a, "proxy: a");
  checkStream(b, "proxy: b");
  checkOptions(options, "proxy");
  const signal = checkSignal(options.signal);
  signal?.throwIfAborted();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal!.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const spliceOptions: SpliceOptions = { signal: stop.signal };
  if (options.pipeSize !== undefined) spliceOptions.pipeSize = options.pipeSize;
  if (options.zeroCopy !== undefined) spliceOptions.zeroCopy = options.zeroCopy;
  const direction = async (from: TcpStream, to: TcpStream): Promise<number> => {
    try {
      const n = await splice(from, to, spliceOptions);
      shutWrite(to);
      return n;
    } catch (e) {
      // Stop the other direction; the first error is the one reported.
      if (!stop.signal.aborted) stop.abort(e);
      throw e;
    }
  };
  try {
    const [ab, ba] = await Promise.allSettled([direction(a, b), direction(b, a)]);
    if (stop.signal.aborted) throw stop.signal.reason;
    if (ab.status === "rejected") throw ab.reason;
    if (ba.status === "rejected") throw ba.reason;
    return { aToB: ab.value, bToA: ba.value };
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Passes EOF on; a peer that is already gone (ENOTCONN) has nothing left to tell. */
function shutWrite(stream: TcpStream): void {
  try {
    stream.closeWrite();
  } catch (e) {
    if (e instanceof ClosedError) return;
    if (e instanceof ErrnoError && e.errno === ENOTCONN) return;
    throw e;
  }
}
