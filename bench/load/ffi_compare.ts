/**
 * FFI wrapper overhead, in nanoseconds per call: netio's wrapped call against the raw libc
 * symbol it wraps (`libc()` from `ffi/libc.ts`), measured in this process, side by side. The
 * issue's target is that the wrapper adds at most 50 ns to the raw FFI call; as a ratio that is
 * `(raw + 50) / raw`, computed from the raw figure of the same run.
 *
 * Calls compared (each returns at once and changes no state, so every call does the same work):
 * - setsockopt(TCP_NODELAY, 1): `stream.setNoDelay(true)` vs the raw symbol
 * - getsockopt(TCP_NODELAY): `stream.noDelay()` vs the raw symbol
 * - recv on an empty socket (-1, EAGAIN): `stream.tryRead(buf)` vs the raw symbol
 * - send on a full socket (-1, EAGAIN): `stream.tryWrite(buf)` vs the raw symbol
 * - and, informative, `stream.setNoDelay(true)` vs Deno's own `Deno.TcpConn.setNoDelay(true)`
 *
 * Method: each side runs a tight loop of `calls` calls timed with `performance.now()`; the sides
 * alternate (their order flips every round) for `rounds` rounds; each figure is the median over
 * the rounds, and the overhead in each row's note is the median of the per-round differences
 * (which cancels slow drifts of the machine). Nothing is pinned: the report's own process runs
 * this.
 *
 * ```sh
 * deno run -A bench/load/ffi_compare.ts            # about 5 s
 * deno run -A bench/load/ffi_compare.ts --full     # more rounds
 * ```
 *
 * As a comparison module for `bench/report.ts` it exports {@linkcode compare}.
 *
 * @module
 */

import { IPPROTO_TCP, MSG_NOSIGNAL, TCP_NODELAY } from "../../ffi/constants.ts";
import { libc } from "../../ffi/libc.ts";
import { TcpListener, TcpStream } from "../../mod.ts";
import { type ComparisonContext, type ComparisonRow, comparisonRow, median } from "./lib.ts";
import { type ComparisonFlags, numberFlag, runComparisonMain } from "./runner.ts";

/** The budget for the wrapper, ns per call. */
export const WRAPPER_BUDGET_NS = 50;

/** Options of {@linkcode measureFfiOverhead}. */
export interface FfiCompareOptions {
  /** Calls per timed loop. Default 20,000. */
  calls?: number;
  /** Rounds per pair (each side once per round). Default 41. */
  rounds?: number;
  /** Progress output. Default: none. */
  log?: (message: string) => void;
}

/** One pair's result. */
export interface FfiPair {
  /** What was called, e.g. "setsockopt(TCP_NODELAY)". */
  call: string;
  /** The netio side, e.g. "stream.setNoDelay(true)". */
  subject: string;
  /** The other side, e.g. "raw FFI symbol". */
  peer: string;
  /** Median ns per call of the netio side. */
  subjectNs: number;
  /** Median ns per call of the other side. */
  peerNs: number;
  /** Median of the per-round differences (subject - peer), ns per call. */
  overheadNs: number;
}

type Loop = (calls: number) => void;

function timeLoop(loop: Loop, calls: number): number {
  const t0 = performance.now();
  loop(calls);
  return ((performance.now() - t0) * 1e6) / calls;
}

function measurePair(a: Loop, b: Loop, calls: number, rounds: number): [number, number, number] {
  // Warm both up (JIT, caches) before timing.
  a(calls);
  b(calls);
  const as: number[] = [], bs: number[] = [], diffs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let ta: number, tb: number;
    if (r % 2 === 0) {
      ta = timeLoop(a, calls);
      tb = timeLoop(b, calls);
    } else {
      tb = timeLoop(b, calls);
      ta = timeLoop(a, calls);
    }
    as.push(ta);
    bs.push(tb);
    diffs.push(ta - tb);
  }
  return [median(as), median(bs), median(diffs)];
}

/**
 * Measures every pair on one loopback connection (and one Deno.TcpConn for the built-in);
 * closes everything before returning.
 */
