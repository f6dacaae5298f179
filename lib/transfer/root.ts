/**
 * {@linkcode FileRoot}: files opened beneath one directory, decided by the kernel during the lookup
 * itself, so that no rename or symlink swapped in between a check and an open can lead outside.
 *
 * The root is opened once (O_PATH|O_DIRECTORY|O_CLOEXEC) after `--allow-read` is checked for it.
 * Every later open is `openat2(rootFd, path, { resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS })`
 * (plus RESOLVE_NO_SYMLINKS with `noSymlinks`): one syscall, no path string resolved twice.
 * A check-then-open design (realpath, compare the prefix, open the path) loses to a local user who
 * swaps a directory for a symlink between the two steps; tests/root_test.ts runs that race.
 *
 * Where openat2 is missing (ENOSYS, Linux < 5.6) or refused (EPERM from a seccomp filter, as in
 * some container runtimes), the same rules are applied by a per-component walk in user space
 * (`_root_walk.ts`); {@linkcode FileRoot.method} says which is in use and
 * {@linkcode FileRoot.fallbackReason} why.
 *
 * What each outcome means, for a file server:
 * - a path that leaves the root (`..` past it, an absolute path, a symlink to an absolute target
 *   or one that climbs out) throws an ErrnoError of class `Deno.errors.PermissionDenied` with
 *   code "EXDEV" (403);
 * - a symbolic link under `noSymlinks`, a magic link (/proc/PID/fd/N), or a symlink loop throws
 *   `Deno.errors.PermissionDenied` with code "ELOOP" (403);
 * - a missing file `Deno.errors.NotFound` (ENOENT), a file used as a directory
 *   `Deno.errors.NotADirectory` (ENOTDIR) (both 404);
 * - a directory given to `open()` `Deno.errors.IsADirectory` (EISDIR): serve its index.html or
 *   list it with {@linkcode FileRoot.readDir};
 * - a FIFO, device or socket an ErrnoError EINVAL (not a regular file: nothing to send).
 *
 * Not covered, as with any beneath-the-root design: hard links to outside files (whoever can make
 * one could copy the file), and mount points under the root (bind mounts are followed; openat2
 * has RESOLVE_NO_XDEV for that, not used here).
 *
 * @module
 */

