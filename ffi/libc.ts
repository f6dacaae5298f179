/**
 * The one place netio opens libc. Every symbol netio calls is declared in {@linkcode SYMBOLS},
 * opened lazily on first use, and wrapped by a small function that returns the call's result or,
 * on failure, the negated errno (`-EAGAIN`), read on this thread right after the call. Callers in
 * `lib/` branch on a negative result and build an {@linkcode ErrnoError} with {@linkcode fail}.
 *
 * Lengths: `size_t` parameters are declared `usize` and passed as bigint (a number passed to a
 * 64-bit parameter measured about twice as slow here). `ssize_t` results are declared `i32`: every
 * length netio passes is capped at {@linkcode MAX_IO} (1 GiB), so the result fits, and -1 reads back
 * as -1.
 *
 * The library path can be overridden with the `NETIO_LIBC` environment variable, read only when
 * `--allow-env` already grants it (netio never prompts for an optional setting).
 *
 * @module
 */

import { ErrnoError } from "./errno.ts";
import { SYS_OPENAT2 } from "./constants.ts";
import { OPEN_HOW_SIZE } from "./structs.ts";

/** The largest byte count netio passes to one read/write/sendfile/splice call (1 GiB). */
export const MAX_IO = 1 << 30;

/** The libc symbols netio uses, with their C prototypes. */
export const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" }, // int *__errno_location(void)
  socket: {
    parameters: [
      "i32", // int domain
      "i32", // int type
      "i32", // int protocol
    ],
    result: "i32",
  },
  bind: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const struct sockaddr *addr
      "u32", // socklen_t addrlen
    ],
    result: "i32",
  },
  listen: {
    parameters: [
      "i32", // int sockfd
      "i32", // int backlog
    ],
    result: "i32",
  },
  accept4: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
      "i32", // int flags
    ],
    result: "i32",
  },
  connect: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const struct sockaddr *addr
      "u32", // socklen_t addrlen
    ],
    result: "i32",
  },
  getsockname: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
    ],
    result: "i32",
  },
  getpeername: {
    parameters: [
      "i32", // int sockfd
      "buffer", // struct sockaddr *addr
      "buffer", // socklen_t *addrlen
    ],
    result: "i32",
  },
  setsockopt: {
    parameters: [
      "i32", // int sockfd
      "i32", // int level
      "i32", // int optname
      "buffer", // const void *optval
      "u32", // socklen_t optlen
    ],
    result: "i32",
  },
  getsockopt: {
    parameters: [
      "i32", // int sockfd
      "i32", // int level
      "i32", // int optname
      "buffer", // void *optval
      "buffer", // socklen_t *optlen
    ],
    result: "i32",
  },
  recv: {
    parameters: [
      "i32", // int sockfd
      "buffer", // void *buf
      "usize", // size_t len
      "i32", // int flags
    ],
    result: "i32", // ssize_t, len <= MAX_IO
  },
  send: {
    parameters: [
      "i32", // int sockfd
      "buffer", // const void *buf
      "usize", // size_t len
      "i32", // int flags
    ],
    result: "i32", // ssize_t, len <= MAX_IO
  },
  read: {
    parameters: [
      "i32", // int fd
      "buffer", // void *buf
      "usize", // size_t count
    ],
    result: "i32", // ssize_t, count <= MAX_IO
  },
  write: {
    parameters: [
      "i32", // int fd
      "buffer", // const void *buf
      "usize", // size_t count
    ],
    result: "i32", // ssize_t, count <= MAX_IO
  },
  pread: {
    parameters: [
      "i32", // int fd
      "buffer", // void *buf
      "usize", // size_t count
      "i64", // off_t offset
    ],
    result: "i32", // ssize_t, count <= MAX_IO
  },
  writev: {
    parameters: [
      "i32", // int fd
      "buffer", // const struct iovec *iov
      "i32", // int iovcnt
    ],
    result: "i32", // ssize_t; netio keeps the total <= MAX_IO
  },
  shutdown: {
    parameters: [
      "i32", // int sockfd
      "i32", // int how
    ],
    result: "i32",
  },
  close: {
    parameters: [
      "i32", // int fd
    ],
    result: "i32",
  },
  epoll_create1: {
    parameters: [
      "i32", // int flags
    ],
    result: "i32",
  },
  epoll_ctl: {
    parameters: [
      "i32", // int epfd
      "i32", // int op
      "i32", // int fd
      "buffer", // struct epoll_event *event
    ],
    result: "i32",
  },
  epoll_wait: {
    parameters: [
      "i32", // int epfd
      "buffer", // struct epoll_event *events
      "i32", // int maxevents
      "i32", // int timeout (ms)
    ],
    result: "i32",
  },
  epoll_wait_nonblocking: {
    name: "epoll_wait",
    parameters: [
      "i32", // int epfd
      "buffer", // struct epoll_event *events
      "i32", // int maxevents
      "i32", // int timeout (ms)
    ],
    result: "i32",
    nonblocking: true,
  },
  sigaction: {
    parameters: [
      "i32", // int signum
      "buffer", // const struct sigaction *act (NULL: query only)
      "buffer", // struct sigaction *oldact
    ],
    result: "i32",
  },
  eventfd: {
    parameters: [
      "u32", // unsigned int initval
      "i32", // int flags
    ],
    result: "i32",
  },
  sendfile: {
    parameters: [
      "i32", // int out_fd
      "i32", // int in_fd
      "buffer", // off_t *offset
      "usize", // size_t count
    ],
    result: "i32", // ssize_t, count <= MAX_IO
  },
  splice: {
    parameters: [
      "i32", // int fd_in
      "pointer", // loff_t *off_in (always NULL here: sockets and pipes)
      "i32", // int fd_out
      "pointer", // loff_t *off_out (always NULL here)
      "usize", // size_t len
      "u32", // unsigned int flags
    ],
    result: "i32", // ssize_t, len <= MAX_IO
  },
  pipe2: {
    parameters: [
      "buffer", // int pipefd[2]
      "i32", // int flags
    ],
    result: "i32",
  },
  fcntl: {
    parameters: [
      "i32", // int fd
      "i32", // int cmd
      "i32", // int arg (the variadic third argument; an int for every command netio uses)
    ],
    result: "i32",
  },
  open: {
    parameters: [
      "buffer", // const char *pathname (NUL-terminated)
      "i32", // int flags
      "u32", // mode_t mode (variadic; unused without O_CREAT)
    ],
    result: "i32",
  },
  openat: {
    parameters: [
      "i32", // int dirfd
      "buffer", // const char *pathname (NUL-terminated)
      "i32", // int flags
      "u32", // mode_t mode (variadic; unused without O_CREAT)
    ],
    result: "i32",
  },
  // glibc has no openat2 wrapper: long syscall(long number, ...). Both arches pass variadic
  // arguments in the same registers as fixed ones, so a fixed prototype per use is exact.
  syscall_openat2: {
    name: "syscall",
    parameters: [
      "i64", // long number (SYS_openat2)
      "i32", // int dirfd
      "buffer", // const char *pathname (NUL-terminated)
      "buffer", // struct open_how *how
      "usize", // size_t size (sizeof(struct open_how))
    ],
    result: "i32", // long: an fd or -1
  },
  // io_uring(7): no glibc wrappers either. Numbers are the same on x86_64 and aarch64.
  syscall_io_uring_setup: {
    name: "syscall",
    parameters: [
      "i64", // long number (SYS_io_uring_setup)
      "u32", // u32 entries
      "buffer", // struct io_uring_params *p
    ],
    result: "i32", // the ring fd or -1
  },
  syscall_io_uring_enter: {
    name: "syscall",
    parameters: [
      "i64", // long number (SYS_io_uring_enter)
      "i32", // int fd
      "u32", // u32 to_submit
      "u32", // u32 min_complete (always 0 here: never blocks)
      "u32", // u32 flags
      "pointer", // const void *arg (NULL)
      "usize", // size_t argsz (0)
    ],
    result: "i32",
  },
  syscall_io_uring_register: {
    name: "syscall",
    parameters: [
      "i64", // long number (SYS_io_uring_register)
      "i32", // int fd
      "u32", // unsigned opcode
      "buffer", // void *arg
      "u32", // unsigned nr_args
    ],
    result: "i32",
  },
  mmap: {
    parameters: [
      "pointer", // void *addr (NULL)
      "usize", // size_t length
      "i32", // int prot
      "i32", // int flags
      "i32", // int fd
      "i64", // off_t offset
    ],
    result: "pointer", // MAP_FAILED is (void *)-1
  },
  munmap: {
    parameters: ["pointer", "usize"],
    result: "i32",
  },
  readlinkat: {
    parameters: [
      "i32", // int dirfd
      "buffer", // const char *pathname (NUL-terminated; "" with an O_PATH fd of the link)
      "buffer", // char *buf
      "usize", // size_t bufsiz
    ],
    result: "i32", // ssize_t, bufsiz <= PATH_MAX
  },
  getdents64: {
    parameters: [
      "i32", // int fd
      "buffer", // void *dirp (struct linux_dirent64 records)
      "usize", // size_t count
    ],
    result: "i32", // ssize_t, count <= MAX_IO
  },
  fstat: {
    parameters: [
      "i32", // int fd
      "buffer", // struct stat *statbuf
    ],
    result: "i32",
  },
  getrlimit: {
    parameters: [
      "i32", // int resource
      "buffer", // struct rlimit *rlim
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let errnoCell: Int32Array | undefined;

/**
 * Opens libc (once) and returns its symbols. Throws a clear error outside Linux; Deno's own
 * permission error (naming `--allow-ffi`) passes through untouched.
 */
function load(): Symbols {
  if (lib) return lib.symbols;
  if (Deno.build.os !== "linux") {
    throw new Error(
      `netio needs Linux: it calls Linux-only syscalls (epoll, splice, sendfile) through libc, ` +
        `and this is ${Deno.build.os}`,
    );
  }
  let path = "libc.so.6";
  // An optional setting: read only when env access is granted already. Asking would stop an
  // interactive program at a prompt that netio's README does not announce.
  const env = { name: "env", variable: "NETIO_LIBC" } as const;
  if (Deno.permissions.querySync(env).state === "granted") {
    path = Deno.env.get("NETIO_LIBC") ?? path;
  }
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw error;
    }
    throw new Error(`netio could not open the C library "${path}": ${String(error)}`, {
      cause: error,
    });
  }
  const p = lib.symbols.__errno_location();
  if (p === null) throw new Error("netio: __errno_location() returned NULL");
  // A typed view of this thread's errno: reading it is a plain load, no FFI op (~55 ns less).
  errnoCell = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4));
  return lib.symbols;
}

