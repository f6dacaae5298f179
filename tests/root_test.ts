/**
 * FileRoot (openat2 with RESOLVE_BENEATH, and its per-component walk): traversal cases, symlinks
 * inside and outside the root, magic links, stat and listing, descriptor identity, and the race
 * the issue is about: a directory swapped for a symlink to outside while opens run, against the
 * root and against a realpath-then-open design.
 */
import assert from "node:assert/strict";
import { ErrnoError, FileHandle, type FileRoot, openFile, openRoot, sendFile } from "../mod.ts";
import {
  check,
  sysClose,
  sysFstat,
  sysGetdents64,
  sysOpenat,
  sysOpenat2,
  sysPread,
  sysReadlinkat,
} from "../ffi/libc.ts";
import { decodeDirents, decodeFileStat, encodeOpenHow, STAT_SIZE } from "../ffi/structs.ts";
import {
  AT_FDCWD,
  O_CLOEXEC,
  O_PATH,
  O_RDONLY,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
} from "../ffi/constants.ts";
import { EBADF, EINVAL, ENOTDIR } from "../ffi/errno.ts";
import { ClosedError } from "../lib/net/fd.ts";
import { fileIdentity, leakedFds, openFds, tcpPair } from "./helpers.ts";

const MODES = ["openat2", "walk"] as const;

// ---------------------------------------------------------------------------------------------
// the tree
//
//   <tmp>/secret.txt                 "SECRET" (outside the root)
//   <tmp>/root/public.txt            "PUBLIC"
//   <tmp>/root/sub/inner.txt         "INNER"
//   <tmp>/root/link_in        -> sub/inner.txt          (relative, stays inside)
//   <tmp>/root/link_in_dir    -> sub                    (relative, stays inside)
//   <tmp>/root/sub/link_up    -> ../public.txt          (climbs, stays inside)
//   <tmp>/root/link_out       -> ../secret.txt          (climbs out)
//   <tmp>/root/link_out_dir   -> ..                     (a directory outside)
//   <tmp>/root/link_abs_out   -> <tmp>/secret.txt       (absolute, outside)
//   <tmp>/root/link_abs_in    -> <tmp>/root/public.txt  (absolute, even though inside)
//   <tmp>/root/link_proc      -> /proc/self/root/etc/hostname
//   <tmp>/root/loop           -> loop

const TMP = Deno.makeTempDirSync({ prefix: "netio-root-" });
const ROOT = `${TMP}/root`;
Deno.mkdirSync(`${ROOT}/sub`, { recursive: true });
Deno.writeTextFileSync(`${TMP}/secret.txt`, "SECRET");
Deno.writeTextFileSync(`${ROOT}/public.txt`, "PUBLIC");
Deno.writeTextFileSync(`${ROOT}/sub/inner.txt`, "INNER");
for (
  const [name, target] of [
    ["link_in", "sub/inner.txt"],
    ["link_in_dir", "sub"],
    ["sub/link_up", "../public.txt"],
    ["link_out", "../secret.txt"],
    ["link_out_dir", ".."],
    ["link_abs_out", `${TMP}/secret.txt`],
    ["link_abs_in", `${ROOT}/public.txt`],
    ["link_proc", "/proc/self/root/etc/hostname"],
    ["loop", "loop"],
  ]
) Deno.symlinkSync(target!, `${ROOT}/${name}`);
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));

/** The whole content of an open file (pread from 0: the handle's offset is left alone). */
function content(file: FileHandle): string {
  const buf = new Uint8Array(file.size);
  const n = check(sysPread(file.fd, buf, 0), "pread");
  return new TextDecoder().decode(buf.subarray(0, n));
}

const statBuf = new Uint8Array(STAT_SIZE);
/** "dev:ino" of an open descriptor, as {@linkcode fileIdentity} writes it for a path. */
function identity(fd: number): string {
  check(sysFstat(fd, statBuf), "fstat");
  const st = decodeFileStat(statBuf);
  return `${st.dev}:${st.ino}`;
}

