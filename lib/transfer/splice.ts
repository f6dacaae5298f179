/**
 * {@linkcode splice} (socket -> pipe -> socket with splice(2)) and {@linkcode proxy} (both
 * directions until both ends are done, half-closes passed on), with a pool of pipes.
 *
 * @module
 */

import {
  F_GETPIPE_SZ,
  F_SETPIPE_SZ,
  O_CLOEXEC,
  O_NONBLOCK,
  SPLICE_F_MOVE,
  SPLICE_F_NONBLOCK,
} from "../../ffi/constants.ts";
import { EAGAIN, EINTR, EINVAL, ENOSYS, ENOTCONN, ErrnoError } from "../../ffi/errno.ts";
import { check, fail, MAX_IO, sysClose, sysFcntl, sysPipe2, sysSplice } from "../../ffi/libc.ts";
import { IntCell } from "../../ffi/structs.ts";
import { ClosedError } from "../net/fd.ts";
import { checkStream, type TcpStream } from "../net/stream.ts";
import {
  checkObject,
  checkOptionalByteCount,
  checkOptionalFunction,
  checkOptionalSignal,
} from "../_validate.ts";
import { charge } from "./_budget.ts";
import { stats } from "./stats.ts";

/** Buffer size of the recv/send fallback (when the kernel refuses splice). */
const FALLBACK_CHUNK = 64 * 1024;

/** Idle pipes kept for reuse by {@linkcode splice}; more are closed on release. */
const MAX_IDLE_PIPES = 16;

/** A pipe's capacity when the kernel will not say: its default, 16 pages. */
const DEFAULT_KERNEL_PIPE_SIZE = 64 * 1024;

/** Default pipe capacity for {@linkcode splice}: 1 MiB, the unprivileged `pipe-max-size`. */
const DEFAULT_PIPE_SIZE = 1024 * 1024;

interface Pipe {
  readFd: number;
  writeFd: number;
  size: number;
}

const idlePipes: Pipe[] = [];
const pipeFds = new IntCell(2); // pipe2's int[2]

function closePipe(p: Pipe): void {
  sysClose(p.readFd);
  sysClose(p.writeFd);
}

/** Sets a pipe's capacity; above the unprivileged maximum (EPERM) the pipe keeps what it has. */
function resizePipe(p: Pipe, size: number): void {
  let r = sysFcntl(p.writeFd, F_SETPIPE_SZ, size);
  if (r < 0) r = sysFcntl(p.writeFd, F_GETPIPE_SZ, 0);
  p.size = r > 0 ? r : DEFAULT_KERNEL_PIPE_SIZE;
}

function acquirePipe(size: number): Pipe {
  const p = idlePipes.pop();
  if (p) {
    stats.pipesIdle = idlePipes.length;
    stats.pipesReused++;
    if (p.size !== size) resizePipe(p, size);
    return p;
  }
  check(sysPipe2(pipeFds.bytes, O_CLOEXEC | O_NONBLOCK), "pipe2");
  const pipe: Pipe = {
    readFd: pipeFds.at(0),
    writeFd: pipeFds.at(1),
    size: 0,
  };
  stats.pipesCreated++;
  resizePipe(pipe, size);
  return pipe;
}

/** Returns an empty pipe to the pool; a pipe that may still hold bytes is closed instead. */
function releasePipe(p: Pipe, empty: boolean): void {
  if (empty && idlePipes.length < MAX_IDLE_PIPES) {
    idlePipes.push(p);
    stats.pipesIdle = idlePipes.length;
  } else {
    closePipe(p);
  }
}

/**
 * Closes the pipes {@linkcode splice} keeps for reuse (two descriptors each) and returns how many
 * were closed. Call it when a program is done proxying, or before counting descriptors.
 *
 * @example
 * ```ts
 * import { closeIdlePipes } from "../../mod.ts";
 * console.log(closeIdlePipes()); // 0 when nothing was spliced yet
 * ```
 */
export function closeIdlePipes(): number {
  const n = idlePipes.length;
  for (const p of idlePipes.splice(0)) closePipe(p);
  stats.pipesIdle = 0;
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
 * import { closeIdlePipes, splice, TcpListener, TcpStream } from "../../mod.ts";
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
  checkObject(options, "splice options");
  const length = checkOptionalByteCount(options.length, "length") ??
    Number.POSITIVE_INFINITY;
  const signal = checkOptionalSignal(options.signal);
  const onProgress = checkOptionalFunction(options.onProgress, "onProgress");
  const pipeSize = checkOptionalByteCount(options.pipeSize, "pipeSize") ??
    DEFAULT_PIPE_SIZE;
  if (pipeSize < 4096 || pipeSize > MAX_IO) {
    throw new RangeError(
      `pipeSize must be in 4096..${MAX_IO}, got ${pipeSize}`,
    );
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
    const moved = await spliceThrough(
      pipe,
      from,
      to,
      length,
      signal,
      onProgress,
      (n) => {
        inPipe = n;
      },
    );
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
        // Stryker disable next-line BooleanLiteral: equivalent, after EOF the loop returns once the pipe is empty; with bytes left, the drain below alone decides between going on and waiting on `to`
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
    const n = from.tryRead(
      buf.subarray(0, Math.min(buf.byteLength, length - moved)),
    );
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
 * import { closeIdlePipes, proxy, TcpListener, TcpStream } from "../../mod.ts";
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
  checkObject(options, "proxy options");
  const signal = checkOptionalSignal(options.signal);
  signal?.throwIfAborted();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal!.reason);
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, a signal fires "abort" at most once and `finally` removes the listener whatever happened
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
    const [ab, ba] = await Promise.allSettled([
      direction(a, b),
      direction(b, a),
    ]);
    if (stop.signal.aborted) throw stop.signal.reason;
    // A direction that rejects has aborted `stop` (its catch), so the line above threw already.
    // Stryker disable next-line StringLiteral: equivalent, unreachable with a rejected direction (see above)
    if (ab.status === "rejected") throw ab.reason;
    // Stryker disable next-line StringLiteral: equivalent, unreachable with a rejected direction (see above)
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
