/**
 * Struct layouts and their codecs: sockaddr_in/_in6, epoll_event, iovec, linger, struct stat
 * (the fields netio reads), struct open_how, linux_dirent64 and tcp_info. Every offset netio knows lives here; layouts that differ
 * by architecture are chosen from `Deno.build.arch` (or passed explicitly, for tests).
 *
 * All codecs are pure functions over bytes: no syscalls, no pointers except in
 * {@linkcode encodeIovecs}, which must record buffer addresses.
 *
 * @module
 */

import { AF_INET, AF_INET6 } from "./constants.ts";

/** A CPU architecture whose layouts netio knows. */
export type Arch = "x86_64" | "aarch64";

/** The architecture this process runs on. */
export const ARCH: Arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";

// ---------------------------------------------------------------------------------------------
// sockaddr

/** Size of struct sockaddr_in. */
export const SOCKADDR_IN_SIZE = 16;
/** Size of struct sockaddr_in6. */
export const SOCKADDR_IN6_SIZE = 28;
/** A buffer this large holds any sockaddr netio decodes (sockaddr_storage is 128). */
export const SOCKADDR_STORAGE_SIZE = 128;

/** A sockaddr_in/_in6 as bytes: family (AF_INET or AF_INET6), port, and the address bytes. */
export interface RawSockaddr {
  /** AF_INET or AF_INET6. */
  family: number;
  /** Port number, host order. */
  port: number;
  /** The address: 4 bytes (IPv4) or 16 (IPv6), a view into the decoded buffer. */
  ip: Uint8Array;
}

/** Encodes sockaddr_in (family host order, port and address network order). */
export function encodeSockaddrIn(ip: Uint8Array, port: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(SOCKADDR_IN_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port, false);
  b.set(ip.subarray(0, 4), 4);
  return b;
}

/** Encodes sockaddr_in6 (flowinfo and scope id zero). */
export function encodeSockaddrIn6(ip: Uint8Array, port: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(SOCKADDR_IN6_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port, false);
  b.set(ip.subarray(0, 16), 8);
  return b;
}

/** Decodes a sockaddr_in or sockaddr_in6 by its family field; null for other families. */
export function decodeSockaddr(b: Uint8Array): RawSockaddr | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = v.getUint16(0, true);
  const port = v.getUint16(2, false);
  if (family === AF_INET) return { family, port, ip: b.subarray(4, 8) };
  if (family === AF_INET6) return { family, port, ip: b.subarray(8, 24) };
  return null;
}

// ---------------------------------------------------------------------------------------------
// epoll_event

/**
 * struct epoll_event layout. On x86_64 the kernel declares it `__attribute__((packed))`: 12 bytes
 * with the 64-bit data at offset 4. Elsewhere (aarch64) it is naturally aligned: 16 bytes, data at 8.
 */
export interface EpollEventLayout {
  /** Size of one struct epoll_event. */
  size: number;
  /** Offset of `epoll_data_t data`. */
  dataOffset: number;
}

/** The epoll_event layout for an architecture. */
export function epollEventLayout(arch: Arch = ARCH): EpollEventLayout {
  return arch === "x86_64" ? { size: 12, dataOffset: 4 } : { size: 16, dataOffset: 8 };
}

/**
 * A preallocated array of struct epoll_event (Netty's `EpollEventArray`): `bytes` is what
 * epoll_wait fills and epoll_ctl reads; the accessors decode one slot without allocating. netio's
 * data word is two 32-bit halves: the fd (low) and a generation stamp (high).
 *
 * @example
 * ```ts
 * import { EpollEventArray } from "./structs.ts";
 * const events = new EpollEventArray(2);
 * events.set(1, 0x1, 7, 42);
 * console.log(events.events(1), events.fd(1), events.generation(1)); // 1 7 42
 * ```
 */