/** Descriptors open now on any of `paths` (by identity: dev and inode). */
function openOn(paths: string[]): number[] {
  const ids = new Set(paths.map((p) => fileIdentity(Deno.lstatSync(p))));
  return [...openFds()].filter(([, id]) => ids.has(id)).map(([fd]) => fd);
}

/** What an open of `path` gives: the content, or the error's class name and errno code. */
function outcome(root: FileRoot, path: string): string {
  try {
    using file = root.open(path);
    return `"${content(file)}"`;
  } catch (e) {
    if (!(e instanceof ErrnoError)) throw e;
    return `${e.name} ${e.code}`;
  }
}

const SERVED_OR_REFUSED: readonly [path: string, expected: string, noSymlinks?: string][] = [
  ["public.txt", '"PUBLIC"'],
  ["./public.txt", '"PUBLIC"'],
  ["sub/inner.txt", '"INNER"'],
  ["sub//inner.txt", '"INNER"'],
  ["sub/./inner.txt", '"INNER"'],
  ["sub/../public.txt", '"PUBLIC"'],
  ["link_in", '"INNER"', "PermissionDenied ELOOP"],
  ["link_in_dir/inner.txt", '"INNER"', "PermissionDenied ELOOP"],
  ["sub/link_up", '"PUBLIC"', "PermissionDenied ELOOP"],
  ["link_in_dir/link_up", '"PUBLIC"', "PermissionDenied ELOOP"],
  // Leaving the root: `..`, absolute paths, links that climb out or are absolute.
  ["..", "PermissionDenied EXDEV"],
  ["../", "PermissionDenied EXDEV"],
  ["../secret.txt", "PermissionDenied EXDEV"],
  ["a/../../secret.txt", "NotFound ENOENT"], // "a" does not exist: the lookup stops there
  ["sub/../../secret.txt", "PermissionDenied EXDEV"],
  ["sub/../sub/../../root/public.txt", "PermissionDenied EXDEV"],
  [`sub/${"../".repeat(40)}etc/passwd`, "PermissionDenied EXDEV"],
  ["/etc/passwd", "PermissionDenied EXDEV"],
  [`${ROOT}/public.txt`, "PermissionDenied EXDEV"],
  ["link_out", "PermissionDenied EXDEV", "PermissionDenied ELOOP"],
  ["link_out_dir/secret.txt", "PermissionDenied EXDEV", "PermissionDenied ELOOP"],
  ["link_abs_out", "PermissionDenied EXDEV", "PermissionDenied ELOOP"],
  ["link_abs_in", "PermissionDenied EXDEV", "PermissionDenied ELOOP"],
  ["link_proc", "PermissionDenied EXDEV", "PermissionDenied ELOOP"],
  ["link_in_dir/../../secret.txt", "PermissionDenied EXDEV", "PermissionDenied ELOOP"],
  ["loop", "PermissionDenied ELOOP"],
  // Not there, or not a file.
  ["missing.txt", "NotFound ENOENT"],
  ["public.txt/x", "NotADirectory ENOTDIR"],
  ["public.txt/", "NotADirectory ENOTDIR"],
  ["sub", "IsADirectory EISDIR"],
  ["sub/", "IsADirectory EISDIR"],
  [".", "IsADirectory EISDIR"],
  ["sub/..", "IsADirectory EISDIR"],
  ["link_in_dir", "IsADirectory EISDIR", "PermissionDenied ELOOP"],
];

for (const mode of MODES) {
  for (const noSymlinks of [false, true]) {
    Deno.test(`FileRoot (${mode}${noSymlinks ? ", noSymlinks" : ""}) serves what stays beneath the root and refuses the rest`, () => {
      using root = openRoot(ROOT, { mode, noSymlinks });
      assert.equal(root.method, mode);
      const seen = SERVED_OR_REFUSED.map(([path]) => `${path} -> ${outcome(root, path)}`);
      const expected = SERVED_OR_REFUSED.map(([path, plain, refused]) =>
        `${path} -> ${noSymlinks && refused ? refused : plain}`
      );
      assert.deepEqual(seen, expected);
    });
  }
}

