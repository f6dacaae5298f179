/**
 * The fallback of {@linkcode FileRoot} where openat2 is missing (ENOSYS, Linux < 5.6) or refused
 * (EPERM from a seccomp filter): the lookup done in user space, one component at a time, each an
 * `openat(dirfd, name, O_NOFOLLOW)` relative to a directory descriptor already known to be inside
 * the root. Nothing is ever looked up by a path string that the kernel resolves on its own, so a
 * rename or a symlink swapped in between two steps changes what is found, never where the walk
 * is: the walk stays beneath the root, as openat2's RESOLVE_BENEATH does in the kernel.
 *
 * - `..` goes back to the directory the walk came from (a stack of held descriptors), and past
 *   the root it is refused (-EXDEV, as openat2 says it). The filesystem's own `..` is never
 *   looked up: a directory renamed out of the root during a walk exposes at most its own
 *   subtree (what whoever moved it could have moved into the root), never its new parents.
 * - A symbolic link is never followed by the kernel. Its text is read (readlinkat, which does not
 *   follow) and walked in its place: a relative target continues from the link's directory (so
 *   links that stay inside the root are served), an absolute target is refused (-EXDEV, as
 *   RESOLVE_BENEATH refuses it), and at most MAXSYMLINKS links are taken (-ELOOP). Magic links
 *   (/proc/PID/fd/N) are links like any other here: their text is walked, their magic is not.
 * - With `noSymlinks`, any link met is refused (-ELOOP, as RESOLVE_NO_SYMLINKS).
 *
 * It costs two syscalls per component (openat + fstat) plus a close per directory, against one
 * openat2 for the whole path: see bench/root_bench.ts.
 *
 * @module
 */

import {
  MAXSYMLINKS,
  O_CLOEXEC,
  O_NOFOLLOW,
  O_PATH,
  PATH_MAX,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
} from "../../ffi/constants.ts";
import { EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EXDEV } from "../../ffi/errno.ts";
import { sysClose, sysFstat, sysOpenat, sysReadlinkat } from "../../ffi/libc.ts";
import { decodeStat, STAT_SIZE } from "../../ffi/structs.ts";

/** An intermediate step: a descriptor naming the component, never following it. */
const O_STEP = O_PATH | O_NOFOLLOW | O_CLOEXEC;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** One component, NUL-terminated (a component is at most a whole path long). */
const nameBuf = new Uint8Array(PATH_MAX);
/** A link's text (readlinkat does not terminate it). */
const linkBuf = new Uint8Array(PATH_MAX);
const statBuf = new Uint8Array(STAT_SIZE);

/**
 * Pushes the components of `path` onto `stack` in reverse (the next one is `pop()`ed). Empty and
 * "." components are dropped, except that a path ending in "/" or "." (or an empty one) ends in
 * "." so that the step opens the directory itself and a non-directory fails with ENOTDIR, as the
 * kernel's lookup does.
 */
function pushComponents(stack: string[], path: string): void {
  const parts = path.split("/");
  const last = parts.length - 1;
  for (let i = last; i >= 0; i--) {
    const part = parts[i]!;
    if (part === "" || part === ".") {
      if (i === last) stack.push(".");
      continue;
    }
    stack.push(part);
  }
}

/** Encodes `name` NUL-terminated into the shared name buffer (names never hold "/" or NUL). */
function cName(name: string): Uint8Array<ArrayBuffer> {
  const { written } = encoder.encodeInto(name, nameBuf.subarray(0, PATH_MAX - 1));
  nameBuf[written] = 0;
  return nameBuf.subarray(0, written + 1);
}

/** The type bits of an open descriptor, or -errno. */
function typeOf(fd: number): number {
  const r = sysFstat(fd, statBuf);
  return r < 0 ? r : decodeStat(statBuf).mode & S_IFMT;
}

/**
 * Opens `path` beneath the directory `rootFd` with `finalFlags` (plus O_NOFOLLOW) for the last
 * component, walking one component at a time. Returns the new descriptor, or -errno: -EXDEV for
 * a path or link that leaves the root, -ELOOP for a link refused by `noSymlinks` or one too many,
 * else the kernel's own (-ENOENT, -ENOTDIR, -EACCES...). Every descriptor it opens on the way is
 * closed before it returns. `path` is already validated (a string of at most PATH_MAX - 1 bytes,
 * no NUL) and relative.
 */
export function walkOpen(
  rootFd: number,
  path: string,
  finalFlags: number,
  noSymlinks: boolean,
): number {
  const pending: string[] = [];
  pushComponents(pending, path);
  /** Directories entered, innermost last; the root itself is not in it (the caller owns it). */
  const held: number[] = [];
  let links = 0;
  try {
    while (pending.length > 0) {
      const name = pending.pop()!;
      const dir = held.length > 0 ? held[held.length - 1]! : rootFd;
      if (name === "..") {
        if (held.length === 0) return -EXDEV;
        sysClose(held.pop()!);
        // ".." last: the result is the directory now reached.
        if (pending.length === 0) pending.push(".");
        continue;
      }
      const last = pending.length === 0;
      const c = cName(name);
      const fd = sysOpenat(dir, c, last ? finalFlags | O_NOFOLLOW : O_STEP);
      // Opened for real, with O_NOFOLLOW: it cannot be a link (that is ELOOP).
      if (fd >= 0 && last && (finalFlags & O_PATH) === 0) return fd;
      if (fd >= 0) {
        // An O_PATH|O_NOFOLLOW descriptor: the object itself, a link included.
        const type = typeOf(fd);
        if (type !== S_IFLNK) {
          if (type >= 0 && last) return fd;
          if (type === S_IFDIR) {
            held.push(fd); // an O_PATH directory serves as the next step's dirfd
            continue;
          }
          sysClose(fd);
          return type < 0 ? type : -ENOTDIR;
        }
        sysClose(fd);
      } else if (!(last && (fd === -ELOOP || fd === -ENOTDIR))) {
        // O_NOFOLLOW on a last component that is a link gives ELOOP (ENOTDIR with O_DIRECTORY).
        return fd;
      }
      // Perhaps a symbolic link: read its text (readlinkat does not follow).
      const n = sysReadlinkat(dir, c, linkBuf);
      if (n === -EINVAL) {
        // Not a link: a real ENOTDIR, or the name was swapped meanwhile (look again, bounded).
        if (fd === -ENOTDIR) return -ENOTDIR;
        if (++links > MAXSYMLINKS) return -ELOOP;
        pending.push(name);
        continue;
      }
      if (n < 0) return n;
      if (noSymlinks) return -ELOOP;
      if (++links > MAXSYMLINKS) return -ELOOP;
      if (n === 0) return -ENOENT;
      if (n >= PATH_MAX) return -ENAMETOOLONG; // cannot be: the kernel caps link text below it
      if (linkBuf[0] === 0x2f) return -EXDEV; // "/": an absolute target leaves the root
      // The link's text continues from `dir`, before whatever followed the link in the path.
      pushComponents(pending, decoder.decode(linkBuf.subarray(0, n)));
    }
    return -ENOENT; // unreachable: pushComponents never leaves the stack empty
  } finally {
    for (const fd of held) sysClose(fd);
  }
}
