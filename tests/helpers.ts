/**
 * Shared test helpers: the process's open-fd count, its open descriptors by identity, and a
 * connected loopback TCP pair.
 * Kept small and stable: other test files import these.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BackendInfo,
  closeIdlePipes,
  Reactor,
  TcpListener,
  TcpStream,
  transferStats,
} from "../mod.ts";
import { O_CLOEXEC, O_RDONLY } from "../ffi/constants.ts";
import { sysClose, sysFcntl, sysFstat, sysOpen } from "../ffi/libc.ts";
import { decodeFileStat, decodeStat, STAT_SIZE } from "../ffi/structs.ts";

const PROC_SELF_FD = new TextEncoder().encode("/proc/self/fd\0");
const statBuf = new Uint8Array(STAT_SIZE);
const F_GETFD = 1;

/**
 * The number of descriptors this process has open right now.
 *
 * Deno 2.9 asks for `--allow-all` to read anything under /proc/self (even with --allow-read), so
 * `Deno.readDirSync("/proc/self/fd")` fails under `deno task test`. Since Linux 6.2 an fstat() of
 * /proc/self/fd reports the open-descriptor count as st_size: one open + fstat + close through
 * libc (about 6 us). Older kernels report 0 there; then every number below 65536 is probed with
 * fcntl(F_GETFD) (about 15 ms).
 *
 * Note that `deno test --parallel` runs test files as workers of one process: another file may
 * open or close descriptors between two calls.
 */
export function fdCount(): number {
  const dir = sysOpen(PROC_SELF_FD, O_RDONLY | O_CLOEXEC);
  if (dir >= 0) {
    const r = sysFstat(dir, statBuf);
    sysClose(dir);
    // The count includes `dir` itself, open while fstat() ran.
    if (r === 0 && decodeStat(statBuf).size > 0) return decodeStat(statBuf).size - 1;
  }
  let n = 0;
  for (let fd = 0; fd < 65536; fd++) if (sysFcntl(fd, F_GETFD, 0) >= 0) n++;
  return n;
}

/**
 * Open descriptors of this process (scanned with fcntl, since Deno wants --allow-all for
 * /proc/self/fd): number -> identity, "dev:ino" (st_dev and st_ino from fstat, as
 * {@linkcode fileIdentity} writes them), so that a number closed and reused by another object
 * meanwhile does not pass for the same descriptor.
 */
export function openFds(): Map<number, string> {
  const m = new Map<number, string>();
  const stat = new Uint8Array(STAT_SIZE);
  for (let fd = 0; fd < 4096; fd++) {
    if (sysFcntl(fd, F_GETFD, 0) < 0) continue;
    if (sysFstat(fd, stat) < 0) continue;
    const { dev, ino } = decodeFileStat(stat);
    m.set(fd, `${dev}:${ino}`);
  }
  return m;
}

/** The identity of a file as {@linkcode openFds} writes it ("dev:ino"), from `Deno.stat`. */
export function fileIdentity(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * Descriptors open now that were not open in `before` (same number and identity), after a
 * bounded wait for threads that are still exiting. All test files share one process, so a count
 * can move for reasons of other files' (a Worker's runtime releasing its own descriptors late);
 * a descriptor that appeared during the test and stayed is a leak whatever else happens.
 */