Deno.test("FileRoot refusals are PermissionDenied ErrnoErrors that name the path and the root", () => {
  for (const mode of MODES) {
    using root = openRoot(ROOT, { mode });
    const syscall = mode === "walk" ? "openat" : "openat2";
    assert.throws(() => root.open("sub/../../secret.txt"), (e: unknown) => {
      assert.ok(e instanceof Deno.errors.PermissionDenied);
      assert.ok(e instanceof ErrnoError);
      assert.equal(e.code, "EXDEV");
      assert.equal(e.syscall, syscall);
      assert.equal(
        e.message,
        `${syscall} "sub/../../secret.txt" beneath ${
          JSON.stringify(ROOT)
        } failed: EXDEV (the path leaves the root)`,
      );
      return true;
    });
    assert.throws(() => root.open("/etc/passwd"), /an absolute path/);
    assert.throws(() => root.open("missing.txt"), Deno.errors.NotFound);
    assert.throws(() => root.open("sub"), Deno.errors.IsADirectory);
  }
  using strict = openRoot(ROOT, { noSymlinks: true });
  assert.throws(
    () => strict.open("link_in"),
    (e: unknown) =>
      e instanceof Deno.errors.PermissionDenied && e instanceof ErrnoError && e.code === "ELOOP" &&
      /noSymlinks/.test(e.message),
  );
});

Deno.test({
  name: "FileRoot refuses magic links under /proc/self in both modes",
  ignore: Deno.permissions.querySync({ name: "read", path: "/proc/self" }).state !== "granted",
  fn(): void {
    for (const mode of MODES) {
      using root = openRoot("/proc/self", { mode });
      for (const path of ["root/etc/hostname", "cwd/deno.json", "exe", "fd/0"]) {
        assert.throws(
          () => root.open(path),
          Deno.errors.PermissionDenied,
          `${mode}: ${path}`,
        );
      }
      // An ordinary file there is served (its st_size is 0: /proc reports none).
      using status = root.open("status");
      const buf = new Uint8Array(4096);
      const n = check(sysPread(status.fd, buf, 0), "pread");
      assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^Name:/);
    }
  },
});

Deno.test("FileRoot refuses files that are not regular: a device, a socket", () => {
  for (const mode of MODES) {
    using dev = openRoot("/dev", { mode });
    assert.throws(
      () => dev.open("null"),
      (e: unknown) => e instanceof ErrnoError && e.code === "EINVAL",
    );
  }
  const socketPath = `${ROOT}/sock`;
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  try {
    for (const mode of MODES) {
      using root = openRoot(ROOT, { mode });
      // open(2) of a Unix socket is ENXIO; stat still sees it, as neither file nor directory.
      assert.throws(
        () => root.open("sock"),
        (e: unknown) => e instanceof ErrnoError && e.code === "ENXIO",
      );
      const st = root.stat("sock");
      assert.ok(!st.isFile && !st.isDirectory);
    }
  } finally {
    listener.close(); // removes the socket file too
  }
  assert.throws(() => Deno.lstatSync(socketPath), Deno.errors.NotFound);
});