/**
 * The libc symbols, opened on first use. Only `ffi/` calls this; `lib/` uses the wrappers below.
 *
 * @example
 * ```ts ignore
 * import { libc } from "./libc.ts";
 * console.log(libc().socket(2, 1, 0));
 * ```
 */
export function libc(): Symbols {
  return lib ? lib.symbols : load();
}

/** errno of this thread, right now. */
function errno(): number {
  return errnoCell![0]!;
}

/**
 * A result, or the negated errno when the call returned -1 (for the wrappers of ffi/, such as
 * ffi/uring.ts's).
 */
export function ret(r: number): number {
  return r >= 0 ? r : -errno();
}

/**
 * Builds the {@linkcode ErrnoError} for a negative wrapper result (`-errno`).
 *
 * @example
 * ```ts ignore
 * const r = sysClose(fd);
 * if (r < 0) throw fail(r, "close");
 * ```
 */
export function fail(negErrno: number, syscall: string, detail?: string): ErrnoError {
  return new ErrnoError(-negErrno, syscall, detail === undefined ? undefined : { detail });
}

/** Returns `r` when it is not negative, else throws the ErrnoError for `syscall`. */
export function check(r: number, syscall: string, detail?: string): number {
  if (r < 0) throw fail(r, syscall, detail);
  return r;
}