export async function leakedFds(before: Map<number, string>): Promise<number[]> {
  let leaked: number[] = [];
  for (let i = 0; i < 100; i++) {
    const now = openFds();
    leaked = [...now].filter(([fd, id]) => before.get(fd) !== id).map(([fd]) => fd);
    if (leaked.length === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return leaked;
}

/** A connected loopback pair with the listener that accepted it. */
export interface TcpPair {
  /** The connecting side. */
  client: TcpStream;
  /** The accepted side. */
  server: TcpStream;
  /** The listener (still open; closed by disposal). */
  listener: TcpListener;
  /** Closes client, server and listener (each once; already-closed ones are skipped). */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Opens a listener on 127.0.0.1 (or ::1 with `ipv6`) port 0, connects to it and accepts:
 * `await using pair = await tcpPair();`.
 */
export async function tcpPair(opts: { ipv6?: boolean } = {}): Promise<TcpPair> {
  const hostname = opts.ipv6 ? "::1" : "127.0.0.1";
  const listener = TcpListener.bind({ hostname, port: 0 });
  let client: TcpStream | undefined;
  try {
    client = await TcpStream.connect({ hostname, port: listener.addr.port });
    const server = await listener.accept();
    const c = client;
    return {
      client: c,
      server,
      listener,
      [Symbol.asyncDispose](): Promise<void> {
        c.close();
        server.close();
        listener.close();
        return Promise.resolve();
      },
    };
  } catch (e) {
    client?.close();
    listener.close();
    throw e;
  }
}

/** SHA-256 of `bytes` as lower-case hex. */
export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Asserts that two byte arrays are equal, reporting the lengths or the first differing index.
 * Never `deepEqual` on large buffers: node:assert's diff of a 1 MiB mismatch grows the process
 * to tens of GB.
 */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: first difference at byte ${i}: ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/**
 * Asserts that `attempt` leaves the fd count unchanged, counting without the pipes idle in
 * splice's pool (process state that may legitimately grow or shrink meanwhile). Up to 5
 * measurements are taken and one clean one passes; a leak shows in all five.
 */
export async function assertNoNewFd(attempt: () => Promise<void>): Promise<void> {
  const count = (): number => fdCount() - 2 * transferStats().pipesIdle;
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) {
    const before = count();
    await attempt();
    const after = count();
    if (after === before) return;
    seen.push(`${before} -> ${after}`);
  }
  assert.fail(`the fd count changed every time: ${seen.join(", ")}`);
}

/**
 * Waits until `condition` holds, polling once per macrotask turn at first (so a reactor in the
 * same process gets its turns), then every 5 ms; fails the test, naming `what`, after `tries`
 * polls (about 20 s by default: a bound, not a measure).
 */
export async function until(condition: () => boolean, what: string, tries = 4_000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, i < 100 ? 0 : 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/**
 * An independent reader of the server's responses: NOT netio's parser, so that a framing bug the
 * two share cannot hide. Strict on purpose: CRLF line ends only, a status line of
 * `HTTP/1.x NNN reason`, token header names, at most one Content-Length, no Transfer-Encoding (the
 * server never chunks), and a Content-Length on every response that has a body. Returns the
 * bytes consumed, or 0 while the response is incomplete; throws on anything malformed.
 */
export function readStrictResponse(
  buf: Uint8Array,
  start: number,
  end: number,
  head: boolean,
): { consumed: number; status: number; headers: Map<string, string>; body: Uint8Array } | 0 {
  let headEnd = -1;
  for (let i = start; i + 3 < end; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
      headEnd = i;
      break;
    }
  }
  if (headEnd < 0) {
    if (end - start > 64 * 1024) throw new Error("response head over 64 KiB");
    return 0;
  }
  const text = new TextDecoder("latin1").decode(buf.subarray(start, headEnd));
  if (/[^\r]\n|^\n/.test(text) || /\r(?!\n)/.test(text)) throw new Error("a bare CR or LF");
  const [statusLine, ...lines] = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*$/.exec(statusLine!);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`);
  const status = Number(m[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const h = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!h) throw new Error(`bad header line: ${JSON.stringify(line)}`);
    const name = h[1]!.toLowerCase();
    if (name === "content-length" && headers.has(name)) throw new Error("two Content-Lengths");
    if (name === "transfer-encoding") throw new Error("Transfer-Encoding in a response");
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${h[2]}` : h[2]!);
  }
  const bodyStart = headEnd + 4;
  const bodiless = head || status < 200 || status === 204 || status === 304;
  let length = 0;
  if (!bodiless) {
    const cl = headers.get("content-length");
    if (cl === undefined || !/^\d+$/.test(cl)) throw new Error(`no valid Content-Length: ${cl}`);
    length = Number(cl);
  }
  if (end - bodyStart < length) return 0;
  return {
    consumed: bodyStart + length - start,
    status,
    headers,
    body: buf.subarray(bodyStart, bodyStart + length),
  };
}

/**
 * A test file's temporary directory, made on first use and removed when the process unloads
 * (after closing splice's idle pipes): clean-up is not a test. Returns the function that gives
 * its path; with it, {@linkcode tempFileIn} writes files there.
 */
export function tempDirOnDemand(prefix: string): () => string {
  let made: string | undefined;
  return () => {
    if (made === undefined) {
      const path = Deno.makeTempDirSync({ prefix });
      made = path;
      globalThis.addEventListener("unload", () => {
        closeIdlePipes();
        Deno.removeSync(path, { recursive: true });
      });
    }
    return made;
  };
}

/** Writes `bytes` to `name` in `dir` and returns the file's path. */
export async function tempFileIn(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, bytes);
  return path;
}

/**
 * An AbortController whose signal records the "abort" listeners added to and removed from it, to
 * check that an operation takes its listener off the caller's signal when it settles.
 */
export function trackedAbortSignal(): {
  controller: AbortController;
  signal: AbortSignal;
  added: unknown[];
  removed: unknown[];
} {
  const controller = new AbortController();
  const signal = controller.signal;
  const added: unknown[] = [];
  const removed: unknown[] = [];
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, opts?: unknown) => {
    if (type === "abort") added.push(fn);
    add(type, fn, opts as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    if (type === "abort") removed.push(fn);
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  return { controller, signal, added, removed };
}

/** The bytes of `parts`, one after another, in a new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A loopback connection to a fresh listener on 127.0.0.1: Deno's own socket as the peer, and the
 * accepted side as a bare fd (nonblocking, not registered), for tests that drive a reactor
 * registration on it directly. The caller closes all three.
 */
export async function acceptedConnection(): Promise<
  { peer: Deno.TcpConn; fd: number; listener: TcpListener }
> {
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const peer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  let fd = -1;
  await until(() => (fd = listener.tryAcceptFd()) >= 0, "the accept");
  return { peer, fd, listener };
}

/** What the io_uring backend can do here: the `backendInfo()` of a reactor that asks for it. */
export function uringInfo(): BackendInfo {
  const reactor = new Reactor({ backend: "uring" });
  const info = reactor.backendInfo();
  void reactor.close();
  return info;
}