Deno.test("openRoot() and FileRoot methods validate input with typed errors before any syscall", () => {
  const before = openFds();
  assert.throws(() => openRoot(42 as unknown as string), TypeError);
  assert.throws(() => openRoot(""), TypeError);
  assert.throws(() => openRoot("a\0b"), TypeError);
  assert.throws(() => openRoot("\ud800"), TypeError);
  assert.throws(() => openRoot("x".repeat(4096)), RangeError);
  assert.throws(() => openRoot("é".repeat(2048)), RangeError); // 4096 bytes in UTF-8
  assert.throws(() => openRoot(new URL("http://example.com/")), TypeError);
  assert.throws(() => openRoot(ROOT, { mode: "fast" as "auto" }), TypeError);
  assert.throws(() => openRoot(ROOT, { noSymlinks: 1 as unknown as boolean }), TypeError);
  assert.throws(() => openRoot(ROOT, null as unknown as object), TypeError);
  assert.throws(() => openRoot(`${ROOT}/public.txt`), Deno.errors.NotADirectory);
  assert.throws(() => openRoot(`${ROOT}/nope`), Deno.errors.NotFound);
  for (const mode of MODES) {
    using root = openRoot(new URL(`file://${ROOT}`), { mode });
    assert.throws(() => root.open(7 as unknown as string), TypeError);
    assert.throws(() => root.open(""), TypeError);
    assert.throws(() => root.open("public.txt\0.png"), TypeError);
    assert.throws(() => root.open("\udc00"), TypeError);
    assert.throws(() => root.open("a/".repeat(2048)), RangeError);
    assert.throws(() => root.stat(undefined as unknown as string), TypeError);
    // A component longer than NAME_MAX reaches the kernel (it is valid input) and fails there.
    assert.throws(
      () => root.open("n".repeat(300)),
      (e: unknown) => e instanceof ErrnoError && e.code === "ENAMETOOLONG",
    );
  }
  assert.deepEqual([...openFds()].filter(([fd, id]) => before.get(fd) !== id), []);
});

Deno.test({
  name: "openRoot() checks --allow-read for the root once, before opening anything",
  permissions: { ffi: true, read: false },
  fn(): void {
    assert.throws(() => openRoot(ROOT), Deno.errors.NotCapable);
  },
});

Deno.test("FileRoot reports its method: openat2 here, the walk when asked and why", () => {
  using auto = openRoot(ROOT);
  assert.equal(auto.method, "openat2"); // Linux 5.6+ without a seccomp filter
  assert.equal(auto.fallbackReason, undefined);
  using walk = openRoot(ROOT, { mode: "walk" });
  assert.equal(walk.method, "walk");
  assert.match(walk.fallbackReason ?? "", /mode: "walk"/);
  assert.equal(walk.path, ROOT);
  assert.equal(walk.noSymlinks, false);
});

Deno.test("FileRoot stat() and readDir() give what a static file server needs", () => {
  const info = Deno.statSync(`${ROOT}/sub/inner.txt`);
  for (const mode of MODES) {
    using root = openRoot(ROOT, { mode });
    const st = root.stat("link_in"); // followed: the target's facts
    assert.equal(st.isFile, true);
    assert.equal(st.isDirectory, false);
    assert.equal(st.size, 5);
    assert.equal(st.ino, BigInt(info.ino!));
    assert.equal(st.dev, BigInt(info.dev));
    assert.ok(Math.abs(st.mtimeMs - info.mtime!.getTime()) < 1, `${st.mtimeMs}`);
    assert.equal(root.stat("").isDirectory, true);
    assert.equal(root.stat("link_in_dir").isDirectory, true);
    assert.throws(() => root.stat("link_out"), Deno.errors.PermissionDenied);
    assert.throws(() => root.stat(".."), Deno.errors.PermissionDenied);

    const names = root.readDir("").map((e) =>
      `${e.name}:${e.isFile ? "f" : ""}${e.isDirectory ? "d" : ""}${e.isSymlink ? "l" : ""}`
    );
    assert.deepEqual(names, [
      "link_abs_in:l",
      "link_abs_out:l",
      "link_in:l",
      "link_in_dir:l",
      "link_out:l",
      "link_out_dir:l",
      "link_proc:l",
      "loop:l",
      "public.txt:f",
      "sub:d",
    ]);
    assert.deepEqual(root.readDir("link_in_dir").map((e) => e.name), ["inner.txt", "link_up"]);
    assert.deepEqual(root.readDir("sub/").map((e) => e.name), ["inner.txt", "link_up"]);
    assert.throws(() => root.readDir("public.txt"), Deno.errors.NotADirectory);
    assert.throws(() => root.readDir("link_out_dir"), Deno.errors.PermissionDenied);
    assert.throws(() => root.readDir("../"), Deno.errors.PermissionDenied);

    using file = root.open("sub/inner.txt");
    assert.ok(file instanceof FileHandle);
    assert.equal(file.path, `${ROOT}/sub/inner.txt`);
    assert.ok(Math.abs(file.mtimeMs - info.mtime!.getTime()) < 1);
  }
});