export class EpollEventArray {
  /** Number of slots. */
  readonly capacity: number;
  /** The raw array, for epoll_wait (all slots) and epoll_ctl (slot 0). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #size: number;
  #dataOffset: number;

  /** Allocates `capacity` slots in the layout of `arch`. */
  constructor(capacity: number, arch: Arch = ARCH) {
    const layout = epollEventLayout(arch);
    this.capacity = capacity;
    this.#size = layout.size;
    this.#dataOffset = layout.dataOffset;
    this.bytes = new Uint8Array(layout.size * capacity);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** The `events` bits of slot `i`. */
  events(i: number): number {
    return this.#view.getUint32(i * this.#size, true);
  }

  /** The low half of slot `i`'s data word: the fd. */
  fd(i: number): number {
    return this.#view.getUint32(i * this.#size + this.#dataOffset, true);
  }

  /** The high half of slot `i`'s data word: the generation stamp. */
  generation(i: number): number {
    return this.#view.getUint32(i * this.#size + this.#dataOffset + 4, true);
  }

  /** Writes slot `i`: `events` bits and the data word as (low, high) halves. */
  set(i: number, events: number, low: number, high: number): void {
    const base = i * this.#size;
    this.#view.setUint32(base, events >>> 0, true);
    this.#view.setUint32(base + this.#dataOffset, low >>> 0, true);
    this.#view.setUint32(base + this.#dataOffset + 4, high >>> 0, true);
  }
}

// ---------------------------------------------------------------------------------------------
// sigaction

/** Size of glibc's struct sigaction on 64-bit Linux (handler, 128-byte mask, flags, restorer). */
export const SIGACTION_SIZE = 152;

/** The `sa_handler` of a struct sigaction: 0 (SIG_DFL), 1 (SIG_IGN), or an address. */
export function sigactionHandler(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

// ---------------------------------------------------------------------------------------------
// iovec

/** Size of struct iovec (void *iov_base; size_t iov_len) on 64-bit Linux. */
export const IOVEC_SIZE = 16;

// Backing-store addresses by buffer. Deno.UnsafePointer.of costs 200-500 ns a call here, a
// WeakMap lookup about 12 ns (bench/writev_bench.ts: head + small body by writev went from
// slower than concat+write to faster). The cached address stays right: a backing store never
// moves once it exists (reading `.buffer` of a small on-heap typed array moves it off-heap for
// good), growable buffers reserve their maximum up front, and a detached buffer has length 0,
// so no iovec is built into it.
const bufferAddresses = new WeakMap<ArrayBufferLike, bigint>();

function bufferAddress(buffer: ArrayBufferLike): bigint {
  let address = bufferAddresses.get(buffer);
  if (address === undefined) {
    address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer));
    bufferAddresses.set(buffer, address);
  }
  return address;
}

/**
 * Encodes `count` iovecs for `bufs[start..start+count)` into `iov`, the first one advanced by
 * `firstOffset` bytes (to resume after a partial write). Returns the total byte count.
 * `iov` must hold `count * IOVEC_SIZE` bytes. Buffers must stay alive (referenced by the caller)
 * until the writev returns.
 */