// size_t arguments are bigints. A server passes the same few lengths again and again (its read
// buffer's size, a fixed response's length), so the last conversion is kept, one slot for reads and
// one for writes: it saves a BigInt allocation per call (half of a hot server's garbage).
let readLen = -1;
let readBig = 0n;
let writeLen = -1;
let writeBig = 0n;

/** `min(n, MAX_IO)` as a bigint, cached for repeated read lengths. */
function readSize(n: number): bigint {
  if (n !== readLen) {
    readLen = n;
    readBig = BigInt(n < MAX_IO ? n : MAX_IO);
  }
  return readBig;
}

/** `min(n, MAX_IO)` as a bigint, cached for repeated write lengths. */
function writeSize(n: number): bigint {
  if (n !== writeLen) {
    writeLen = n;
    writeBig = BigInt(n < MAX_IO ? n : MAX_IO);
  }
  return writeBig;
}

// Each wrapper returns the result, or -errno on failure. Lengths are taken from the buffers
// themselves, so a length can never exceed the memory it describes.

/** socket(2). */
export function sysSocket(domain: number, type: number, protocol: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.socket(domain, type, protocol));
}

/** bind(2) with an encoded sockaddr. */
export function sysBind(fd: number, addr: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  return ret(s.bind(fd, addr, addr.byteLength));
}

/** listen(2). */
export function sysListen(fd: number, backlog: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.listen(fd, backlog));
}

/** accept4(2); `addr` receives the peer address and `addrLen` (4 bytes) its length. */
export function sysAccept4(
  fd: number,
  addr: Uint8Array<ArrayBuffer> | null,
  addrLen: Uint8Array<ArrayBuffer> | null,
  flags: number,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.accept4(fd, addr, addrLen, flags));
}