Deno.test("readDir() lists a directory larger than one getdents64 buffer", async () => {
  const dir = `${ROOT}/many`;
  await Deno.mkdir(dir);
  try {
    const names = Array.from(
      { length: 1500 },
      (_, i) => `file-${String(i).padStart(4, "0")}-${"x".repeat(20)}`,
    );
    for (const name of names) await Deno.writeFile(`${dir}/${name}`, new Uint8Array(0));
    for (const mode of MODES) {
      using root = openRoot(ROOT, { mode });
      const listed = root.readDir("many");
      assert.equal(listed.length, names.length);
      assert.deepEqual(listed.map((e) => e.name), names);
      assert.ok(listed.every((e) => e.isFile));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file opened beneath a root is a FileHandle that sendFile() sends", async () => {
  await using pair = await tcpPair();
  using root = openRoot(ROOT);
  using file = root.open("link_in");
  assert.equal(await sendFile(pair.server, file), 5);
  const buf = new Uint8Array(5);
  let got = 0;
  while (got < 5) {
    const n = await pair.client.read(buf.subarray(got));
    assert.ok(n !== null);
    got += n;
  }
  assert.equal(new TextDecoder().decode(buf), "INNER");
});

Deno.test("FileRoot closes every descriptor exactly once (by identity), in both modes", async () => {
  const before = openFds();
  for (const mode of MODES) {
    const root = openRoot(ROOT, { mode });
    const handles: FileHandle[] = [];
    for (let i = 0; i < 300; i++) {
      for (const [path] of SERVED_OR_REFUSED) {
        try {
          const file = root.open(path);
          if (i === 0) handles.push(file); // a few kept open past the root's close
          else file.close();
        } catch {
          // refusals: counted by the identity check below
        }
      }
      try {
        root.stat("link_in_dir/link_up");
        root.readDir("link_in_dir");
        root.stat("link_out");
      } catch {
        // the refusal of link_out
      }
    }
    root.close();
    root.close(); // idempotent
    assert.equal(root.closed, true);
    assert.throws(() => root.open("public.txt"), ClosedError);
    // Handles outlive their root: their descriptors are their own.
    for (const file of handles) assert.ok(content(file).length > 0);
    for (const file of handles) {
      file.close();
      file.close();
    }
  }
  assert.deepEqual(await leakedFds(before), []);
  assert.deepEqual(
    openOn([ROOT, `${ROOT}/sub`, `${ROOT}/public.txt`, `${ROOT}/sub/inner.txt`]),
    [],
  );
});

// ---------------------------------------------------------------------------------------------
// ffi: layouts as data, and errno reaching each new wrapper

Deno.test("struct open_how, linux_dirent64 and stat's dev/ino/mtime decode as the kernel lays them out", () => {
  const how = new DataView(
    encodeOpenHow(O_PATH | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS).buffer,
  );
  assert.equal(how.byteLength, 24);
  assert.equal(how.getBigUint64(0, true), BigInt(O_PATH | O_CLOEXEC)); // u64 flags
  assert.equal(how.getBigUint64(8, true), 0n); // u64 mode
  assert.equal(how.getBigUint64(16, true), 0x0an); // u64 resolve

  // Two records: { u64 ino; i64 off; u16 reclen; u8 type; char name[] }, 8-aligned.
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  v.setUint16(16, 24, true);
  b[18] = 8; // DT_REG
  b.set(new TextEncoder().encode("a.txt"), 19);
  v.setUint16(24 + 16, 24, true);
  b[24 + 18] = 4; // DT_DIR
  b.set(new TextEncoder().encode("dir"), 24 + 19);
  assert.deepEqual(decodeDirents(b, 48).map((d) => [d.name, d.type]), [["a.txt", 8], ["dir", 4]]);

  for (const arch of ["x86_64", "aarch64"] as const) {
    const st = new Uint8Array(STAT_SIZE);
    const sv = new DataView(st.buffer);
    sv.setBigUint64(0, 0x803n, true); // st_dev
    sv.setBigUint64(8, 2n ** 40n + 7n, true); // st_ino
    sv.setBigInt64(88, 1_700_000_000n, true); // st_mtim.tv_sec
    sv.setBigInt64(96, 250_000_000n, true); // st_mtim.tv_nsec
    const d = decodeFileStat(st, arch);
    assert.deepEqual([d.dev, d.ino, d.mtimeMs], [0x803n, 2n ** 40n + 7n, 1_700_000_000_250], arch);
  }
});

Deno.test("openat, openat2, readlinkat and getdents64 report errno as -errno", () => {
  const dot = new TextEncoder().encode(".\0");
  const how = encodeOpenHow(O_PATH | O_CLOEXEC, RESOLVE_BENEATH);
  assert.equal(sysOpenat2(-1, dot, how), -EBADF);
  assert.equal(sysOpenat(-1, dot, O_PATH), -EBADF);
  assert.equal(sysGetdents64(-1, new Uint8Array(64)), -EBADF);
  const file = new TextEncoder().encode(`${ROOT}/public.txt\0`);
  assert.equal(sysReadlinkat(AT_FDCWD, file, new Uint8Array(64)), -EINVAL); // not a link
  assert.throws(() => sysOpenat2(AT_FDCWD, new Uint8Array([0x2e]), how), TypeError); // no NUL
  const fd = check(sysOpenat(AT_FDCWD, file, O_RDONLY | O_CLOEXEC), "openat");
  try {
    assert.equal(sysGetdents64(fd, new Uint8Array(64)), -ENOTDIR);
  } finally {
    sysClose(fd);
  }
});

// ---------------------------------------------------------------------------------------------
// the race

/**
 * A Worker (a thread of its own, so the swaps truly race the opens) that swaps `<root>/d`, a
 * directory holding `f`, for a symlink to a directory outside the root holding another `f`, and
 * back, until told to stop. Each state holds for about one rename: dir, absent, link, absent.
 */
const SWAPPER = `
self.onmessage = (event) => {
  const { root, control } = event.data;
  const state = new Int32Array(control); // [0]: stop flag, [1]: swaps done
  const deadline = Date.now() + 30_000; // a bound, should the main thread never say stop
  while (Atomics.load(state, 0) === 0 && Date.now() < deadline) {
    Deno.renameSync(root + "/d", root + "/d.dir");
    Deno.renameSync(root + "/d.link", root + "/d");
    Deno.renameSync(root + "/d", root + "/d.link");
    Deno.renameSync(root + "/d.dir", root + "/d");
    if (Atomics.add(state, 1, 1) === 0) self.postMessage("started");
  }
  self.postMessage("stopped");
};
`;

interface RaceCount {
  opens: number;
  inside: number;
  outside: number;
  refused: number;
  notFound: number;
  swaps: number;
}

/**
 * Runs `open("d/f")` at least `minOpens` times while the swapper runs, and on (up to `maxMs`) until
 * the opens have met the swapped states at least `minSwapped` times and opened an outside file
 * `minOutside` times (to show a leak that is possible but not certain in 10,000 opens). Classifies each file opened
 * by its identity (dev:ino): the inside `f` or the outside one.
 */
async function race(
  dir: string,
  open: (path: string) => FileHandle,
  options: { minOpens: number; minSwapped: number; minOutside: number; maxMs: number },
): Promise<RaceCount> {
  const root = `${dir}/root`;
  const insideId = fileIdentity(Deno.statSync(`${root}/d/f`));
  const outsideId = fileIdentity(Deno.statSync(`${dir}/outside/f`));
  const count: RaceCount = { opens: 0, inside: 0, outside: 0, refused: 0, notFound: 0, swaps: 0 };
  const control = new SharedArrayBuffer(8);
  const state = new Int32Array(control);
  const url = URL.createObjectURL(new Blob([SWAPPER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const message = (what: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the swapper never said "${what}"`)), 10_000);
      worker.onmessage = (e): void => {
        if (e.data === what) resolve();
      };
      worker.onerror = (e): void => {
        e.preventDefault();
        reject(new Error(`swapper: ${e.message}`));
      };
    }).finally(() => clearTimeout(timer));
  try {
    const started = message("started");
    worker.postMessage({ root, control });
    await started;
    const deadline = performance.now() + options.maxMs;
    const more = (): boolean =>
      count.refused + count.notFound < options.minSwapped || count.outside < options.minOutside;
    while (count.opens < options.minOpens || (more() && performance.now() < deadline)) {
      count.opens++;
      let file: FileHandle;
      try {
        file = open("d/f");
      } catch (e) {
        if (e instanceof Deno.errors.PermissionDenied) count.refused++;
        else if (e instanceof Deno.errors.NotFound) count.notFound++;
        else throw e;
        continue;
      }
      try {
        const id = identity(file.fd);
        if (id === insideId) count.inside++;
        else if (id === outsideId) count.outside++;
        else assert.fail(`opened something else: ${id} (${content(file)})`);
      } finally {
        file.close();
      }
    }
    const stopped = message("stopped");
    Atomics.store(state, 0, 1);
    await stopped;
  } finally {
    Atomics.store(state, 0, 1);
    worker.terminate();
    URL.revokeObjectURL(url);
  }
  count.swaps = Atomics.load(state, 1);
  return count;
}

/** The realpath-then-open design (check the resolved path, then open it): racy by construction. */
function realpathThenOpen(root: string): (path: string) => FileHandle {
  return (path) => {
    const real = Deno.realPathSync(`${root}/${path}`);
    if (!real.startsWith(`${root}/`)) {
      throw new Deno.errors.PermissionDenied(`${path} leaves ${root}`);
    }
    return openFile(real);
  };
}

Deno.test("race: a directory swapped for a symlink to outside never makes FileRoot open an outside file", async () => {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "netio-root-race-" }));
  try {
    await Deno.mkdir(`${dir}/root/d`, { recursive: true });
    await Deno.mkdir(`${dir}/outside`);
    await Deno.writeTextFile(`${dir}/root/d/f`, "inside");
    await Deno.writeTextFile(`${dir}/outside/f`, "OUTSIDE");
    await Deno.symlink("../outside", `${dir}/root/d.link`);

    const limits = { minOpens: 10_000, minSwapped: 20, minOutside: 0, maxMs: 3_000 };
    const results: Record<string, RaceCount> = {};
    for (const mode of MODES) {
      using root = openRoot(`${dir}/root`, { mode });
      results[mode] = await race(dir, (p) => root.open(p), limits);
    }
    const naive = await race(dir, realpathThenOpen(`${dir}/root`), {
      ...limits,
      minSwapped: 0,
      minOutside: 1,
    });
    results["realpath+open"] = naive;
    console.log(
      Object.entries(results).map(([name, r]) =>
        `${name}: ${r.opens} opens, ${r.inside} inside, ${r.outside} OUTSIDE, ${r.refused} refused, ` +
        `${r.notFound} not found, ${r.swaps} swaps`
      ).join("\n"),
    );
    for (const mode of MODES) {
      const r = results[mode]!;
      assert.equal(r.outside, 0, `${mode} opened a file outside the root`);
      assert.ok(r.inside > 0, `${mode}: no open succeeded`);
      // The opens did meet the swapped states: the period under test was a race.
      assert.ok(r.refused + r.notFound >= limits.minSwapped, `${mode}: the race never showed`);
    }
    // The realpath design leaks on most runs (here: 2, 49 and 251 outside opens in three runs
    // of 10,000): reported above, not asserted, since no bounded run is sure to show it.
    // No descriptor left on anything of the tree (by identity: the Worker's runtime may open
    // descriptors of its own, which a count would mistake for a leak).
    const tree = ["root", "root/d", "root/d/f", "root/d.link", "outside", "outside/f"];
    assert.deepEqual(openOn(tree.map((p) => `${dir}/${p}`)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