export function encodeIovecs(
  iov: BigUint64Array,
  bufs: readonly Uint8Array<ArrayBuffer>[],
  start: number,
  count: number,
  firstOffset: number,
): number {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const b = bufs[start + i]!;
    const skip = i === 0 ? firstOffset : 0;
    const len = b.byteLength - skip;
    // A zero-length view may have no backing store; its address is irrelevant with iov_len 0.
    iov[2 * i] = len > 0 ? bufferAddress(b.buffer) + BigInt(b.byteOffset + skip) : 0n;
    iov[2 * i + 1] = BigInt(len);
    total += len;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Small option values

/** Size of a C int and of socklen_t (4 bytes, little-endian on both supported arches). */
export const INT_SIZE = 4;

/**
 * Preallocated C ints (or socklen_t) for in/out parameters: `bytes` goes to libc, `value` (the
 * first) and `at(i)` read them through a typed view, with no allocation per call (both supported
 * arches are little-endian, the view's native order). `new IntCell(2)` is pipe2's `int[2]`.
 *
 * @example
 * ```ts
 * import { IntCell } from "./structs.ts";
 * const cell = new IntCell();
 * cell.value = -7;
 * console.log(cell.value, cell.bytes.length); // -7 4
 * ```
 */
export class IntCell {
  /** The bytes handed to libc: 4 per int. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  #ints: Int32Array<ArrayBuffer>;

  /** `count` ints (default one). */
  constructor(count = 1) {
    this.bytes = new Uint8Array(INT_SIZE * count);
    this.#ints = new Int32Array(this.bytes.buffer);
  }

  /** The first int. */
  get value(): number {
    return this.#ints[0]!;
  }

  /** Sets the first int (a C int, or a socklen_t below 2^31). */
  set value(v: number) {
    this.#ints[0] = v;
  }

  /** Int `i`. */
  at(i: number): number {
    return this.#ints[i]!;
  }
}

/** Size of off_t and of an eventfd counter (64-bit on both supported arches). */
export const INT64_SIZE = 8;

/**
 * A preallocated 64-bit integer (sendfile's `off_t *`, an eventfd counter), set from a number
 * below 2^53 as two 32-bit halves: no BigInt per call.
 *
 * @example
 * ```ts
 * import { Int64Cell } from "./structs.ts";
 * const offset = new Int64Cell();
 * offset.value = 2 ** 32 + 5;
 * console.log(new DataView(offset.bytes.buffer).getBigInt64(0, true)); // 4294967301n
 * ```
 */
export class Int64Cell {
  /** The 8 bytes handed to libc. */
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(INT64_SIZE);
  #halves = new Uint32Array(this.bytes.buffer);

  /** The value (exact below 2^53). */
  get value(): number {
    return this.#halves[0]! + this.#halves[1]! * 0x1_0000_0000;
  }

  /** Sets a non-negative value below 2^53. */
  set value(v: number) {
    this.#halves[0] = v >>> 0;
    this.#halves[1] = Math.floor(v / 0x1_0000_0000);
  }
}

/** Size of struct linger { int l_onoff; int l_linger; }. */
export const LINGER_SIZE = 8;

/** Encodes struct linger. */
export function encodeLinger(on: boolean, seconds: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(LINGER_SIZE);
  const v = new DataView(b.buffer);
  v.setInt32(0, on ? 1 : 0, true);
  v.setInt32(4, seconds, true);
  return b;
}

/** Decodes struct linger. */
export function decodeLinger(b: Uint8Array): { on: boolean; seconds: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { on: v.getInt32(0, true) !== 0, seconds: v.getInt32(4, true) };
}

// ---------------------------------------------------------------------------------------------
// struct stat (the fields netio reads)

/** A buffer large enough for struct stat on both arches (x86_64: 144, aarch64: 128). */
export const STAT_SIZE = 144;

/** Offsets of st_mode and st_size in struct stat. */
export function statLayout(arch: Arch = ARCH): { modeOffset: number; sizeOffset: number } {
  // x86_64: dev(8) ino(8) nlink(8) mode(4) ...; aarch64 (generic): dev(8) ino(8) mode(4) nlink(4)
  return arch === "x86_64" ? { modeOffset: 24, sizeOffset: 48 } : {
    modeOffset: 16,
    sizeOffset: 48,
  };
}

/** Decodes st_mode and st_size. */
export function decodeStat(b: Uint8Array, arch: Arch = ARCH): { mode: number; size: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const { modeOffset, sizeOffset } = statLayout(arch);
  return { mode: v.getUint32(modeOffset, true), size: Number(v.getBigInt64(sizeOffset, true)) };
}

/** Offsets shared by both arches: st_dev (u64) at 0, st_ino (u64) at 8, st_mtim at 88. */
const STAT_DEV_OFFSET = 0;
const STAT_INO_OFFSET = 8;
const STAT_MTIME_OFFSET = 88; // struct timespec: tv_sec (i64), then tv_nsec (i64)

/** The fields of struct stat a file server needs: type, size, identity, modification time. */
export interface FileStat {
  /** st_mode: type bits (S_IFMT) and permissions. */
  mode: number;
  /** st_size in bytes. */
  size: number;
  /** st_dev: the device; with `ino`, the file's identity. */
  dev: bigint;
  /** st_ino: the inode number. */
  ino: bigint;
  /** st_mtim in milliseconds since the epoch (sub-millisecond precision kept as a fraction). */
  mtimeMs: number;
}

/**
 * Decodes {@linkcode FileStat} from a struct stat buffer. x86_64 and aarch64 differ only before
 * st_size (see {@linkcode statLayout}); dev, ino and the timestamps sit at the same offsets.
 */
export function decodeFileStat(b: Uint8Array, arch: Arch = ARCH): FileStat {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const { mode, size } = decodeStat(b, arch);
  const seconds = Number(v.getBigInt64(STAT_MTIME_OFFSET, true));
  const nanoseconds = Number(v.getBigInt64(STAT_MTIME_OFFSET + 8, true));
  return {
    mode,
    size,
    dev: v.getBigUint64(STAT_DEV_OFFSET, true),
    ino: v.getBigUint64(STAT_INO_OFFSET, true),
    mtimeMs: seconds * 1000 + nanoseconds / 1e6,
  };
}

// ---------------------------------------------------------------------------------------------
// struct open_how (openat2)

/** sizeof(struct open_how): { u64 flags; u64 mode; u64 resolve } (linux/openat2.h, version 0). */
export const OPEN_HOW_SIZE = 24;

/**
 * Encodes struct open_how. Made once per flag combination and reused: the kernel only reads it.
 * `mode` must be 0 unless `flags` has O_CREAT or O_TMPFILE (openat2 refuses it with EINVAL).
 */
export function encodeOpenHow(
  flags: number,
  resolve: number,
  mode = 0,
): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(OPEN_HOW_SIZE);
  const v = new DataView(b.buffer);
  // Unsigned: the kernel refuses unknown high bits, so a sign-extended int would be EINVAL.
  v.setBigUint64(0, BigInt(flags >>> 0), true);
  v.setBigUint64(8, BigInt(mode >>> 0), true);
  v.setBigUint64(16, BigInt(resolve >>> 0), true);
  return b;
}

