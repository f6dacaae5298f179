/**
 * ffi/: the pure codecs (sockaddr, IP literals, epoll_event and struct stat on both arches,
 * tcp_info, linger, iovec), the flag mappings of the reactor, and ErrnoError. Offsets are written
 * here independently from the kernel headers (include/uapi/linux/tcp.h, asm/stat.h,
 * eventpoll.h), so a wrong offset in ffi/structs.ts fails a test rather than agreeing with itself.
 */

import assert from "node:assert/strict";
import {
  decodeSocketAddress as decodeSockaddr,
  formatIPv4,
  formatIPv6,
  parseIPv4,
  parseIPv6,
} from "../lib/net/address.ts";
import {
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDHUP,
  O_CLOEXEC,
  O_RDONLY,
} from "../ffi/constants.ts";
import {
  EBADF,
  ECONNREFUSED,
  ECONNRESET,
  ErrnoError,
  errnoMessage,
  errnoName,
} from "../ffi/errno.ts";
import { check, fail, sysClose, sysFstat, sysOpen } from "../ffi/libc.ts";
import {
  ARCH,
  decodeLinger,
  decodeStat,
  decodeTcpInfo,
  encodeIovecs,
  encodeLinger,
  encodeSockaddrIn,
  encodeSockaddrIn6,
  EpollEventArray,
  epollEventLayout,
  INT_SIZE,
  IntCell,
  IOVEC_SIZE,
  SOCKADDR_IN6_SIZE,
  SOCKADDR_IN_SIZE,
  STAT_SIZE,
  statLayout,
  TCP_INFO_SIZE,
  type TcpInfo,
} from "../ffi/structs.ts";
import { ClosedError } from "../lib/net/fd.ts";
import { Interest, interestToEpoll, readinessFromEpoll, Ready } from "../lib/reactor/mod.ts";

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

// ---------------------------------------------------------------------------------------------
// IPv4 / IPv6 literals

Deno.test("parseIPv4() accepts dotted quads and refuses everything else", () => {
  assert.deepEqual(parseIPv4("127.0.0.1"), bytes(127, 0, 0, 1));
  assert.deepEqual(parseIPv4("0.0.0.0"), bytes(0, 0, 0, 0));
  assert.deepEqual(parseIPv4("255.255.255.255"), bytes(255, 255, 255, 255));
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "1.2.3.-4",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1..3.4",
      "0x7f.0.0.1",
      "1e1.0.0.1",
      "1.2.3.4/8",
      "1234.0.0.1",
      "::1",
      "localhost",
    ]
  ) {
    assert.equal(parseIPv4(bad), null, bad);
  }
});

Deno.test("parseIPv4() refuses leading zeros (octal to some parsers)", () => {
  for (const bad of ["01.2.3.4", "1.02.3.4", "1.2.3.004", "00.0.0.0", "127.0.0.01"]) {
    assert.equal(parseIPv4(bad), null, bad);
  }
  // A lone zero is not a leading zero.
  assert.deepEqual(parseIPv4("10.0.0.10"), bytes(10, 0, 0, 10));
});

Deno.test("parseIPv6() handles full form, '::' anywhere, brackets and an IPv4 tail", () => {
  const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));
  const cases: [string, string][] = [
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["2001:db8::1", "20010db8000000000000000000000001"],
    ["2001:DB8:0:0:0:0:0:1", "20010db8000000000000000000000001"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["fe80::abcd:ef01", "fe8000000000000000000000abcdef01"],
    ["[::1]", "00000000000000000000000000000001"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ["64:ff9b::10.0.0.1", "0064ff9b0000000000000000" + "0a000001"],
    ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(parseIPv6(text), hex(expected), text);
  }
});

Deno.test("parseIPv6() refuses malformed literals", () => {
  for (
    const bad of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "g::1",
      ":1::",
      "1:",
      "::1%eth0",
      "[::1",
      "::1.2.3",
      "::01.2.3.4",
      "::1.2.3.4:5",
      "1:2:3:4:5:6:7:1.2.3.4",
      "127.0.0.1",
      "localhost",
    ]
  ) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});

