/**
 * {@linkcode serveFile}: a file (or a byte range of it) as a fetch-standard `Response` that
 * netio's {@linkcode serve} sends by sendfile(2), with Range, conditional requests and HEAD.
 *
 * @module
 */

import { sysPread } from "../../ffi/libc.ts";
import { FileHandle, openFile } from "../transfer/file.ts";
import type { FileRoot } from "../transfer/root.ts";
import { checkObject } from "../_validate.ts";
import { setFileBody } from "./_serve_response.ts";

const CHUNK = 64 * 1024;
const HEX = 16;
const MS_PER_SECOND = 1000;

/** Content types by file extension (lowercase, without the dot). */
const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/vnd.microsoft.icon",
  wasm: "application/wasm",
  pdf: "application/pdf",
  xml: "application/xml",
  mp4: "video/mp4",
  webm: "video/webm",
  mp3: "audio/mpeg",
  woff: "font/woff",
  woff2: "font/woff2",
  zip: "application/zip",
  gz: "application/gzip",
});

/**
 * The content type for a path's extension (`application/octet-stream` when unknown).
 *
 * @example
 * ```ts
 * import { contentTypeOf } from "./mod.ts";
 *
 * console.log(contentTypeOf("/a/index.html")); // "text/html; charset=utf-8"
 * ```
 */
