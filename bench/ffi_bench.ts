/**
 * FFI wrapper overhead: the raw libc symbol (from `ffi/libc.ts`'s `libc()`) vs netio's wrapped
 * call (the ffi/ wrapper that reads errno, and the TcpStream method that also checks its
 * arguments and the closed state) vs Deno's built-in where one exists, for a few calls that
 * never block:
 *
 * - setsockopt(TCP_NODELAY): raw vs `sysSetsockopt` vs `stream.setNoDelay(true)` vs
 *   `Deno.TcpConn.setNoDelay(true)`
 * - getsockopt(TCP_NODELAY): raw vs `stream.noDelay()`
 * - recv on an empty socket (EAGAIN): raw vs `stream.tryRead(buf)` (netio reads errno on
 *   failure; Deno has no non-blocking read to compare with)
 * - send of 1 byte: raw vs `stream.tryWrite(buf)` (the receiver drains as it goes)
 *
 * Each group's baseline is the raw symbol; `deno bench` prints the others relative to it. The
 * issue's target is that the wrapper adds at most 50 ns to the raw call.
 *
 * ```sh
 * deno bench --allow-ffi --allow-net bench/ffi_bench.ts
 * ```
 *
 * @module
 */

import { IPPROTO_TCP, MSG_DONTWAIT, MSG_NOSIGNAL, TCP_NODELAY } from "../ffi/constants.ts";
import { libc, sysGetsockopt, sysRecv, sysSetsockopt } from "../ffi/libc.ts";
import { TcpListener, TcpStream } from "../mod.ts";

const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const stream = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const peer = await listener.accept();
listener.close();
const fd = stream.fd;
const sym = libc();

const denoListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const denoConn = await Deno.connect({ hostname: "127.0.0.1", port: denoListener.addr.port });
const denoPeer = await denoListener.accept();
denoListener.close();

globalThis.addEventListener("unload", () => {
  stream.close();
  peer.close();
  denoConn.close();
  denoPeer.close();
});

const one = new Uint8Array([1, 0, 0, 0]);
const intBuf = new Uint8Array(4);
const lenBuf = new Uint8Array(4);
const readBuf = new Uint8Array(64);
const byte = new Uint8Array(1);
const sink = new Uint8Array(1 << 20);

// --- setsockopt(TCP_NODELAY, 1) ---

Deno.bench({
  name: "raw symbol: setsockopt(TCP_NODELAY)",
  group: "setsockopt TCP_NODELAY",
  baseline: true,
  fn: () => {
    sym.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4);
  },
});

Deno.bench({
  name: "ffi wrapper: sysSetsockopt()",
  group: "setsockopt TCP_NODELAY",
  fn: () => {
    sysSetsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one);
  },
});

Deno.bench({
  name: "netio: stream.setNoDelay(true)",
  group: "setsockopt TCP_NODELAY",
  fn: () => {
    stream.setNoDelay(true);
  },
});

Deno.bench({
  name: "Deno built-in: TcpConn.setNoDelay(true)",
  group: "setsockopt TCP_NODELAY",
  fn: () => {
    denoConn.setNoDelay(true);
  },
});

// --- getsockopt(TCP_NODELAY) ---

Deno.bench({
  name: "raw symbol: getsockopt(TCP_NODELAY)",
  group: "getsockopt TCP_NODELAY",
  baseline: true,
  fn: () => {
    lenBuf[0] = 4;
    sym.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, intBuf, lenBuf);
  },
});

Deno.bench({
  name: "ffi wrapper: sysGetsockopt()",
  group: "getsockopt TCP_NODELAY",
  fn: () => {
    sysGetsockopt(fd, IPPROTO_TCP, TCP_NODELAY, intBuf, lenBuf);
  },
});

Deno.bench({
  name: "netio: stream.noDelay()",
  group: "getsockopt TCP_NODELAY",
  fn: () => {
    stream.noDelay();
  },
});

// --- recv on an empty socket: EAGAIN ---

Deno.bench({
  name: "raw symbol: recv() -> -1 (EAGAIN)",
  group: "recv on an empty socket",
  baseline: true,
  fn: () => {
    sym.recv(fd, readBuf, 64n, MSG_DONTWAIT);
  },
});

Deno.bench({
  name: "ffi wrapper: sysRecv() -> -EAGAIN",
  group: "recv on an empty socket",
  fn: () => {
    sysRecv(fd, readBuf, 0);
  },
});

Deno.bench({
  name: "netio: stream.tryRead() -> 0",
  group: "recv on an empty socket",
  fn: () => {
    stream.tryRead(readBuf);
  },
});

// --- send one byte (the peer drains every 1024 calls, the same for both) ---

let sent = 0;
function drainSometimes(): void {
  if (++sent % 1024 === 0) { while ((peer.tryRead(sink) ?? 0) > 0) { /* drain */ } }
}

Deno.bench({
  name: "raw symbol: send(1 byte)",
  group: "send 1 byte",
  baseline: true,
  fn: () => {
    sym.send(fd, byte, 1n, MSG_NOSIGNAL);
    drainSometimes();
  },
});

Deno.bench({
  name: "netio: stream.tryWrite(1 byte)",
  group: "send 1 byte",
  fn: () => {
    stream.tryWrite(byte);
    drainSometimes();
  },
});
