/**
 * The C HTTP anchors of the comparisons, built with `cc -O2` at run time into /tmp:
 * `servers/epoll_reference.c` (the seed's C epoll server: level-triggered epoll, its
 * Content-Length right, no per-connection printf) and `servers/uring_reference.c` (liburing:
 * multishot accept, multishot recv into a provided buffer ring, send). Both answer the same bytes
 * and take `--port`/`--host`, printing `listening on PORT`.
 *
 * @example
 * ```ts ignore
 * import { buildCServer, C_SERVERS } from "./c_servers.ts";
 *
 * const missing = await buildCServer("uring");
 * console.log(missing ?? `built ${C_SERVERS.uring.binary}`);
 * ```
 *
 * @module
 */

/** A C server of the comparisons: its source, where it is built, and what it links. */
export interface CServer {
  name: string;
  source: string;
  binary: string;
  libraries: string[];
}

/** The C servers by backend. */
export const C_SERVERS = {
  epoll: {
    name: "C epoll",
    source: new URL("./servers/epoll_reference.c", import.meta.url).pathname,
    binary: "/tmp/netio-epoll-reference",
    libraries: [],
  },
  uring: {
    name: "C io_uring",
    source: new URL("./servers/uring_reference.c", import.meta.url).pathname,
    binary: "/tmp/netio-uring-reference",
    libraries: ["-luring"],
  },
} as const satisfies Record<string, CServer>;

const builds = new Map<string, Promise<string | null>>();

/**
 * Builds a C server once (`cc -O2 SOURCE -o BINARY LIBS`); `null` when it was built, else why
 * not (no compiler, no liburing).
 *
 * @example
 * ```ts ignore
 * import { buildCServer } from "./c_servers.ts";
 *
 * console.log((await buildCServer("uring")) ?? "built");
 * ```
 */
export function buildCServer(which: keyof typeof C_SERVERS): Promise<string | null> {
  const server: CServer = C_SERVERS[which];
  let built = builds.get(which);
  if (built === undefined) {
    built = (async (): Promise<string | null> => {
      const reasons: string[] = [];
      for (const cc of ["cc", "gcc", "clang"]) {
        let out: Deno.CommandOutput;
        try {
          out = await new Deno.Command(cc, {
            args: ["-O2", "-o", server.binary, server.source, ...server.libraries],
            stdout: "piped",
            stderr: "piped",
          }).output();
        } catch {
          continue; // not installed: try the next
        }
        if (out.code === 0) return null;
        const stderr = new TextDecoder().decode(out.stderr);
        if (/liburing\.h|-luring/.test(stderr)) {
          return "liburing not installed (apt-get install -y liburing-dev)";
        }
        reasons.push(`${cc}: ${stderr.trim().split("\n")[0]}`);
      }
      return reasons.length > 0 ? reasons.join("; ") : "no C compiler (cc, gcc, clang)";
    })();
    builds.set(which, built);
  }
  return built;
}