/** connect(2) with an encoded sockaddr. */
export function sysConnect(fd: number, addr: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  return ret(s.connect(fd, addr, addr.byteLength));
}

/** getsockname(2) into `addr`, its length written to `addrLen` (4 bytes, preset to addr size). */
export function sysGetsockname(
  fd: number,
  addr: Uint8Array<ArrayBuffer>,
  addrLen: Uint8Array<ArrayBuffer>,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.getsockname(fd, addr, addrLen));
}

/** getpeername(2), like {@linkcode sysGetsockname}. */
export function sysGetpeername(
  fd: number,
  addr: Uint8Array<ArrayBuffer>,
  addrLen: Uint8Array<ArrayBuffer>,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.getpeername(fd, addr, addrLen));
}

/** setsockopt(2) with the whole of `value` as the option value. */
export function sysSetsockopt(
  fd: number,
  level: number,
  name: number,
  value: Uint8Array<ArrayBuffer>,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.setsockopt(fd, level, name, value, value.byteLength));
}

/** getsockopt(2) into `value`; `valueLen` (4 bytes) is set to value's size, then to the result. */
export function sysGetsockopt(
  fd: number,
  level: number,
  name: number,
  value: Uint8Array<ArrayBuffer>,
  valueLen: Uint8Array<ArrayBuffer>,
): number {
  const s = lib ? lib.symbols : load();
  const n = value.byteLength; // socklen_t, little-endian, without allocating a DataView
  valueLen[0] = n & 0xff;
  valueLen[1] = (n >> 8) & 0xff;
  valueLen[2] = (n >> 16) & 0xff;
  valueLen[3] = n >>> 24;
  return ret(s.getsockopt(fd, level, name, value, valueLen));
}

/** recv(2) into the whole of `buf` (at most MAX_IO bytes). */
export function sysRecv(fd: number, buf: Uint8Array<ArrayBuffer>, flags: number): number {
  const s = lib ? lib.symbols : load();
  const n = buf.byteLength;
  return ret(s.recv(fd, buf, readSize(n), flags));
}

/** send(2) of the whole of `buf` (at most MAX_IO bytes). */
export function sysSend(fd: number, buf: Uint8Array<ArrayBuffer>, flags: number): number {
  const s = lib ? lib.symbols : load();
  const n = buf.byteLength;
  return ret(s.send(fd, buf, writeSize(n), flags));
}

/** read(2) into the whole of `buf` (at most MAX_IO bytes). */
export function sysRead(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  const n = buf.byteLength;
  return ret(s.read(fd, buf, readSize(n)));
}

/** write(2) of the whole of `buf` (at most MAX_IO bytes). */
export function sysWrite(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  const n = buf.byteLength;
  return ret(s.write(fd, buf, writeSize(n)));
}

/** pread(2) into the whole of `buf` from file offset `offset`. */
export function sysPread(fd: number, buf: Uint8Array<ArrayBuffer>, offset: number): number {
  const s = lib ? lib.symbols : load();
  const n = buf.byteLength;
  return ret(s.pread(fd, buf, BigInt(n < MAX_IO ? n : MAX_IO), BigInt(offset)));
}

/** writev(2) of `count` iovecs encoded in `iov` (see structs.ts). */
export function sysWritev(fd: number, iov: Uint8Array<ArrayBuffer>, count: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.writev(fd, iov, count));
}

/** shutdown(2). */
export function sysShutdown(fd: number, how: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.shutdown(fd, how));
}

/** close(2). */
export function sysClose(fd: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.close(fd));
}

/** epoll_create1(2). */
export function sysEpollCreate1(flags: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.epoll_create1(flags));
}

/** epoll_ctl(2) with an encoded epoll_event (or null for EPOLL_CTL_DEL). */
export function sysEpollCtl(
  epfd: number,
  op: number,
  fd: number,
  event: Uint8Array<ArrayBuffer> | null,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.epoll_ctl(epfd, op, fd, event));
}

/** epoll_wait(2), synchronous: only ever call it with timeout 0 on the main thread. */
export function sysEpollWait(
  epfd: number,
  events: Uint8Array<ArrayBuffer>,
  maxEvents: number,
  timeoutMs: number,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.epoll_wait(epfd, events, maxEvents, timeoutMs));
}

/**
 * epoll_wait(2) on a libc worker thread. The result is the event count or -1; errno belongs to
 * that other thread and is not read: callers treat -1 (EINTR, mostly) by polling again. `events`
 * belongs to the call until the promise settles.
 */