Deno.test("formatIPv6() writes RFC 5952 text", () => {
  const cases: [string, string][] = [
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    // A single zero group is not compressed (5952 4.2.2).
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    // The longest run is compressed (4.2.3)...
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    // ...and the first one when two runs tie.
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["fe80::ABCD", "fe80::abcd"],
  ];
  for (const [input, expected] of cases) {
    const b = parseIPv6(input);
    assert.ok(b, input);
    assert.equal(formatIPv6(b), expected, input);
    // And what it writes parses back to the same bytes.
    assert.deepEqual(parseIPv6(expected), b, expected);
  }
});

Deno.test("formatIPv4() writes dotted quads that parse back", () => {
  for (const text of ["127.0.0.1", "0.0.0.0", "255.255.255.255", "10.200.3.40"]) {
    assert.equal(formatIPv4(parseIPv4(text)!), text);
  }
});

// ---------------------------------------------------------------------------------------------
// sockaddr

Deno.test("encodeSockaddrIn() lays out family (host order), port and address (network order)", () => {
  const b = encodeSockaddrIn(bytes(127, 0, 0, 1), 0x1f90);
  assert.equal(b.byteLength, SOCKADDR_IN_SIZE);
  assert.deepEqual(
    b,
    // sa_family 2 (LE) | sin_port 8080 (BE) | 127.0.0.1 | 8 bytes sin_zero
    bytes(2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
  );
});

Deno.test("encodeSockaddrIn6() lays out family, port, zero flowinfo, address, zero scope", () => {
  const ip = parseIPv6("2001:db8::1")!;
  const b = encodeSockaddrIn6(ip, 443);
  assert.equal(b.byteLength, SOCKADDR_IN6_SIZE);
  assert.deepEqual(b.subarray(0, 4), bytes(10, 0, 0x01, 0xbb));
  assert.deepEqual(b.subarray(4, 8), bytes(0, 0, 0, 0)); // sin6_flowinfo
  assert.deepEqual(b.subarray(8, 24), ip);
  assert.deepEqual(b.subarray(24, 28), bytes(0, 0, 0, 0)); // sin6_scope_id
});

Deno.test("decodeSockaddr() round-trips IPv4 and IPv6, at any byte offset", () => {
  const storage = new Uint8Array(128 + 8);
  for (
    const [hostname, port, family] of [
      ["127.0.0.1", 1, "IPv4"],
      ["10.1.2.3", 65535, "IPv4"],
      ["::1", 8080, "IPv6"],
      ["2001:db8::1:0:0:1", 443, "IPv6"],
      ["::ffff:127.0.0.1", 22, "IPv6"],
    ] as const
  ) {
    const enc = family === "IPv4"
      ? encodeSockaddrIn(parseIPv4(hostname)!, port)
      : encodeSockaddrIn6(parseIPv6(hostname)!, port);
    // Decode from a view that does not start at offset 0 of its buffer.
    const view = storage.subarray(8);
    view.fill(0xee);
    view.set(enc);
    assert.deepEqual(decodeSockaddr(view), { transport: "tcp", hostname, port, family });
  }
});

Deno.test("decodeSockaddr() returns null for a family it does not know (AF_UNIX)", () => {
  assert.equal(decodeSockaddr(bytes(1, 0, 0, 0, 0, 0, 0, 0)), null);
});

// ---------------------------------------------------------------------------------------------
// epoll_event: both layouts as data

Deno.test("epoll_event is 12 bytes packed on x86_64 and 16 aligned on aarch64", () => {
  assert.deepEqual(epollEventLayout("x86_64"), { size: 12, dataOffset: 4 });
  assert.deepEqual(epollEventLayout("aarch64"), { size: 16, dataOffset: 8 });
  assert.deepEqual(epollEventLayout(), epollEventLayout(ARCH));
});

for (const arch of ["x86_64", "aarch64"] as const) {
  Deno.test(`EpollEventArray (${arch}) writes events and the (fd, generation) word at their offsets`, () => {
    const size = arch === "x86_64" ? 12 : 16;
    const dataAt = arch === "x86_64" ? 4 : 8;
    const array = new EpollEventArray(3, arch);
    assert.equal(array.bytes.byteLength, size * 3);
    const view = new DataView(array.bytes.buffer);
    const events = [EPOLLIN | EPOLLET, EPOLLOUT | EPOLLRDHUP, EPOLLERR | EPOLLHUP];
    const fds = [7, 2, 0x7fffffff];
    const generations = [0, 1, 0xffffffff];
    for (let i = 0; i < 3; i++) array.set(i, events[i]!, fds[i]!, generations[i]!);
    for (let i = 0; i < 3; i++) {
      // Independent reads at the kernel's offsets.
      assert.equal(view.getUint32(i * size, true), events[i]! >>> 0);
      assert.equal(
        view.getBigUint64(i * size + dataAt, true),
        BigInt(generations[i]!) * 0x1_0000_0000n + BigInt(fds[i]!),
      );
      // And the array's own readers agree.
      assert.equal(array.events(i), events[i]! >>> 0);
      assert.equal(array.fd(i), fds[i]);
      assert.equal(array.generation(i), generations[i]);
    }
    if (arch === "aarch64") {
      // The 4 padding bytes after `events` are never written.
      assert.deepEqual(array.bytes.subarray(4, 8), bytes(0, 0, 0, 0));
    }
  });

  Deno.test(`EpollEventArray (${arch}) reads what the kernel would have written`, () => {
    const layout = epollEventLayout(arch);
    const array = new EpollEventArray(2, arch);
    const view = new DataView(array.bytes.buffer);
    view.setUint32(layout.size, EPOLLIN | EPOLLRDHUP, true);
    view.setBigUint64(layout.size + layout.dataOffset, 0x0000_0123_4567_89abn, true);
    assert.equal(array.events(1), EPOLLIN | EPOLLRDHUP);
    assert.equal(array.fd(1), 0x4567_89ab);
    assert.equal(array.generation(1), 0x0123);
  });
}

// ---------------------------------------------------------------------------------------------
// struct stat: both layouts as data

Deno.test("struct stat: st_mode at 24 (x86_64) / 16 (aarch64), st_size at 48 on both", () => {
  assert.deepEqual(statLayout("x86_64"), { modeOffset: 24, sizeOffset: 48 });
  assert.deepEqual(statLayout("aarch64"), { modeOffset: 16, sizeOffset: 48 });
  for (const [arch, modeAt, nlinkAt] of [["x86_64", 24, 16], ["aarch64", 16, 20]] as const) {
    const b = new Uint8Array(STAT_SIZE);
    const v = new DataView(b.buffer);
    v.setBigUint64(8, 12345n, true); // st_ino
    // st_nlink is 8 bytes on x86_64, 4 on aarch64; fill it with a value that must not leak.
    v.setUint32(nlinkAt, 0xdeadbeef, true);
    v.setUint32(modeAt, 0o100644, true);
    v.setBigInt64(48, 5_000_000_000n, true); // > 2^32: the whole 64 bits are read
    assert.deepEqual(decodeStat(b, arch), { mode: 0o100644, size: 5_000_000_000 }, arch);
  }
});

Deno.test("struct stat layout of this arch matches a real fstat()", () => {
  const path = new TextEncoder().encode(`${Deno.execPath()}\0`);
  const fd = check(sysOpen(path, O_RDONLY | O_CLOEXEC), "open");
  try {
    const b = new Uint8Array(STAT_SIZE);
    check(sysFstat(fd, b), "fstat");
    const st = decodeStat(b);
    const info = Deno.statSync(Deno.execPath());
    assert.equal(st.size, info.size);
    assert.equal(st.mode, info.mode);
  } finally {
    sysClose(fd);
  }
});

// ---------------------------------------------------------------------------------------------
// tcp_info

/** The kernel's struct tcp_info (uapi/linux/tcp.h): field, offset, width, netio's name. */
const TCP_INFO_FIELDS: [keyof TcpInfo, number, 4 | 8][] = [
  ["rtoUs", 8, 4],
  ["atoUs", 12, 4],
  ["sndMss", 16, 4],
  ["rcvMss", 20, 4],
  ["unacked", 24, 4],
  ["sacked", 28, 4],
  ["lost", 32, 4],
  ["retrans", 36, 4],
  // 40 fackets
  ["lastDataSentMs", 44, 4],
  // 48 last_ack_sent
  ["lastDataRecvMs", 52, 4],
  ["lastAckRecvMs", 56, 4],
  ["pmtu", 60, 4],
  ["rcvSsthresh", 64, 4],
  ["rttUs", 68, 4],
  ["rttVarUs", 72, 4],
  ["sndSsthresh", 76, 4],
  ["sndCwnd", 80, 4],
  ["advmss", 84, 4],
  ["reordering", 88, 4],
  ["rcvRttUs", 92, 4],
  ["rcvSpace", 96, 4],
  ["totalRetrans", 100, 4],
  ["pacingRate", 104, 8],
  ["maxPacingRate", 112, 8],
  ["bytesAcked", 120, 8],
  ["bytesReceived", 128, 8],
  ["segsOut", 136, 4],
  ["segsIn", 140, 4],
  ["notsentBytes", 144, 4],
  ["minRttUs", 148, 4],
  ["dataSegsIn", 152, 4],
  ["dataSegsOut", 156, 4],
  ["deliveryRate", 160, 8],
  ["busyTimeUs", 168, 8],
  ["rwndLimitedUs", 176, 8],
  ["sndbufLimitedUs", 184, 8],
  ["delivered", 192, 4],
  ["deliveredCe", 196, 4],
  ["bytesSent", 200, 8],
  ["bytesRetrans", 208, 8],
  ["dsackDups", 216, 4],
  ["reordSeen", 220, 4],
  ["rcvOoopack", 224, 4],
  ["sndWnd", 228, 4],
];

/** A tcp_info buffer whose every field holds a distinct value derived from its offset. */
function handBuiltTcpInfo(): Uint8Array {
  const b = new Uint8Array(TCP_INFO_SIZE);
  const v = new DataView(b.buffer);
  v.setUint8(0, 1); // ESTABLISHED
  v.setUint8(1, 4); // Loss
  v.setUint8(2, 3); // retransmits
  v.setUint8(3, 2); // probes
  v.setUint8(4, 5); // backoff
  v.setUint8(5, 0x07); // options
  v.setUint8(6, 0x97); // snd_wscale 7 (low nibble), rcv_wscale 9 (high nibble)
  v.setUint32(40, 0xfafafafa, true); // fackets: not decoded
  v.setUint32(48, 0xfbfbfbfb, true); // last_ack_sent: not decoded
  for (const [, offset, width] of TCP_INFO_FIELDS) {
    if (width === 4) v.setUint32(offset, 1000 + offset, true);
    else v.setBigUint64(offset, 0x1_0000_0000n * BigInt(offset) + 7n, true);
  }
  return b;
}

function expectedValue(offset: number, width: 4 | 8): number {
  return width === 4 ? 1000 + offset : 0x1_0000_0000 * offset + 7;
}

Deno.test("decodeTcpInfo() reads every field at the kernel's offset", () => {
  const info = decodeTcpInfo(handBuiltTcpInfo(), 232);
  assert.equal(info.state, "ESTABLISHED");
  assert.equal(info.caState, "Loss");
  assert.equal(info.retransmits, 3);
  assert.equal(info.probes, 2);
  assert.equal(info.backoff, 5);
  assert.equal(info.options, 7);
  assert.equal(info.sndWscale, 7);
  assert.equal(info.rcvWscale, 9);
  for (const [name, offset, width] of TCP_INFO_FIELDS) {
    assert.equal(info[name], expectedValue(offset, width), `${name} at ${offset}`);
  }
});

Deno.test("decodeTcpInfo() leaves fields past the returned length undefined", () => {
  const b = handBuiltTcpInfo();
  for (const length of [104, 120, 136, 144, 160, 168, 192, 200, 224, 228, 232, 256]) {
    const info = decodeTcpInfo(b, length);
    for (const [name, offset, width] of TCP_INFO_FIELDS) {
      if (offset + width <= length) {
        assert.equal(info[name], expectedValue(offset, width), `${name} at length ${length}`);
      } else {
        assert.equal(info[name], undefined, `${name} at length ${length}`);
      }
    }
  }
  // The length may also come from the view itself.
  assert.equal(decodeTcpInfo(b.subarray(0, 120)).bytesAcked, undefined);
  assert.equal(decodeTcpInfo(b.subarray(0, 136)).bytesAcked, expectedValue(120, 8));
});

Deno.test("decodeTcpInfo() throws RangeError for fewer bytes than the base struct", () => {
  const b = handBuiltTcpInfo();
  assert.throws(() => decodeTcpInfo(b, 103), RangeError);
  assert.throws(() => decodeTcpInfo(b, 0), RangeError);
  assert.throws(() => decodeTcpInfo(new Uint8Array(50)), RangeError);
});

Deno.test("decodeTcpInfo() names unknown states instead of guessing", () => {
  const b = handBuiltTcpInfo();
  b[0] = 10;
  b[1] = 0;
  let info = decodeTcpInfo(b);
  assert.equal(info.state, "LISTEN");
  assert.equal(info.caState, "Open");
  b[0] = 200;
  b[1] = 9;
  info = decodeTcpInfo(b);
  assert.equal(info.state, "UNKNOWN(200)");
  assert.equal(info.caState, "UNKNOWN(9)");
});

// ---------------------------------------------------------------------------------------------
// Small option values and iovec

Deno.test("int and linger option values round-trip", () => {
  const cell = new IntCell();
  assert.equal(cell.bytes.length, INT_SIZE);
  for (const x of [0, 1, -1, 0x7fffffff, -0x80000000]) {
    cell.value = x;
    assert.equal(cell.value, x);
    assert.equal(new DataView(cell.bytes.buffer).getInt32(0, true), x, "a little-endian C int");
  }
  cell.value = 1;
  assert.deepEqual(cell.bytes, bytes(1, 0, 0, 0));
  assert.deepEqual(encodeLinger(true, 5), bytes(1, 0, 0, 0, 5, 0, 0, 0));
  assert.deepEqual(decodeLinger(encodeLinger(true, 0)), { on: true, seconds: 0 });
  assert.deepEqual(decodeLinger(encodeLinger(false, 0)), { on: false, seconds: 0 });
});

Deno.test("encodeIovecs() records address and length, the first advanced by the offset", () => {
  const bufs = [new Uint8Array(10), new Uint8Array(0), new Uint8Array(300)];
  const iov = new BigUint64Array((IOVEC_SIZE / 8) * 3);
  const total = encodeIovecs(iov, bufs, 0, 3, 4);
  assert.equal(total, 6 + 0 + 300);
  assert.equal(iov[0], Deno.UnsafePointer.value(Deno.UnsafePointer.of(bufs[0]!)) + 4n);
  assert.equal(iov[1], 6n);
  assert.equal(iov[2], 0n); // an empty buffer's address is irrelevant: written as NULL
  assert.equal(iov[3], 0n);
  assert.equal(iov[4], Deno.UnsafePointer.value(Deno.UnsafePointer.of(bufs[2]!)));
  assert.equal(iov[5], 300n);
  // Starting later in the list.
  assert.equal(encodeIovecs(iov, bufs, 2, 1, 100), 200);
  assert.equal(iov[1], 200n);
});

// ---------------------------------------------------------------------------------------------
// Interest <-> epoll bits (pure, as mio's interests_to_epoll)

Deno.test("interestToEpoll() maps each Interest flag to its epoll bits", () => {
  assert.equal(interestToEpoll(0), 0);
  // READABLE also asks for RDHUP, so a peer's FIN is seen as read-closed.
  assert.equal(interestToEpoll(Interest.READABLE), EPOLLIN | EPOLLRDHUP);
  assert.equal(interestToEpoll(Interest.WRITABLE), EPOLLOUT);
  assert.equal(interestToEpoll(Interest.RDHUP), EPOLLRDHUP);
  assert.equal(interestToEpoll(Interest.PRIORITY), EPOLLPRI);
  assert.equal(interestToEpoll(Interest.ONESHOT), EPOLLONESHOT);
  // EPOLLET is bit 31: returned unsigned, never as a negative number.
  assert.equal(interestToEpoll(Interest.EDGE), 0x80000000);
  assert.equal(
    interestToEpoll(Interest.READABLE | Interest.WRITABLE | Interest.EDGE),
    (EPOLLIN | EPOLLRDHUP | EPOLLOUT | EPOLLET) >>> 0,
  );
});

Deno.test("interestToEpoll() throws RangeError for a value that is not a flag set", () => {
  for (const bad of [-1, 64, 1.5, NaN]) assert.throws(() => interestToEpoll(bad), RangeError);
});

Deno.test("readinessFromEpoll() maps epoll bits to Ready flags", () => {
  assert.equal(readinessFromEpoll(0), 0);
  assert.equal(readinessFromEpoll(EPOLLIN), Ready.READABLE);
  assert.equal(readinessFromEpoll(EPOLLOUT), Ready.WRITABLE);
  assert.equal(readinessFromEpoll(EPOLLPRI), Ready.PRIORITY | Ready.READABLE);
  // RDHUP: the peer's FIN; readable so the reader drains data and then sees EOF.
  assert.equal(readinessFromEpoll(EPOLLIN | EPOLLRDHUP), Ready.READABLE | Ready.READ_CLOSED);
  // HUP: both directions are gone.
  assert.equal(
    readinessFromEpoll(EPOLLHUP),
    Ready.READ_CLOSED | Ready.WRITE_CLOSED | Ready.READABLE,
  );
  // ERR wakes both readers and writers so either sees the error from its next call.
  const err = readinessFromEpoll(EPOLLERR);
  assert.equal(err & Ready.ERROR, Ready.ERROR);
  assert.equal(err & Ready.READABLE, Ready.READABLE);
  assert.equal(err & Ready.WRITABLE, Ready.WRITABLE);
  assert.equal(err & Ready.WRITE_CLOSED, Ready.WRITE_CLOSED);
  // The EPOLLET bit in an event is ignored, including as a negative int32.
  assert.equal(readinessFromEpoll((EPOLLIN | EPOLLET) | 0), Ready.READABLE);
});

// ---------------------------------------------------------------------------------------------
// Errors

Deno.test("ErrnoError carries errno, code, syscall and a readable message", () => {
  const cause = new Error("inner");
  const e = new ErrnoError(ECONNREFUSED, "connect", { cause });
  assert.ok(e instanceof Error);
  assert.ok(e instanceof ErrnoError);
  assert.ok(e instanceof Deno.errors.ConnectionRefused, "Deno's own class for ECONNREFUSED");
  assert.equal(e.name, "ConnectionRefused");
  assert.equal(e.errno, 111);
  assert.equal(e.code, "ECONNREFUSED");
  assert.equal(e.syscall, "connect");
  assert.equal(e.message, "connect failed: ECONNREFUSED (Connection refused)");
  assert.equal(e.cause, cause);
  const where = new ErrnoError(ECONNREFUSED, "connect", { detail: "127.0.0.1:9" });
  assert.equal(where.message, "connect 127.0.0.1:9 failed: ECONNREFUSED (Connection refused)");
});

Deno.test("every errno with a Deno class maps to it, and instanceof ErrnoError holds for all", () => {
  // The mapping, as Deno's own APIs report these conditions.
  const expected: [number, keyof typeof Deno.errors][] = [
    [1, "PermissionDenied"],
    [2, "NotFound"],
    [4, "Interrupted"],
    [9, "BadResource"],
    [11, "WouldBlock"],
    [13, "PermissionDenied"],
    [16, "Busy"],
    [17, "AlreadyExists"],
    [20, "NotADirectory"],
    [21, "IsADirectory"],
    [32, "BrokenPipe"],
    [40, "FilesystemLoop"],
    [95, "NotSupported"],
    [98, "AddrInUse"],
    [99, "AddrNotAvailable"],
    [101, "NetworkUnreachable"],
    [103, "ConnectionAborted"],
    [104, "ConnectionReset"],
    [107, "NotConnected"],
    [110, "TimedOut"],
    [111, "ConnectionRefused"],
    [113, "NetworkUnreachable"],
  ];
  for (const [errno, name] of expected) {
    const e = new ErrnoError(errno, "test");
    assert.ok(e instanceof Deno.errors[name], `errno ${errno} is not a Deno.errors.${name}`);
    assert.ok(e instanceof ErrnoError, `errno ${errno} lost instanceof ErrnoError`);
    assert.equal(e.name, name);
    assert.equal(e.errno, errno);
  }
  // Without a Deno class: a plain ErrnoError; subclasses keep their own class.
  const plain = new ErrnoError(24, "accept4");
  assert.equal(plain.name, "ErrnoError");
  assert.ok(plain instanceof ErrnoError && !(plain instanceof Deno.errors.NotFound));
  assert.ok(!(new Error("x") instanceof ErrnoError));
});

Deno.test("ErrnoError for an errno netio does not know still says what it was", () => {
  const e = new ErrnoError(4242, "ioctl");
  assert.equal(e.code, "E4242");
  assert.equal(e.message, "ioctl failed: E4242 (Unknown error 4242)");
});

Deno.test("errnoName() and errnoMessage() use the Linux numbering", () => {
  assert.equal(errnoName(EBADF), "EBADF");
  assert.equal(errnoName(11), "EAGAIN");
  assert.equal(errnoName(ECONNRESET), "ECONNRESET");
  assert.equal(errnoName(32), "EPIPE");
  assert.equal(errnoName(98), "EADDRINUSE");
  assert.equal(errnoName(115), "EINPROGRESS");
  assert.equal(errnoName(0), "E0");
  assert.equal(errnoMessage(104), "Connection reset by peer");
});

Deno.test("fail() and check() turn a negated errno into ErrnoError", () => {
  const e = fail(-ECONNRESET, "recv");
  assert.ok(e instanceof ErrnoError);
  assert.equal(e.code, "ECONNRESET");
  assert.equal(e.syscall, "recv");
  assert.equal(check(5, "socket"), 5);
  assert.equal(check(0, "socket"), 0);
  assert.throws(
    () => check(-EBADF, "close"),
    (err: unknown) => err instanceof ErrnoError && err.code === "EBADF" && err.syscall === "close",
  );
});

Deno.test("ClosedError is an ErrnoError with code EBADF and says the resource is closed", () => {
  const e = new ClosedError("read");
  assert.ok(e instanceof ErrnoError);
  assert.equal(e.name, "ClosedError");
  assert.equal(e.code, "EBADF");
  assert.equal(e.errno, EBADF);
  assert.equal(e.syscall, "read");
  assert.match(e.message, /closed/);
});

Deno.test("NETIO_LIBC is read only when env access is already granted (no surprise prompt)", async () => {
  const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
  // Record every env read, then make the first socket (which opens libc).
  const script = `
    const reads = [];
    const get = Deno.env.get.bind(Deno.env);
    Deno.env.get = (name) => { reads.push(name); return get(name); };
    const { TcpListener } = await import(${mod});
    TcpListener.bind({ hostname: "127.0.0.1", port: 0 }).close();
    console.log(JSON.stringify(reads));
  `;
  const file = await Deno.makeTempFile({ suffix: ".js" });
  await Deno.writeTextFile(file, script);
  for (
    const [flags, expected] of [
      [["--allow-ffi", "--allow-net", "--no-prompt"], []],
      [["--allow-ffi", "--allow-net", "--allow-env=NETIO_LIBC", "--no-prompt"], ["NETIO_LIBC"]],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, file],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), expected, flags.join(" "));
  }
  await Deno.remove(file);
});