export function contentTypeOf(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  if (dot <= slash + 1) return "application/octet-stream";
  return CONTENT_TYPES[path.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}

/** Options of {@linkcode serveFile}. */
export interface ServeFileOptions {
  /**
   * Open `file` (a relative path) under this root ({@linkcode openRoot}): the kernel refuses any
   * way out of it (403), atomically, and `--allow-read` was checked once for the root.
   */
  root?: FileRoot;
  /** Extra response headers (e.g. Cache-Control). */
  headers?: HeadersInit;
  /** Content-Type; default from the file's extension. */
  contentType?: string;
}

function textResponse(status: number, text: string): Response {
  return new Response(text, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** A weak validator from size and modification time, as nginx's `"mtime-size"`. */
function etagOf(file: FileHandle): string {
  return `W/"${Math.floor(file.mtimeMs).toString(HEX)}-${file.size.toString(HEX)}"`;
}

/** Whether an If-None-Match list names `etag` (weak comparison, RFC 9110 13.1.2). */
function matchesEtag(list: string, etag: string): boolean {
  if (list.trim() === "*") return true;
  const bare = etag.slice(2);
  return list.split(",").some((tag) => {
    const t = tag.trim();
    return t === etag || t === bare || t.slice(2) === bare;
  });
}

/** A byte range `[start, end]` (inclusive, as in Content-Range). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a Range header against a file size (RFC 9110 14.1.2): one range, "unsatisfiable", or
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

/** A body that reads the range with pread, for whoever reads the Response without netio. */
function rangeStream(
  file: FileHandle,
  owned: boolean,
  offset: number,
  length: number,
): ReadableStream<Uint8Array> {
  let at = offset;
  const end = offset + length;
  const done = () => {
    if (owned) file.close();
  };
  return new ReadableStream({
    type: "bytes",
    pull(controller): void {
      if (at >= end) {
        done();
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const buf = new Uint8Array(Math.min(CHUNK, end - at));
      const n = sysPread(file.fd, buf, at);
      if (n <= 0) {
        done();
        controller.error(
          n === 0
            ? new Deno.errors.UnexpectedEof(`${file.path} ended early`)
            : new Error(`pread failed on ${file.path}: errno ${-n}`),
        );
        return;
      }
      at += n;
      controller.enqueue(buf.subarray(0, n));
    },
    cancel: done,
  }) as ReadableStream<Uint8Array>;
}

/**
 * Answers a request with a file: 200 with the whole file, 206 for a satisfiable single
 * `Range: bytes=` (416 when unsatisfiable), 304 when `If-None-Match` (a weak ETag from size
 * and mtime) or `If-Modified-Since` says the client has it. Sets Content-Type (from the
 * extension), Content-Length, Accept-Ranges, ETag and Last-Modified.
 *
 * `file` is a path (opened here with `--allow-read` checked; a missing file answers 404) or a
 * {@linkcode FileHandle} (left open for the caller). Under netio's {@linkcode serve} the body
 * goes out by sendfile(2); any other consumer of the Response (Deno.serve, `response.text()`)
 * reads it with pread. HEAD sends the same headers and no body (the server drops it).
 *
 * @example
 * ```ts
 * import { serve, serveFile } from "./mod.ts";
 *
 * const path = await Deno.makeTempFile({ suffix: ".txt" });
 * await Deno.writeTextFile(path, "hello, file");
 * const server = serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) =>
 *   serveFile(request, path));
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
 *   headers: { range: "bytes=7-" },
 * });
 * console.log(response.status, await response.text()); // 206 "file"
 * await server.shutdown();
 * await Deno.remove(path);
 * ```
 */
export function serveFile(
  request: Request,
  file: string | URL | FileHandle,
  options: ServeFileOptions = {},
): Response {
  checkObject(options, "serveFile options");
  let handle: FileHandle;
  const owned = !(file instanceof FileHandle);
  if (file instanceof FileHandle) {
    handle = file;
  } else {
    try {
      if (options.root === undefined) {
        handle = openFile(file);
      } else {
        if (typeof file !== "string") throw new TypeError("serveFile: with a root, file is a path");
        handle = options.root.open(file);
      }
    } catch (error) {
      if (
        error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory ||
        error instanceof Deno.errors.NotADirectory
      ) {
        return textResponse(404, "404 Not Found\n");
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        return textResponse(403, "403 Forbidden\n");
      }
      throw error;
    }
  }
  const size = handle.size;
  const headers = new Headers(options.headers);
  const etag = etagOf(handle);
  headers.set("accept-ranges", "bytes");
  headers.set("etag", etag);
  headers.set("last-modified", new Date(handle.mtimeMs).toUTCString());
  if (!headers.has("content-type")) {
    headers.set("content-type", options.contentType ?? contentTypeOf(handle.path));
  }
  const release = () => {
    if (owned) handle.close();
  };

  const method = request.method;
  if (method === "GET" || method === "HEAD") {
    const ifNoneMatch = request.headers.get("if-none-match");
    const ifModifiedSince = request.headers.get("if-modified-since");
    const notModified = ifNoneMatch !== null
      ? matchesEtag(ifNoneMatch, etag)
      : ifModifiedSince !== null &&
        Math.floor(handle.mtimeMs / MS_PER_SECOND) <=
          Date.parse(ifModifiedSince) / MS_PER_SECOND;
    if (notModified) {
      release();
      return new Response(null, { status: 304, headers });
    }
  }

  let status = 200;
  let offset = 0;
  let length = size;
  const rangeHeader = request.headers.get("range");
  const ifRange = request.headers.get("if-range");
  if (
    rangeHeader !== null && (method === "GET" || method === "HEAD") &&
    (ifRange === null || ifRange === etag)
  ) {
    const range = parseRange(rangeHeader, size);
    if (range === "unsatisfiable") {
      release();
      headers.set("content-range", `bytes */${size}`);
      headers.delete("content-type");
      return new Response(null, { status: 416, headers });
    }
    if (range !== null) {
      status = 206;
      offset = range.start;
      length = range.end - range.start + 1;
      headers.set("content-range", `bytes ${range.start}-${range.end}/${size}`);
    }
  }
  // Stated here too, so that any server of this Response (Deno.serve included) announces the
  // length, for HEAD as well, instead of chunking the stream.
  headers.set("content-length", String(length));
  const response = new Response(rangeStream(handle, owned, offset, length), { status, headers });
  setFileBody(response, { handle, owned, offset, length });
  return response;
}
