/**
 * The parts of a fetch-standard `Response` as `serve()` sends it: static (joins the core's
 * batch) or an exchange on the taken connection (a file, an upgrade, a stream), and the header
 * rules between the handler's headers and the framing the server writes.
 *
 * @module
 */

import { EMPTY, ENCODER } from "./_bytes.ts";
import type { FileBody, UpgradeBody } from "./_serve_response.ts";
import type { RequestParser } from "./request_parser.ts";
import type { HttpResponseInit } from "./server_types.ts";

const NO_CONTENT = 204;
const NOT_MODIFIED = 304;
const FIRST_FINAL = 200;

/**
 * A response that needs the connection for itself: a file range, an upgrade, or a body stream
 * (with the chunks already read of it).
 */
export interface Exchanged {
  status: number;
  headers: [string, string][];
  file?: FileBody;
  upgrade?: UpgradeBody;
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  prefix?: Uint8Array[];
  /**
   * The handler's own Content-Length for a stream or a HEAD answer, as Deno.serve honours it:
   * the stream is sent with that length instead of chunked, a HEAD answer announces it.
   */
  length?: number;
}

/** What a response becomes: static (the core's batch) or an exchange on the taken connection. */
export type Parts = HttpResponseInit | Exchanged;

export function isExchanged(parts: Parts): parts is Exchanged {
  return (parts as Exchanged).reader !== undefined || (parts as Exchanged).file !== undefined ||
    (parts as Exchanged).upgrade !== undefined || (parts as Exchanged).length !== undefined;
}

export let lastText = "";
export let lastBytes: Uint8Array = EMPTY;

/**
 * A string body as UTF-8, the last one remembered: a handler answering the same text again (the
 * common case for a fixed reply) costs a string comparison, not an encoding.
 */
export function encodeBody(body: string | Uint8Array | null): Uint8Array {
  if (body === null) return EMPTY;
  if (typeof body !== "string") return body;
  if (body !== lastText) {
    lastBytes = ENCODER.encode(body);
    lastText = body;
  }
  return lastBytes;
}

/** Header names the server writes itself (from the framing it chooses). */
export function isFramingHeader(name: string): boolean {
  const first = name.charCodeAt(0) | 0x20;
  if (first !== 0x63 && first !== 0x64 && first !== 0x74 && first !== 0x6b) return false;
  const lower = name.toLowerCase();
  return lower === "content-length" || lower === "connection" || lower === "date" ||
    lower === "transfer-encoding" || lower === "keep-alive";
}

/** The pairs without the framing headers (the same array when there are none). */
export function userHeaders(pairs: [string, string][]): [string, string][] {
  let i = 0;
  while (i < pairs.length && !isFramingHeader(pairs[i]![0])) i++;
  if (i === pairs.length) return pairs;
  return pairs.filter(([name]) => !isFramingHeader(name));
}

/** The handler's Content-Length among `pairs`, or -1 (none, or not a plain decimal). */
export function userContentLength(pairs: [string, string][]): number {
  for (const [name, value] of pairs) {
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      return /^\d{1,15}$/.test(value) ? Number(value) : -1;
    }
  }
  return -1;
}

/**
 * Deno.serve's answer when the handler fails: no Content-Type (a bytes body), as its
 * `internalServerError()`.
 */
export function internalServerError(): Response {
  return new Response(ENCODER.encode("Internal Server Error"), { status: 500 });
}

/** Response.error() is the only Response with status 0; Deno.serve treats it as a failure. */
export const ERROR_RESPONSE = 0;

export function bodyless(status: number): boolean {
  return status < FIRST_FINAL || status === NO_CONTENT || status === NOT_MODIFIED;
}

export function isWebSocketUpgrade(parser: RequestParser): boolean {
  const upgrade = parser.header("upgrade");
  return upgrade !== undefined && upgrade.toLowerCase().includes("websocket");
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

export function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource;
}

export const NOT_IMPLEMENTED: HttpResponseInit = Object.freeze({
  status: 501,
  headers: Object.freeze({ "Content-Type": "text/plain; charset=utf-8" }),
  body: "501 Not Implemented: this server does not upgrade connections to websocket\n",
});

/** A response that will not be sent: its stream cancelled, its file closed, its upgrade refused. */
export function cancelParts(parts: Parts, reason: unknown): void {
  if (!isExchanged(parts)) return;
  parts.reader?.cancel(reason).catch(() => {});
  if (parts.file?.owned) parts.file.handle.close();
  parts.upgrade?.reject(reason);
}

/** A reader whose first read is one already asked for. */
export function prependRead(
  first: Promise<ReadableStreamReadResult<Uint8Array>>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStreamDefaultReader<Uint8Array> {
  let used = false;
  return {
    read: () => {
      if (used) return reader.read();
      used = true;
      return first;
    },
    cancel: (reason?: unknown) => reader.cancel(reason),
    releaseLock: () => reader.releaseLock(),
    closed: reader.closed,
  } as ReadableStreamDefaultReader<Uint8Array>;
}