export function epollWaitNonblocking(
  epfd: number,
  events: Uint8Array<ArrayBuffer>,
  maxEvents: number,
  timeoutMs: number,
): Promise<number> {
  const s = lib ? lib.symbols : load();
  return s.epoll_wait_nonblocking(epfd, events, maxEvents, timeoutMs);
}

/** sigaction(2) with a NULL `act`: reads the current disposition of `signum` into `oldAct`. */
export function sysSigactionQuery(signum: number, oldAct: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  return ret(s.sigaction(signum, null, oldAct));
}

/** eventfd(2). */
export function sysEventfd(initval: number, flags: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.eventfd(initval, flags));
}

/** sendfile(2); `offset` is an 8-byte in/out off_t; at most MAX_IO bytes. */
export function sysSendfile(
  outFd: number,
  inFd: number,
  offset: Uint8Array<ArrayBuffer>,
  count: number,
): number {
  const s = lib ? lib.symbols : load();
  return ret(s.sendfile(outFd, inFd, offset, BigInt(count < MAX_IO ? count : MAX_IO)));
}

/** splice(2) between a pipe and a socket (no offsets); at most MAX_IO bytes. */
export function sysSplice(fdIn: number, fdOut: number, length: number, flags: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.splice(fdIn, null, fdOut, null, BigInt(length < MAX_IO ? length : MAX_IO), flags));
}

/** pipe2(2); `fds` is an 8-byte buffer receiving the two descriptors. */
export function sysPipe2(fds: Uint8Array<ArrayBuffer>, flags: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.pipe2(fds, flags));
}

/** fcntl(2) with an int argument. */
export function sysFcntl(fd: number, cmd: number, arg: number): number {
  const s = lib ? lib.symbols : load();
  return ret(s.fcntl(fd, cmd, arg));
}

/** open(2) of a NUL-terminated path. */
export function sysOpen(path: Uint8Array<ArrayBuffer>, flags: number): number {
  const s = lib ? lib.symbols : load();
  checkNul(path);
  return ret(s.open(path, flags, 0));
}

/** Throws unless `path` ends with its NUL terminator (C reads up to it). */
function checkNul(path: Uint8Array): void {
  if (path[path.byteLength - 1] !== 0) throw new TypeError("path must be NUL-terminated");
}

/** openat(2) of a NUL-terminated path relative to `dirfd`. */
export function sysOpenat(dirfd: number, path: Uint8Array<ArrayBuffer>, flags: number): number {
  const s = lib ? lib.symbols : load();
  checkNul(path);
  return ret(s.openat(dirfd, path, flags, 0));
}

const SYS_OPENAT2_BIG = BigInt(SYS_OPENAT2);
const OPEN_HOW_SIZE_BIG = BigInt(OPEN_HOW_SIZE);

/**
 * openat2(2) through syscall(2) (Linux 5.6+; glibc has no wrapper) of a NUL-terminated path
 * relative to `dirfd`; `how` is an encoded struct open_how (see {@linkcode encodeOpenHow}).
 * Where the kernel lacks it the result is -ENOSYS; a seccomp filter may answer -EPERM.
 */
export function sysOpenat2(
  dirfd: number,
  path: Uint8Array<ArrayBuffer>,
  how: Uint8Array<ArrayBuffer>,
): number {
  const s = lib ? lib.symbols : load();
  checkNul(path);
  if (how.byteLength !== OPEN_HOW_SIZE) throw new TypeError("how must be a struct open_how");
  return ret(s.syscall_openat2(SYS_OPENAT2_BIG, dirfd, path, how, OPEN_HOW_SIZE_BIG));
}

/** readlinkat(2) into the whole of `buf` (no NUL is added: the result is the byte count). */
export function sysReadlinkat(
  dirfd: number,
  path: Uint8Array<ArrayBuffer>,
  buf: Uint8Array<ArrayBuffer>,
): number {
  const s = lib ? lib.symbols : load();
  checkNul(path);
  return ret(s.readlinkat(dirfd, path, buf, BigInt(buf.byteLength)));
}

/** getdents64(2) into the whole of `buf` (linux_dirent64 records, see structs.ts). */
export function sysGetdents64(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  return ret(s.getdents64(fd, buf, readSize(buf.byteLength)));
}

/** fstat(2) into a buffer of STAT_SIZE bytes (see structs.ts). */
export function sysFstat(fd: number, stat: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  return ret(s.fstat(fd, stat));
}

/** getrlimit(2) into a buffer of RLIMIT_SIZE bytes (see structs.ts). */
export function sysGetrlimit(resource: number, rlimit: Uint8Array<ArrayBuffer>): number {
  const s = lib ? lib.symbols : load();
  return ret(s.getrlimit(resource, rlimit));
}