export async function measureFfiOverhead(options: FfiCompareOptions = {}): Promise<FfiPair[]> {
  const calls = options.calls ?? 20_000;
  const rounds = options.rounds ?? 41;
  const log = options.log ?? (() => {});
  const sym = libc();

  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  using stream = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using _peer = await listener.accept();
  // A second pair whose buffers are filled, so that every send returns EAGAIN.
  using full = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using _fullPeer = await listener.accept();
  const chunk = new Uint8Array(1 << 16);
  for (let i = 0; i < 100_000 && full.tryWrite(chunk) > 0; i++) { /* fill */ }
  if (full.tryWrite(chunk) !== 0) throw new Error("could not fill the socket buffers");

  const denoListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const denoConn = await Deno.connect({ hostname: "127.0.0.1", port: denoListener.addr.port });
  const denoPeer = await denoListener.accept();
  denoListener.close();

  const fd = stream.fd;
  const fullFd = full.fd;
  const one = new Uint8Array([1, 0, 0, 0]);
  const intBuf = new Uint8Array(4);
  const lenBuf = new Uint8Array(4);
  const lenU32 = new Uint32Array(lenBuf.buffer);
  const readBuf = new Uint8Array(64);
  const readLen = BigInt(readBuf.byteLength);
  const byte = new Uint8Array(1);
  if (stream.tryRead(readBuf) !== 0) throw new Error("the idle socket has data");

  // One dedicated loop per side, so that each call site stays monomorphic.
  const pairs: [string, string, string, Loop, Loop][] = [
    [
      "setsockopt(TCP_NODELAY)",
      "stream.setNoDelay(true)",
      "raw FFI symbol",
      (n) => {
        for (let i = 0; i < n; i++) stream.setNoDelay(true);
      },
      (n) => {
        for (let i = 0; i < n; i++) sym.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4);
      },
    ],
    [
      "getsockopt(TCP_NODELAY)",
      "stream.noDelay()",
      "raw FFI symbol",
      (n) => {
        for (let i = 0; i < n; i++) stream.noDelay();
      },
      (n) => {
        for (let i = 0; i < n; i++) {
          lenU32[0] = 4;
          sym.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, intBuf, lenBuf);
        }
      },
    ],
    [
      "recv on an empty socket (EAGAIN)",
      "stream.tryRead(buf)",
      "raw FFI symbol",
      (n) => {
        for (let i = 0; i < n; i++) stream.tryRead(readBuf);
      },
      (n) => {
        for (let i = 0; i < n; i++) sym.recv(fd, readBuf, readLen, 0);
      },
    ],
    [
      "send on a full socket (EAGAIN)",
      "stream.tryWrite(buf)",
      "raw FFI symbol",
      (n) => {
        for (let i = 0; i < n; i++) full.tryWrite(byte);
      },
      (n) => {
        for (let i = 0; i < n; i++) sym.send(fullFd, byte, 1n, MSG_NOSIGNAL);
      },
    ],
    [
      "setsockopt(TCP_NODELAY)",
      "stream.setNoDelay(true)",
      "Deno TcpConn.setNoDelay(true)",
      (n) => {
        for (let i = 0; i < n; i++) stream.setNoDelay(true);
      },
      (n) => {
        for (let i = 0; i < n; i++) denoConn.setNoDelay(true);
      },
    ],
  ];

  const results: FfiPair[] = [];
  try {
    for (const [call, subject, peerName, a, b] of pairs) {
      const [subjectNs, peerNs, overheadNs] = measurePair(a, b, calls, rounds);
      log(
        `${call}: ${subject} ${subjectNs.toFixed(1)} ns, ${peerName} ${peerNs.toFixed(1)} ns ` +
          `(${overheadNs >= 0 ? "+" : ""}${overheadNs.toFixed(1)} ns)`,
      );
      results.push({ call, subject, peer: peerName, subjectNs, peerNs, overheadNs });
    }
  } finally {
    denoConn.close();
    denoPeer.close();
  }
  return results;
}

/** Turns the measured pairs into report rows. */
export function ffiComparisonRows(
  pairs: FfiPair[],
  calls: number,
  rounds: number,
): ComparisonRow[] {
  return pairs.map((p) => {
    const raw = p.peer === "raw FFI symbol";
    const sign = p.overheadNs >= 0 ? "+" : "";
    return comparisonRow({
      work: `FFI wrapper overhead, ns per call: ${p.call} via ${p.subject}`,
      netio: p.subjectNs,
      peer: p.peerNs,
      peerName: p.peer,
      unit: "ns/call",
      // "adds at most 50 ns" as a ratio over this run's raw figure.
      target: raw ? (p.peerNs + WRAPPER_BUDGET_NS) / p.peerNs : null,
      note: `${sign}${p.overheadNs.toFixed(0)} ns per call (median paired difference` +
        (raw ? `; target: at most +${WRAPPER_BUDGET_NS} ns` : "; informative") +
        `); ${rounds} rounds of ${calls} calls, in-process, unpinned`,
    });
  });
}

/**
 * The comparison module entry point for `bench/report.ts` and the command line: 20,000 calls per
 * round, 41 rounds (201 with `context.full`); `flags.calls` and `flags.rounds` override them.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./ffi_compare.ts";
 *
 * const rows = await compare({ root: "./", log: console.error }, { rounds: "11" });
 * console.log(rows.map((row) => row.ratio?.toFixed(3)));
 * ```
 */
export async function compare(
  context: ComparisonContext,
  flags: ComparisonFlags = {},
): Promise<ComparisonRow[]> {
  const calls = numberFlag(flags, "calls") ?? 20_000;
  const rounds = numberFlag(flags, "rounds") ?? (context.full ? 201 : 41);
  const pairs = await measureFfiOverhead({ calls, rounds, log: context.log });
  return ffiComparisonRows(pairs, calls, rounds);
}

if (import.meta.main) {
  await runComparisonMain(compare, import.meta, {
    description: "ns per call of netio's wrapped calls vs the raw libc symbols (and Deno's " +
      "setNoDelay),\nmeasured side by side in this process; target: the wrapper adds at most " +
      "50 ns.",
    flags: {
      rounds: { type: "string", value: "N", help: "rounds (default 41, full run 201)" },
      calls: { type: "string", value: "N", help: "calls per round (default 20000)" },
    },
  });
}
