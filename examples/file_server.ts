/**
 * A static file server: GET and HEAD, Content-Length, a single byte Range (206, or 416 when it
 * cannot be satisfied), 404, and 403 for any path that would leave the root (`..` segments,
 * percent-encoded dots or slashes, symlinks pointing outside). Response heads are written with
 * writev, file bodies with sendfile: the bytes go from the page cache to the socket without
 * passing through JavaScript.
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
  errorResponse,
  type HeaderList,
  INCOMPLETE,
  PARSE_ERROR,
  RequestParser,
  writeResponseHead,
} from "../http.ts";
import {
  ErrnoError,
  type FileHandle,
  openFile,
  sendFile,
  TcpListener,
  type TcpStream,
  writev,
} from "../mod.ts";

const usage = `usage: deno run --allow-ffi --allow-net --allow-read --allow-env \\
         examples/file_server.ts [options]

Serves the files under a root directory over HTTP/1.1 (GET, HEAD, single byte ranges),
bodies by sendfile(2). Prints 'listening on PORT' when ready.

options:
  --root DIR     directory to serve (default .)
  --host ADDR    address to bind (default 127.0.0.1)
  --port N       port, 0 for any free one (default 8080)
  -v, --verbose  one log line per response on stderr
  -h, --help     this text`;

// ---------------------------------------------------------------------------------------------
// Requests to responses

const TEXT = Object.freeze({ "Content-Type": "text/plain; charset=utf-8" });
const encoder = new TextEncoder();

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  ts: "text/plain; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  wasm: "application/wasm",
  pdf: "application/pdf",
};

function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  const ext = dot > path.lastIndexOf("/") ? path.slice(dot + 1).toLowerCase() : "";
  return CONTENT_TYPES[ext] ?? "application/octet-stream";
}

/** A byte range `[start, end]` (inclusive, as in Content-Range). */
interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a Range header against a file size (RFC 9110 14.1.2): one range, or "unsatisfiable", or
 * null to ignore the header (another unit, several ranges, a malformed spec: a server may ignore
 * Range and answer 200 with the whole file).
 */
