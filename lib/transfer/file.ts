/**
 * {@linkcode openFile}: a regular file opened read-only by netio itself (Deno's FsFile has no fd),
 * for {@linkcode sendFile}. `--allow-read` is checked first.
 *
 * @module
 */

import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, S_IFDIR, S_IFMT, S_IFREG } from "../../ffi/constants.ts";
import { EINTR, EINVAL, EISDIR, ErrnoError } from "../../ffi/errno.ts";
import { check, fail, sysClose, sysFstat, sysOpen } from "../../ffi/libc.ts";
import { decodeFileStat, type FileStat, STAT_SIZE } from "../../ffi/structs.ts";
import { OwnedFd } from "../net/fd.ts";
import { requireRead } from "../_permissions.ts";
import { checkPath } from "../_validate.ts";

const statBuf = new Uint8Array(STAT_SIZE);
const encoder = new TextEncoder();

/** fstat(2) on an open descriptor: type bits, size, identity and modification time. */
export function fstat(fd: number): FileStat {
  check(sysFstat(fd, statBuf), "fstat");
  return decodeFileStat(statBuf);
}

/**
 * An open regular file, read-only, from {@linkcode openFile}: its descriptor and size, for
 * {@linkcode sendFile}. Close it with `close()` or `using`; closing twice is harmless.
 *
 * @example
 * ```ts
 * import { openFile } from "../../mod.ts";
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
  #mtimeMs: number;
  #path: string;

  /** @internal Use {@linkcode openFile} or `FileRoot.open`. */
  constructor(fd: number, stat: { size: number; mtimeMs: number }, path: string) {
    this.#fd = new OwnedFd(fd);
    this.#size = stat.size;
    this.#mtimeMs = stat.mtimeMs;
    this.#path = path;
  }

  /** The path the file was opened by (for a file opened under a root: the root, "/", the path). */
  get path(): string {
    return this.#path;
  }

  /** Size in bytes when opened (sendFile checks the current size again before sending). */
  get size(): number {
    return this.#size;
  }

  /**
   * Last modification time when opened, in milliseconds since the epoch (st_mtim, with its
   * sub-millisecond part as a fraction): `new Date(file.mtimeMs).toUTCString()` is a
   * Last-Modified value.
   */
  get mtimeMs(): number {
    return this.#mtimeMs;
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
 * import { openFile } from "../../mod.ts";
 * const path = await Deno.makeTempFile();
 * using file = openFile(path);
 * console.log(file.size); // 0
 * file.close();
 * await Deno.remove(path);
 * ```
 */
export function openFile(path: string | URL): FileHandle {
  path = checkPath(path, "openFile path", { allowUrl: true });
  requireRead(path);
  const bytes = encoder.encode(path);
  const cPath = new Uint8Array(bytes.length + 1);
  cPath.set(bytes);
  let fd = sysOpen(cPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  while (fd === -EINTR) fd = sysOpen(cPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw fail(fd, "open", path);
  return adoptRegularFile(fd, "open", path);
}

/**
 * Wraps a freshly opened descriptor in a {@linkcode FileHandle} if it is a regular file; else
 * closes it and throws ErrnoError EISDIR (a directory) or EINVAL (a FIFO, device or socket: no
 * size to send). The one home of that check, for {@linkcode openFile} and `FileRoot.open`.
 */
export function adoptRegularFile(fd: number, syscall: string, path: string): FileHandle {
  try {
    const stat = fstat(fd);
    const type = stat.mode & S_IFMT;
    if (type === S_IFDIR) throw new ErrnoError(EISDIR, syscall, { detail: path });
    if (type !== S_IFREG) throw new ErrnoError(EINVAL, syscall, { detail: path });
    return new FileHandle(fd, stat, path);
  } catch (e) {
    sysClose(fd);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// sendFile