// ---------------------------------------------------------------------------------------------
// struct linux_dirent64 (getdents64)

/** One directory entry as getdents64 reports it. */
export interface RawDirent {
  /** The entry's name (bytes decoded as UTF-8; invalid sequences become U+FFFD). */
  name: string;
  /** The name's raw bytes (a copy), for names that are not valid UTF-8. */
  nameBytes: Uint8Array<ArrayBuffer>;
  /** d_type: DT_REG, DT_DIR, DT_LNK..., or DT_UNKNOWN when the filesystem does not say. */
  type: number;
}

const direntDecoder = new TextDecoder();

/**
 * Decodes the `length` bytes getdents64 wrote into `b`: records of { u64 d_ino; i64 d_off;
 * u16 d_reclen; u8 d_type; char d_name[] (NUL-terminated) }, each d_reclen long (8-aligned).
 * "." and ".." are kept: the caller decides.
 */
export function decodeDirents(b: Uint8Array, length: number): RawDirent[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: RawDirent[] = [];
  let at = 0;
  while (at + 19 < length) {
    const reclen = v.getUint16(at + 16, true);
    if (reclen < 20 || at + reclen > length) break; // cannot happen with a kernel-filled buffer
    const nameStart = at + 19;
    let nameEnd = nameStart;
    while (nameEnd < at + reclen && b[nameEnd] !== 0) nameEnd++;
    const nameBytes = b.slice(nameStart, nameEnd) as Uint8Array<ArrayBuffer>;
    out.push({ name: direntDecoder.decode(nameBytes), nameBytes, type: b[at + 18]! });
    at += reclen;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tcp_info

/** Size of the struct tcp_info buffer netio asks for (the kernel fills what it knows). */
export const TCP_INFO_SIZE = 256;

/** TCP states (tcpi_state), by kernel number. */
export const TCP_STATES = [
  "UNKNOWN",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
  "NEW_SYN_RECV",
] as const;

/** Congestion-avoidance states (tcpi_ca_state). */
export const TCP_CA_STATES = ["Open", "Disorder", "CWR", "Recovery", "Loss"] as const;

/**
 * struct tcp_info decoded: one named field per kernel field, units in the names. The layout is
 * the same on x86_64 and aarch64 (every field naturally aligned). Fields the kernel's returned
 * length does not cover are `undefined`.
 */
export interface TcpInfo {
  /** Connection state, e.g. "ESTABLISHED". */
  state: string;
  /** Congestion-avoidance state, e.g. "Open". */
  caState: string;
  /** Retransmits of the current unacknowledged segment. */
  retransmits: number;
  /** Zero-window probes sent without answer. */
  probes: number;
  /** Exponential backoff count. */
  backoff: number;
  /** TCPI_OPT_* bits (timestamps, SACK, window scaling, ECN...). */
  options: number;
  /** Send window scale shift. */
  sndWscale: number;
  /** Receive window scale shift. */
  rcvWscale: number;
  /** Retransmission timeout, microseconds. */
  rtoUs: number;
  /** Delayed-ACK timeout, microseconds. */
  atoUs: number;
  /** Sender maximum segment size, bytes. */
  sndMss: number;
  /** Receiver's estimate of the peer's MSS, bytes. */
  rcvMss: number;
  /** Segments sent but not acknowledged. */
  unacked: number;
  /** Segments selectively acknowledged. */
  sacked: number;
  /** Segments considered lost. */
  lost: number;
  /** Segments being retransmitted. */
  retrans: number;
  /** Milliseconds since data was last sent. */
  lastDataSentMs: number;
  /** Milliseconds since data was last received. */
  lastDataRecvMs: number;
  /** Milliseconds since an ACK was last received. */
  lastAckRecvMs: number;
  /** Path MTU, bytes. */
  pmtu: number;
  /** Receive slow-start threshold, bytes. */
  rcvSsthresh: number;
  /** Smoothed round-trip time, microseconds. */
  rttUs: number;
  /** Round-trip time variance, microseconds. */
  rttVarUs: number;
  /** Send slow-start threshold, segments. */
  sndSsthresh: number;
  /** Congestion window, segments. */
  sndCwnd: number;
  /** Advertised MSS, bytes. */
  advmss: number;
  /** Reordering metric, segments. */
  reordering: number;
  /** Receiver-side RTT estimate, microseconds. */
  rcvRttUs: number;
  /** Receive buffer space being auto-tuned towards, bytes. */
  rcvSpace: number;
  /** Total retransmitted segments over the connection's life. */
  totalRetrans: number;
  /** Pacing rate, bytes per second (Linux 4.0+). */
  pacingRate?: number;
  /** Maximum pacing rate, bytes per second. */
  maxPacingRate?: number;
  /**
   * Bytes acknowledged by the peer (Linux 4.1+). The SYN and the FIN each count one: after a
   * 1 MiB transfer and a close it reads 1,048,578.
   */
  bytesAcked?: number;
  /** Bytes received (Linux 4.1+). */
  bytesReceived?: number;
  /** Segments sent (Linux 4.2+). */
  segsOut?: number;
  /** Segments received. */
  segsIn?: number;
  /** Bytes written but not yet sent (Linux 4.6+). */
  notsentBytes?: number;
  /** Minimum RTT seen, microseconds. */
  minRttUs?: number;
  /** Data segments received. */
  dataSegsIn?: number;
  /** Data segments sent. */
  dataSegsOut?: number;
  /** Delivery rate, bytes per second (Linux 4.9+). */
  deliveryRate?: number;
  /** Time busy sending, microseconds (Linux 4.10+). */
  busyTimeUs?: number;
  /** Time limited by the receive window, microseconds. */
  rwndLimitedUs?: number;
  /** Time limited by the send buffer, microseconds. */
  sndbufLimitedUs?: number;
  /** Segments delivered (Linux 4.18+). */
  delivered?: number;
  /** Segments delivered with ECN CE marks. */
  deliveredCe?: number;
  /** Bytes sent including retransmissions (Linux 4.19+). */
  bytesSent?: number;
  /** Bytes retransmitted. */
  bytesRetrans?: number;
  /** DSACK duplicates received. */
  dsackDups?: number;
  /** Reordering events seen. */
  reordSeen?: number;
  /** Out-of-order packets received (Linux 5.4+). */
  rcvOoopack?: number;
  /** Peer's advertised receive window after scaling, bytes (Linux 5.4+). */
  sndWnd?: number;
}

/**
 * Decodes the first `length` bytes of a struct tcp_info, as returned by getsockopt(TCP_INFO).
 * Fields past `length` stay undefined, so an old kernel never yields garbage.
 */
export function decodeTcpInfo(b: Uint8Array, length: number = b.byteLength): TcpInfo {
  const v = new DataView(b.buffer, b.byteOffset, Math.min(b.byteLength, length));
  const n = v.byteLength;
  if (n < 104) throw new RangeError(`tcp_info too short: ${n} bytes (need at least 104)`);
  const u32 = (o: number): number => v.getUint32(o, true);
  const u64 = (o: number): number => Number(v.getBigUint64(o, true));
  const info: TcpInfo = {
    state: TCP_STATES[v.getUint8(0)] ?? `UNKNOWN(${v.getUint8(0)})`,
    caState: TCP_CA_STATES[v.getUint8(1)] ?? `UNKNOWN(${v.getUint8(1)})`,
    retransmits: v.getUint8(2),
    probes: v.getUint8(3),
    backoff: v.getUint8(4),
    options: v.getUint8(5),
    sndWscale: v.getUint8(6) & 0x0f,
    rcvWscale: v.getUint8(6) >> 4,
    rtoUs: u32(8),
    atoUs: u32(12),
    sndMss: u32(16),
    rcvMss: u32(20),
    unacked: u32(24),
    sacked: u32(28),
    lost: u32(32),
    retrans: u32(36),
    // 40: fackets (unused since Linux 4.15)
    lastDataSentMs: u32(44),
    // 48: last_ack_sent (never filled by the kernel)
    lastDataRecvMs: u32(52),
    lastAckRecvMs: u32(56),
    pmtu: u32(60),
    rcvSsthresh: u32(64),
    rttUs: u32(68),
    rttVarUs: u32(72),
    sndSsthresh: u32(76),
    sndCwnd: u32(80),
    advmss: u32(84),
    reordering: u32(88),
    rcvRttUs: u32(92),
    rcvSpace: u32(96),
    totalRetrans: u32(100),
  };
  if (n >= 120) {
    info.pacingRate = u64(104);
    info.maxPacingRate = u64(112);
  }
  if (n >= 136) {
    info.bytesAcked = u64(120);
    info.bytesReceived = u64(128);
  }
  if (n >= 144) {
    info.segsOut = u32(136);
    info.segsIn = u32(140);
  }
  if (n >= 160) {
    info.notsentBytes = u32(144);
    info.minRttUs = u32(148);
    info.dataSegsIn = u32(152);
    info.dataSegsOut = u32(156);
  }
  if (n >= 168) info.deliveryRate = u64(160);
  if (n >= 192) {
    info.busyTimeUs = u64(168);
    info.rwndLimitedUs = u64(176);
    info.sndbufLimitedUs = u64(184);
  }
  if (n >= 200) {
    info.delivered = u32(192);
    info.deliveredCe = u32(196);
  }
  if (n >= 224) {
    info.bytesSent = u64(200);
    info.bytesRetrans = u64(208);
    info.dsackDups = u32(216);
    info.reordSeen = u32(220);
  }
  if (n >= 228) info.rcvOoopack = u32(224);
  if (n >= 232) info.sndWnd = u32(228);
  return info;
}

// ---------------------------------------------------------------------------------------------
// rlimit

/** Size of struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; } on 64-bit Linux. */
export const RLIMIT_SIZE = 16;

/** Decodes struct rlimit; RLIM_INFINITY (and anything past 2^53) reads as Infinity. */
export function decodeRlimit(b: Uint8Array): { soft: number; hard: number } {
  const v = new DataView(b.buffer, b.byteOffset, RLIMIT_SIZE);
  const limit = (at: number): number => {
    const x = v.getBigUint64(at, true);
    return x > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(x);
  };
  return { soft: limit(0), hard: limit(8) };
}