export function parseRange(value: string, size: number): ByteRange | "unsatisfiable" | null {
  const m = /^bytes=\s*(\d*)-(\d*)\s*$/i.exec(value);
  if (!m) return null;
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return null;
  if (first === "") {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Number(last);
  if (last !== "" && end < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Maps a request path to a file under `root`, or to the status to answer instead. `root` is a
 * real path (no symlinks). The path is percent-decoded once; any `..` segment after decoding is
 * refused, and so is anything whose real path (symlinks resolved) leaves the root.
 */
export async function resolvePath(root: string, rawPath: string): Promise<string | number> {
  if (!rawPath.startsWith("/")) return 400;
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return 400; // malformed percent-encoding
  }
  if (path.includes("\0")) return 400;
  if (path.split("/").includes("..")) return 403;
  let real: string;
  try {
    real = await Deno.realPath(root + path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return 404;
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return 403;
    }
    throw e;
  }
  if (real !== root && !real.startsWith(root + "/")) return 403;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(real);
  } catch {
    return 404; // removed since realPath
  }
  if (info.isDirectory) {
    // A directory is served by its index.html, which must itself stay inside the root.
    return path.endsWith("/") ? await resolvePath(root, `${path}index.html`) : 404;
  }
  return real;
}

/** Writes a short text response, head and body in one writev. */
async function sendText(
  conn: TcpStream,
  status: number,
  body: string,
  keepAlive: boolean,
  head: boolean,
  extra: ReadonlyArray<readonly [string, string]> = [],
): Promise<number> {
  const bytes = encoder.encode(body);
  const headers: HeaderList = extra.length
    ? [["Content-Type", TEXT["Content-Type"]], ...extra]
    : TEXT;
  const headBytes = writeResponseHead(status, headers, bytes.length, keepAlive);
  await writev(conn, head ? [headBytes] : [headBytes, bytes]);
  return head ? 0 : bytes.length;
}

/** What one request produced, for the log. */
interface Served {
  status: number;
  bytes: number;
}

/** Answers one parsed request. */
async function respond(
  conn: TcpStream,
  root: string,
  method: string,
  rawPath: string,
  range: string | undefined,
  keepAlive: boolean,
): Promise<Served> {
  const head = method === "HEAD";
  if (method !== "GET" && !head) {
    const bytes = await sendText(conn, 405, "Method Not Allowed\n", keepAlive, false, [
      ["Allow", "GET, HEAD"],
    ]);
    return { status: 405, bytes };
  }
  const resolved = await resolvePath(root, rawPath);
  if (typeof resolved === "number") {
    const body = { 400: "Bad Request\n", 403: "Forbidden\n", 404: "Not Found\n" }[resolved] ?? "";
    return { status: resolved, bytes: await sendText(conn, resolved, body, keepAlive, head) };
  }
  let file: FileHandle;
  try {
    file = openFile(resolved);
  } catch (e) {
    const status = e instanceof ErrnoError && e.code === "ENOENT" ? 404 : 403;
    const body = status === 404 ? "Not Found\n" : "Forbidden\n";
    return { status, bytes: await sendText(conn, status, body, keepAlive, head) };
  }
  try {
    const size = file.size;
    const r = range === undefined ? null : parseRange(range, size);
    if (r === "unsatisfiable") {
      const bytes = await sendText(conn, 416, "Range Not Satisfiable\n", keepAlive, head, [
        ["Content-Range", `bytes */${size}`],
      ]);
      return { status: 416, bytes };
    }
    const start = r ? r.start : 0;
    const length = r ? r.end - r.start + 1 : size;
    const headers: [string, string][] = [
      ["Content-Type", contentType(resolved)],
      ["Accept-Ranges", "bytes"],
    ];
    if (r) headers.push(["Content-Range", `bytes ${r.start}-${r.end}/${size}`]);
    const status = r ? 206 : 200;
    await writev(conn, [writeResponseHead(status, headers, length, keepAlive)]);
    if (head || length === 0) return { status, bytes: 0 };
    return { status, bytes: await sendFile(conn, file, { offset: start, length }) };
  } finally {
    file.close();
  }
}

/** Serves one connection: requests parsed from one buffer, answered in order (pipelining). */
async function serveConnection(
  conn: TcpStream,
  root: string,
  log: ((line: string) => void) | undefined,
): Promise<void> {
  // Head limits 16 KiB + 8 KiB target, bodies (ignored, but framed) 16 KiB: all fit in 64 KiB.
  const parser = new RequestParser({
    maxHeaderBytes: 16384,
    maxUrlBytes: 8192,
    maxBodyBytes: 16384,
  });
  const buf = new Uint8Array(65536);
  let start = 0;
  let end = 0;
  for (;;) {
    while (start < end) {
      const n = parser.parse(buf, start, end);
      if (n === PARSE_ERROR) {
        await conn.writeAll(errorResponse(parser.errorStatus));
        log?.(`- - ${parser.errorStatus} (${parser.errorReason})`);
        return;
      }
      if (n === INCOMPLETE) break;
      // Copy what the response needs: the parser's views are valid only until the next parse.
      const method = parser.method;
      const target = parser.target;
      const keepAlive = parser.keepAlive;
      const served = await respond(
        conn,
        root,
        method,
        parser.path,
        parser.header("range"),
        keepAlive,
      );
      log?.(`${method} ${target} ${served.status} ${served.bytes}`);
      start += n;
      if (!keepAlive) return;
    }
    if (start === end) {
      start = end = 0;
    } else if (start > 0) {
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    const n = await conn.read(buf.subarray(end));
    if (n === null) return;
    end += n;
  }
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
  /** One line per response (method, target, status, body bytes sent). */
  log?: (line: string) => void;
}

/** A running file server. */
export interface FileServer {
  /** The bound port. */
  port: number;
  /** Stops accepting, closes every connection, and resolves once all are done. */
  close(): Promise<void>;
}

/** Starts a file server; resolves once it listens. */
export async function serveFiles(options: FileServerOptions): Promise<FileServer> {
  const root = await Deno.realPath(options.root);
  if (!(await Deno.stat(root)).isDirectory) {
    throw new TypeError(`${options.root} is not a directory`);
  }
  const listener = TcpListener.bind({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
  });
  const connections = new Set<TcpStream>();
  const handlers = new Set<Promise<void>>();
  const log = options.log;
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.add(conn);
      const handler = serveConnection(conn, root, log)
        .catch((e) => {
          // A client that goes away mid-response is normal for a file server.
          if (!(e instanceof ErrnoError)) log?.(`error: ${e instanceof Error ? e.message : e}`);
        })
        .finally(() => {
          connections.delete(conn);
          handlers.delete(handler);
          conn.close();
        });
      handlers.add(handler);
    }
  })();
  return {
    port: listener.addr.port,
    async close(): Promise<void> {
      listener.close();
      await accepting;
      for (const conn of connections) conn.close();
      await Promise.allSettled([...handlers]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Command line

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      root: { type: "string", default: "." },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
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
