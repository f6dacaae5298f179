/**
 * A static file server on `serve()`: GET and HEAD, a single byte Range (206, or 416 when it
 * cannot be satisfied), ETag and 304, `/dir` redirected to `/dir/`, `/dir/` answered with its
 * index.html or a listing, 404, 405, and 403 for any path that would leave the root.
 *
 * Every file is opened under the root with openat2(RESOLVE_BENEATH): the kernel refuses `..`,
 * absolute paths and symlinks that lead outside during the lookup itself, so a directory swapped
 * for a symlink between a check and the open cannot leak a byte (where openat2 is missing or
 * refused, a per-component openat(O_NOFOLLOW) walk does the same; `stats().open` says which).
 * Bodies go by sendfile(2), heads by writev; the header and idle deadlines of the HTTP core apply.
 *
 * ```sh
 * deno run --allow-ffi --allow-net --allow-read --allow-env examples/file_server.ts --root . --port 8080
 * curl -r 0-99 http://127.0.0.1:8080/README.md
 * ```
 *
 * The server is also a module: `serveFiles()` starts one in-process (the tests do).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { integerFlag, runCli } from "./_cli.ts";
import {
  type FileRoot,
  type HttpServerStats,
  openRoot,
  type RootMethod,
  serve,
  serveFile,
} from "../mod.ts";

const usage = `usage: deno run --allow-ffi --allow-net --allow-read --allow-env \\
         examples/file_server.ts [options]

Serves the files under a root directory over HTTP/1.1 (GET, HEAD, single byte ranges),
bodies by sendfile(2), every open confined to the root by the kernel. Prints
'listening on PORT' when ready.

options:
  --root DIR       directory to serve (default .)
  --host ADDR      address to bind (default 127.0.0.1)
  --port N         port, 0 for any free one (default 8080)
  --no-symlinks    refuse symlinks even inside the root
  -v, --verbose    one log line per response on stderr
  -h, --help       this text`;

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...TEXT, ...headers } });
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The request target's path, as sent: `request.url` is built from it without normalising. */
function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/**
 * The path under the root for a request path: percent-decoded once, relative (no leading
 * slash); a status to answer instead for what can never be a file under the root. The kernel
 * confines the open anyway; this only turns the obvious cases into clear answers.
 */
export function relativePath(path: string): string | number {
  if (!path.startsWith("/")) return 400;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 400; // malformed percent-encoding
  }
  if (decoded.includes("\0")) return 400;
  if (decoded.split("/").includes("..")) return 403;
  return decoded.slice(1);
}

function listing(root: FileRoot, relative: string, path: string): Response {
  const items = root.readDir(relative).map((entry) => {
    const name = entry.isDirectory ? `${entry.name}/` : entry.name;
    return `<li><a href="${escapeHtml(encodeURIComponent(entry.name))}${
      entry.isDirectory ? "/" : ""
    }">${escapeHtml(name)}</a></li>`;
  });
  const title = escapeHtml(path);
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>${title}</title>\n<h1>${title}</h1>\n<ul>\n${
      items.join("\n")
    }\n</ul>\n`,
    { headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

/** Answers one request from the files under `root`. */
function respond(request: Request, root: FileRoot): Response {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text(405, "Method Not Allowed\n", { allow: "GET, HEAD" });
  }
  const path = rawPath(request.url);
  const relative = relativePath(path);
  if (typeof relative === "number") {
    return text(relative, relative === 403 ? "Forbidden\n" : "Bad Request\n");
  }
  let isDirectory: boolean;
  try {
    isDirectory = root.stat(relative).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) return text(403, "Forbidden\n");
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return text(404, "Not Found\n");
    }
    throw e;
  }
  if (!isDirectory) return serveFile(request, relative, { root });
  if (!path.endsWith("/")) {
    const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "";
    return new Response(null, { status: 301, headers: { location: `${path}/${query}` } });
  }
  const index = `${relative}index.html`;
  try {
    if (root.stat(index).isFile) return serveFile(request, index, { root });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return listing(root, relative, path);
}

// ---------------------------------------------------------------------------------------------
// The server

/** Options of {@linkcode serveFiles}. */
export interface FileServerOptions {
  /** Directory to serve. */
  root: string;
  /** Address to bind (default 127.0.0.1). */
  hostname?: string;
  /** Port, 0 for any free one (default 8080). */
  port?: number;
  /** Refuse symlinks even when they stay inside the root. */
  noSymlinks?: boolean;
  /** Force the confinement method (tests): openat2, or the openat walk. */
  method?: RootMethod;
  /** One line per response: method, path, status. */
  log?: (line: string) => void;
}

/** A running file server. */
export interface FileServer {
  /** The bound port. */
  port: number;
  /** The HTTP counters, and how opens are confined ("openat2" or "walk", and why). */
  stats(): HttpServerStats & { open: RootMethod; openFallbackReason: string | undefined };
  /** Stops accepting, lets requests in flight finish, closes the root. */
  close(): Promise<void>;
}

/** Starts a file server; resolves once it listens. */
export function serveFiles(options: FileServerOptions): Promise<FileServer> {
  const root = openRoot(options.root, {
    ...(options.noSymlinks ? { noSymlinks: true } : {}),
    ...(options.method ? { mode: options.method } : {}),
  });
  try {
    const server = serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 8080,
      onListen(): void {},
    }, (request) => {
      const response = respond(request, root);
      options.log?.(`${request.method} ${rawPath(request.url)} ${response.status}`);
      return response;
    });
    return Promise.resolve({
      port: server.addr.port,
      stats: () => ({
        ...server.stats(),
        open: root.method,
        openFallbackReason: root.fallbackReason,
      }),
      async close(): Promise<void> {
        await server.shutdown();
        root.close();
      },
    });
  } catch (e) {
    root.close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Command line

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      root: { type: "string", default: "." },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
      "no-symlinks": { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = integerFlag("port", values.port, 0, 65535);
  const server = await serveFiles({
    root: values.root,
    hostname: values.host,
    port,
    noSymlinks: values["no-symlinks"],
    ...(values.verbose ? { log: (line: string) => console.error(line) } : {}),
  });
  console.log(`listening on ${server.port}`);
  const stop = (): void => {
    server.close().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) await runCli(main, usage);
