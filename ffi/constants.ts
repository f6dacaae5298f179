/**
 * Linux constants used by netio: address families, socket types, option levels and names,
 * epoll bits, splice flags, open/fcntl flags. Values are the Linux UAPI numbers, identical on
 * x86_64 and aarch64 for everything listed here except O_DIRECTORY and O_NOFOLLOW (chosen by
 * `Deno.build.arch`).
 *
 * @module
 */

/** IPv4 address family. */
export const AF_INET = 2;
/** IPv6 address family. */
export const AF_INET6 = 10;

/** Stream socket type. */
export const SOCK_STREAM = 1;
/** Socket flag: non-blocking from creation (same value as O_NONBLOCK). */
export const SOCK_NONBLOCK = 0o4000;
/** Socket flag: close-on-exec from creation (same value as O_CLOEXEC). */
export const SOCK_CLOEXEC = 0o2000000;

/** Protocol number of TCP, also the option level for TCP options. */
export const IPPROTO_TCP = 6;
/** Option level for IPv6 options. */
export const IPPROTO_IPV6 = 41;
/** Socket-level option level. */
export const SOL_SOCKET = 1;

/** SOL_SOCKET option names. */
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;

/** IPPROTO_TCP option names. */
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_INFO = 11;
export const TCP_QUICKACK = 12;
export const TCP_USER_TIMEOUT = 18;
export const TCP_NOTSENT_LOWAT = 25;

/** IPPROTO_IPV6 option: restrict an AF_INET6 socket to IPv6 only. */
export const IPV6_V6ONLY = 26;

/** send/recv flags. */
export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
/** send(2) on io_uring: keep sending until all is sent (a short send is retried by the kernel). */
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;

/** shutdown() directions. */
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** epoll_ctl operations. */
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
/** epoll_create1 flag. */
export const EPOLL_CLOEXEC = 0o2000000;

/** epoll event bits. */
export const EPOLLIN = 0x001;
export const EPOLLPRI = 0x002;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
export const EPOLLONESHOT = 1 << 30;
/** EPOLLET is bit 31; as a signed 32-bit number it is negative, so keep it unsigned. */
export const EPOLLET = 0x80000000;

/** eventfd flags. */
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

/** open() flags. */
export const O_RDONLY = 0;
/** open() flag: a terminal opened by accident does not become the controlling terminal. */
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** open() flag: a descriptor that only names a place in the tree (no read, no write). */
export const O_PATH = 0o10000000;
// O_DIRECTORY and O_NOFOLLOW are the two open flags that differ between the arches: arm64 keeps
// the values of 32-bit ARM (arch/arm64/include/uapi/asm/fcntl.h), x86_64 the generic ones.
const ARM64 = Deno.build.arch === "aarch64";
/** open() flag: fail with ENOTDIR unless the path names a directory. */
export const O_DIRECTORY: number = ARM64 ? 0o40000 : 0o200000;
/** open() flag: fail with ELOOP when the last component is a symbolic link. */
export const O_NOFOLLOW: number = ARM64 ? 0o100000 : 0o400000;

/** openat(2)/openat2(2) directory argument meaning "relative to the working directory". */
export const AT_FDCWD = -100;

/**
 * openat2(2) `resolve` bits (linux/openat2.h), Linux 5.6+. The kernel applies them during the
 * lookup itself, so no rename or symlink swap between a check and the open can defeat them.
 */
/** Refuse to cross a mount point (bind mounts included). */
export const RESOLVE_NO_XDEV = 0x01;
/** Refuse magic links (/proc/PID/fd/N, /proc/PID/root, /proc/PID/exe...). */
export const RESOLVE_NO_MAGICLINKS = 0x02;
/** Refuse every symbolic link, the last component included (ELOOP). */
export const RESOLVE_NO_SYMLINKS = 0x04;
/** Refuse any resolution that leaves the directory fd: `..` past it, absolute paths and symlinks (EXDEV). */
export const RESOLVE_BENEATH = 0x08;
/** Resolve as if the directory fd were the root (chroot-like: `..` and `/` stay inside). */
export const RESOLVE_IN_ROOT = 0x10;

/** openat2 syscall number: 437 on x86_64 and aarch64 alike (numbers past 424 are shared). */
export const SYS_OPENAT2 = 437;

/** The longest path the kernel takes, NUL included (PATH_MAX). */
export const PATH_MAX = 4096;
/** How many symbolic links one lookup may follow before ELOOP (the kernel's MAXSYMLINKS). */
export const MAXSYMLINKS = 40;

/** fcntl commands. */
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;

/** splice flags. */
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
export const SPLICE_F_MORE = 4;

/** The kernel's limit on iovecs per writev call (UIO_MAXIOV). */
export const IOV_MAX = 1024;

/** File type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** linux_dirent64 d_type values (DT_UNKNOWN: the filesystem does not say; fstat to learn). */
export const DT_UNKNOWN = 0;
export const DT_DIR = 4;
export const DT_REG = 8;
export const DT_LNK = 10;

/** getrlimit resources. */
export const RLIMIT_NOFILE = 7;

/** fcntl: duplicate onto the lowest free number >= the argument, with close-on-exec. */
export const F_DUPFD_CLOEXEC = 1030;

/** The signal a write to a reset peer raises. */
export const SIGPIPE = 13;
/** sa_handler value of an ignored signal. */
export const SIG_IGN = 1n;