import {
  DT_DIR,
  DT_LNK,
  DT_REG,
  DT_UNKNOWN,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  PATH_MAX,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from "../../ffi/constants.ts";
import {
  E2BIG,
  EAGAIN,
  EINTR,
  EINVAL,
  ELOOP,
  ENOSYS,
  EPERM,
  ErrnoError,
  errnoMessage,
  errnoName,
  EXDEV,
} from "../../ffi/errno.ts";
import {
  fail,
  sysClose,
  sysFstat,
  sysGetdents64,
  sysOpen,
  sysOpenat,
  sysOpenat2,
} from "../../ffi/libc.ts";
import { decodeDirents, decodeStat, encodeOpenHow, STAT_SIZE } from "../../ffi/structs.ts";
import { OwnedFd } from "../net/fd.ts";
import { requireRead } from "../_permissions.ts";
import { checkBoolean, checkObject, checkPath } from "../_validate.ts";
import { adoptRegularFile, type FileHandle, fstat } from "./file.ts";
import { walkOpen } from "./_root_walk.ts";

/**
 * How a {@linkcode FileRoot} confines its lookups: `"openat2"` (the kernel, in one syscall) or
 * `"walk"` (one `openat(O_NOFOLLOW)` per component, where openat2 is missing or refused).
 *
 * @example
 * ```ts
 * import { openRoot, type RootMethod } from "../../mod.ts";
 * using root = openRoot(Deno.cwd());
 * const method: RootMethod = root.method;
 * console.log(method); // "openat2" on Linux 5.6+
 * ```
 */
export type RootMethod = "openat2" | "walk";

/**
 * Options of {@linkcode openRoot}.
 *
 * @example
 * ```ts
 * import { openRoot, type OpenRootOptions } from "../../mod.ts";
 * const options: OpenRootOptions = { noSymlinks: true };
 * using root = openRoot(Deno.cwd(), options);
 * console.log(root.noSymlinks); // true
 * ```
 */
export interface OpenRootOptions {
  /**
   * Refuse every symbolic link under the root, the last component included (RESOLVE_NO_SYMLINKS),
   * with a PermissionDenied error of code "ELOOP". Default false: links that stay inside the root
   * are followed, links that lead out are refused either way.
   */
  noSymlinks?: boolean;
  /**
   * `"auto"` (default): openat2 where the kernel takes it, else the walk. `"openat2"`: openat2
   * or an error (ENOSYS, EPERM). `"walk"`: the walk, always (to test or measure it).
   */
  mode?: "auto" | "openat2" | "walk";
}

/**
 * What {@linkcode FileRoot.stat} reports about a path under the root (symlinks inside the root
 * followed, as `open()` would).
 *
 * @example
 * ```ts
 * import { openRoot, type RootStat } from "../../mod.ts";
 * using root = openRoot(Deno.cwd());
 * const st: RootStat = root.stat("");
 * console.log(st.isDirectory); // true: "" is the root itself
 * ```
 */
export interface RootStat {
  /** A regular file (the only kind `open()` returns). */
  isFile: boolean;
  /** A directory: serve its index.html, or list it with `readDir()`. */
  isDirectory: boolean;
  /** Size in bytes. */
  size: number;
  /** Last modification, milliseconds since the epoch (`new Date(mtimeMs)` for Last-Modified). */
  mtimeMs: number;
  /** st_mode: type bits and permissions. */
  mode: number;
  /** The device; with `ino`, the file's identity (an ETag ingredient). */
  dev: bigint;
  /** The inode number. */
  ino: bigint;
}

/**
 * One entry of {@linkcode FileRoot.readDir}. The kinds describe the entry itself: a symbolic
 * link is reported as one (whether `open()` follows it depends on where it leads and on
 * `noSymlinks`).
 *
 * @example
 * ```ts
 * import { openRoot, type RootDirEntry } from "../../mod.ts";
 * using root = openRoot(Deno.cwd());
 * const entries: RootDirEntry[] = root.readDir("");
 * console.log(entries.some((e) => e.name === "deno.json" && e.isFile));
 * ```
 */
export interface RootDirEntry {
  /** The name (UTF-8; bytes that are not valid UTF-8 become U+FFFD). */
  name: string;
  /** A regular file. */
  isFile: boolean;
  /** A directory. */
  isDirectory: boolean;
  /** A symbolic link. */
  isSymlink: boolean;
}

/** open(): a regular file to read; O_NONBLOCK keeps a FIFO from blocking the thread. */
const FILE_FLAGS = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
/** stat(): a descriptor naming the object, for fstat only. */
const STAT_FLAGS = O_PATH | O_CLOEXEC;
/** readDir(): a directory to read entries from. */
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK;

const encoder = new TextEncoder();
/**
 * The path being opened, NUL-terminated. {@linkcode checkPath} caps paths at PATH_MAX - 1 bytes,
 * so the NUL always fits and the last byte stays 0: the whole buffer is passed (no view made).
 */
const pathBuf = new Uint8Array(PATH_MAX);
/** getdents64 records. */
const direntBuf = new Uint8Array(32 * 1024);
const statBuf = new Uint8Array(STAT_SIZE);

/** Encodes a checked path NUL-terminated into {@linkcode pathBuf}; "" becomes ".". */
function encodePath(path: string): Uint8Array<ArrayBuffer> {
  const { written } = encoder.encodeInto(path === "" ? "." : path, pathBuf);
  pathBuf[written] = 0;
  return pathBuf;
}

/** The errno-code-preserving refusals: EXDEV and ELOOP become PermissionDenied, with a reason. */
function refusal(errno: number, syscall: string, detail: string, reason: string): ErrnoError {
  return new ErrnoError(errno, syscall, { detail, reason, errorClass: "PermissionDenied" });
}

/**
 * A directory that files are opened beneath, race-free: see the module documentation. Made by
 * {@linkcode openRoot}; holds one descriptor, closed by `close()` or `using`.
 *
 * Paths given to `open`, `stat` and `readDir` are relative to the root ("" or "." is the root
 * itself), already URL-decoded, without a leading "/": a file server passes
 * `decodeURIComponent(url.pathname).slice(1)` and lets the root refuse what leaves it.
 *
 * @example
 * ```ts
 * import { openRoot } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
 * {
 *   using root = openRoot(dir);
 *   using file = root.open("hello.txt");
 *   console.log(file.size, root.method); // 5 "openat2"
 *   try {
 *     root.open("../etc/passwd");
 *   } catch (e) {
 *     console.log(e instanceof Deno.errors.PermissionDenied); // true
 *   }
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileRoot {
  #fd: OwnedFd;
  #path: string;
  #noSymlinks: boolean;
  #fallbackReason: string | undefined;
  /** Encoded struct open_how per operation; null when walking. */
  #hows: {
    file: Uint8Array<ArrayBuffer>;
    stat: Uint8Array<ArrayBuffer>;
    dir: Uint8Array<ArrayBuffer>;
  } | null;

  /** @internal Use {@linkcode openRoot}. */
  constructor(fd: number, path: string, noSymlinks: boolean, fallbackReason: string | undefined) {
    this.#fd = new OwnedFd(fd);
    this.#path = path;
    this.#noSymlinks = noSymlinks;
    this.#fallbackReason = fallbackReason;
    if (fallbackReason === undefined) {
      const resolve = resolveFlags(noSymlinks);
      this.#hows = {
        file: encodeOpenHow(FILE_FLAGS, resolve),
        stat: encodeOpenHow(STAT_FLAGS, resolve),
        dir: encodeOpenHow(DIR_FLAGS, resolve),
      };
    } else {
      this.#hows = null;
    }
  }

  /** The root's path, as given to {@linkcode openRoot}. */
  get path(): string {
    return this.#path;
  }

  /** `"openat2"`, or `"walk"` where openat2 is missing or refused (see `fallbackReason`). */
  get method(): RootMethod {
    return this.#hows === null ? "walk" : "openat2";
  }

  /**
   * Why the walk is in use ("openat2 failed: ENOSYS (Function not implemented)", or the `mode`
   * option); undefined with openat2.
   */
  get fallbackReason(): string | undefined {
    return this.#fallbackReason;
  }

  /** Whether every symbolic link is refused (the `noSymlinks` option). */
  get noSymlinks(): boolean {
    return this.#noSymlinks;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /**
   * Opens the regular file at `path` beneath the root for reading (O_RDONLY|O_CLOEXEC|O_NOCTTY,
   * with O_NONBLOCK so that a FIFO cannot block the thread): the same {@linkcode FileHandle} as
   * `openFile()` gives, for `sendFile()`. Throws as the module documentation lists: a directory
   * is IsADirectory (EISDIR), an escape PermissionDenied (EXDEV, ELOOP).
   *
   * @param path relative to the root, URL-decoded, without a leading "/"
   */
  open(path: string): FileHandle {
    const rel = this.#relative(path, "open");
    const fd = this.#lookup(rel, FILE_FLAGS, "file");
    return adoptRegularFile(fd, this.#syscall(), this.#display(rel));
  }

  /**
   * Type, size, modification time and identity of `path` beneath the root, by fstat of an O_PATH
   * descriptor (nothing is opened for reading). "" is the root itself.
   *
   * @param path relative to the root, URL-decoded, without a leading "/"
   */
  stat(path: string): RootStat {
    const rel = this.#relative(path, "stat", true);
    const fd = this.#lookup(rel, STAT_FLAGS, "stat");
    try {
      const st = fstat(fd);
      const type = st.mode & S_IFMT;
      return {
        isFile: type === S_IFREG,
        isDirectory: type === S_IFDIR,
        size: st.size,
        mtimeMs: st.mtimeMs,
        mode: st.mode,
        dev: st.dev,
        ino: st.ino,
      };
    } finally {
      sysClose(fd);
    }
  }

  /**
   * The entries of the directory at `path` beneath the root ("" is the root), without "." and
   * "..", sorted by name (UTF-16 code unit order). The directory is opened beneath the root and
   * read through its descriptor (getdents64), so the listing is of the directory that passed the
   * check. A non-directory throws NotADirectory (ENOTDIR).
   *
   * @param path relative to the root, URL-decoded, without a leading "/"
   */
  readDir(path = ""): RootDirEntry[] {
    const rel = this.#relative(path, "readDir", true);
    const fd = this.#lookup(rel, DIR_FLAGS, "dir");
    try {
      const entries: RootDirEntry[] = [];
      for (;;) {
        let n = sysGetdents64(fd, direntBuf);
        while (n === -EINTR) n = sysGetdents64(fd, direntBuf);
        if (n < 0) throw fail(n, "getdents64", this.#display(rel));
        if (n === 0) break;
        for (const d of decodeDirents(direntBuf, n)) {
          if (d.name === "." || d.name === "..") continue;
          const type = d.type === DT_UNKNOWN ? typeAt(fd, d.nameBytes) : d.type;
          entries.push({
            name: d.name,
            isFile: type === DT_REG,
            isDirectory: type === DT_DIR,
            isSymlink: type === DT_LNK,
          });
        }
      }
      return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } finally {
      sysClose(fd);
    }
  }

  /** Closes the root's descriptor once; later calls do nothing. Open FileHandles stay usable. */
  close(): void {
    this.#fd.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Checks `path` (TypeError/RangeError) and refuses an absolute one; returns it as given. */
  #relative(path: string, operation: string, allowEmpty = false): string {
    const rel = checkPath(path, `FileRoot.${operation} path`, { allowEmpty });
    if (rel.startsWith("/")) {
      throw refusal(
        EXDEV,
        this.#syscall(),
        this.#detail(rel),
        "an absolute path: give it relative to the root",
      );
    }
    return rel;
  }

  /** Opens `rel` beneath the root with `flags`; the descriptor, or the refusal thrown. */
  #lookup(rel: string, flags: number, how: "file" | "stat" | "dir"): number {
    const root = this.#fd.fd; // ClosedError once closed
    const hows = this.#hows;
    let fd: number;
    if (hows !== null) {
      const cPath = encodePath(rel);
      // EAGAIN: a rename raced a `..` step and the kernel could not prove it stayed beneath the
      // root; the man page invites a retry. Bounded: a steady stream of renames gets the error.
      let tries = 0;
      do fd = sysOpenat2(root, cPath, hows[how]); while (
        fd === -EINTR || (fd === -EAGAIN && ++tries < MAX_EAGAIN_RETRIES)
      );
    } else {
      do fd = walkOpen(root, rel, flags, this.#noSymlinks); while (fd === -EINTR);
    }
    if (fd >= 0) return fd;
    const detail = this.#detail(rel);
    if (fd === -EXDEV) throw refusal(EXDEV, this.#syscall(), detail, "the path leaves the root");
    if (fd === -ELOOP) {
      throw refusal(
        ELOOP,
        this.#syscall(),
        detail,
        this.#noSymlinks
          ? "a symbolic link, refused under this root (noSymlinks)"
          : "a magic link, or too many symbolic links",
      );
    }
    throw fail(fd, this.#syscall(), detail);
  }

  #syscall(): string {
    return this.#hows === null ? "openat" : "openat2";
  }

  #detail(rel: string): string {
    return `${JSON.stringify(rel)} beneath ${JSON.stringify(this.#path)}`;
  }

  #display(rel: string): string {
    return rel === "" ? this.#path : `${this.#path.replace(/\/+$/, "")}/${rel}`;
  }
}

/** How many times an openat2 answered EAGAIN (see `#lookup`) is tried again. */
const MAX_EAGAIN_RETRIES = 8;

/** RESOLVE_* bits for a root. */
function resolveFlags(noSymlinks: boolean): number {
  return RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (noSymlinks ? RESOLVE_NO_SYMLINKS : 0);
}

/** d_type of `name` in the directory `dirfd` where the filesystem reports DT_UNKNOWN. */
function typeAt(dirfd: number, name: Uint8Array<ArrayBuffer>): number {
  const cName = new Uint8Array(name.byteLength + 1);
  cName.set(name);
  const fd = sysOpenat(dirfd, cName, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return DT_UNKNOWN; // gone meanwhile
  const r = sysFstat(fd, statBuf);
  sysClose(fd);
  if (r < 0) return DT_UNKNOWN;
  const type = decodeStat(statBuf).mode & S_IFMT;
  return type === S_IFREG ? DT_REG : type === S_IFDIR ? DT_DIR : type === S_IFLNK ? DT_LNK : 0;
}

/**
 * Opens `path` as a {@linkcode FileRoot}: checks `--allow-read` for it (once: every file beneath
 * it is covered), opens it O_PATH|O_DIRECTORY|O_CLOEXEC (following symlinks in `path` itself:
 * the root is the operator's choice), and, unless `mode` is `"walk"`, tries openat2 once on it.
 * ENOSYS, EPERM, EINVAL or E2BIG there (no openat2, a seccomp filter, an older kernel that lacks
 * a RESOLVE_ flag) select the walk in `"auto"` mode and throw in `"openat2"` mode.
 *
 * Throws TypeError/RangeError for an invalid path or option, NotCapable without read permission,
 * NotFound or NotADirectory when `path` is not a directory.
 *
 * @example
 * ```ts
 * import { openRoot, sendFile } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/docs`);
 * await Deno.writeTextFile(`${dir}/docs/index.html`, "<h1>hi</h1>");
 * using root = openRoot(dir, { noSymlinks: true });
 * const st = root.stat("docs");
 * if (st.isDirectory) {
 *   console.log(root.readDir("docs").map((e) => e.name)); // ["index.html"]
 *   using file = root.open("docs/index.html");
 *   console.log(file.size, new Date(file.mtimeMs).toUTCString()); // e.g. for sendFile(conn, file)
 * }
 * root.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openRoot(path: string | URL, options: OpenRootOptions = {}): FileRoot {
  checkObject(options, "openRoot options");
  const noSymlinks = options.noSymlinks === undefined
    ? false
    : checkBoolean(options.noSymlinks, "openRoot noSymlinks");
  const mode = options.mode ?? "auto";
  if (mode !== "auto" && mode !== "openat2" && mode !== "walk") {
    throw new TypeError(
      `openRoot mode must be "auto", "openat2" or "walk", got ${JSON.stringify(mode)}`,
    );
  }
  const rootPath = checkPath(path, "openRoot path", { allowUrl: true });
  requireRead(rootPath);
  let fd = sysOpen(encodePath(rootPath), O_PATH | O_DIRECTORY | O_CLOEXEC);
  while (fd === -EINTR) fd = sysOpen(encodePath(rootPath), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw fail(fd, "open", rootPath);
  let fallbackReason: string | undefined;
  if (mode === "walk") {
    fallbackReason = 'the walk was asked for (mode: "walk")';
  } else {
    const how = encodeOpenHow(STAT_FLAGS, resolveFlags(noSymlinks));
    const probe = sysOpenat2(fd, encodePath("."), how);
    if (probe >= 0) {
      sysClose(probe);
    } else if (mode === "auto" && WALK_WORTHY.has(-probe)) {
      fallbackReason = `openat2 failed: ${errnoName(-probe)} (${errnoMessage(-probe)})`;
    } else {
      sysClose(fd);
      throw fail(probe, "openat2", JSON.stringify(rootPath));
    }
  }
  return new FileRoot(fd, rootPath, noSymlinks, fallbackReason);
}

/**
 * openat2 errors that mean "not on this system" rather than "not this root": the walk takes over.
 * ENOSYS: no openat2 (Linux < 5.6); EPERM: a seccomp filter; EINVAL, E2BIG: a kernel that does
 * not know a RESOLVE_ flag or this struct open_how.
 */
const WALK_WORTHY = new Set([ENOSYS, EPERM, EINVAL, E2BIG]);
