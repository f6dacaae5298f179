/**
 * HTTP/1.1 response serialization: heads ({@linkcode writeResponseHead}), whole fixed responses
 * ({@linkcode FixedResponse}), error replies ({@linkcode errorResponse}) and the Date value, each
 * cached per second so that a steady server formats nothing per request.
 *
 * @module
 */

import { checkInteger } from "../_validate.ts";
import { ascii, DEL, EMPTY, ENCODER, HTAB, SP, TCHAR } from "./_bytes.ts";
import {
  cachedDateSecond,
  currentSecond,
  findError,
  findHead,
  refreshDate,
  storeError,
  storeHead,
} from "./_caches.ts";
import { statusText } from "./status.ts";

/** Three-digit status codes (RFC 9110 15). */
const MIN_STATUS = 100;
const MAX_STATUS = 999;
/** 1xx responses are interim; 2xx is the first final class. */
const FIRST_FINAL_STATUS = 200;
const NO_CONTENT = 204;
const NOT_MODIFIED = 304;
/** Highest code unit a latin1 header name can hold. */
const MAX_BYTE = 0xff;

/**
 * The current time as an HTTP `Date` value (IMF-fixdate), formatted at most once per second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpDate } from "./mod.ts";
 *
 * assert.deepEqual(httpDate().endsWith(" GMT"), true);
 * assert.deepEqual(httpDate().length, 29);
 * ```
 */
export function httpDate(): string {
  return refreshDate();
}

/**
 * Header fields to write: a record (one value per name) or a list of pairs (repeatable names
 * such as Set-Cookie). A frozen record lets {@link writeResponseHead} cache the serialized head.
 *
 * @example
 * ```ts
 * import type { HeaderList } from "./mod.ts";
 *
 * const plain: HeaderList = Object.freeze({ "Content-Type": "text/plain" });
 * const cookies: HeaderList = [["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]];
 * ```
 */
export type HeaderList =
  | Readonly<Record<string, string>>
  | ReadonlyArray<readonly [string, string]>;

function checkHeader(name: string, value: string): void {
  if (name.length === 0) throw new TypeError("empty header name");
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > MAX_BYTE || TCHAR[c] !== 1) {
      throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    }
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // CR and LF would let a value inject fields or a whole response.
    if ((c < SP && c !== HTAB) || c === DEL) {
      throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(value)}`);
    }
  }
  const lower = name.toLowerCase();
  if (lower === "content-length" || lower === "connection" || lower === "date") {
    throw new TypeError(`${name} is written by writeResponseHead from its arguments`);
  }
}

function headText(
  status: number,
  headers: HeaderList | undefined,
  contentLength: number,
  keepAlive: boolean,
  date: string,
): string {
  checkInteger(status, "status", MIN_STATUS, MAX_STATUS);
  checkInteger(contentLength, "contentLength", -1, Number.MAX_SAFE_INTEGER);
  let s = "HTTP/1.1 " + status + " " + statusText(status) + "\r\nDate: " + date + "\r\n";
  if (headers !== undefined) {
    const pairs = Array.isArray(headers)
      ? headers as ReadonlyArray<readonly [string, string]>
      : Object.entries(headers);
    for (const [name, value] of pairs) {
      checkHeader(name, value);
      s += name + ": " + value + "\r\n";
    }
  }
  // 1xx and 204 responses must not carry Content-Length (RFC 9110 8.6); a 304 may only carry
  // the length a 200 would have had, which is not the empty body sent here.
  if (
    contentLength >= 0 && status >= FIRST_FINAL_STATUS && status !== NO_CONTENT &&
    status !== NOT_MODIFIED
  ) {
    s += "Content-Length: " + contentLength + "\r\n";
  }
  // keep-alive is spelled out so HTTP/1.0 clients keep the connection too.
  return s + (keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
}

/**
 * A head as bytes. Field values are octets (RFC 9110 5.5) and a fetch `Headers` value is a
 * ByteString, so a character up to U+00FF is that one octet, as Deno.serve and Node write it;
 * UTF-8 would turn "é" (0xE9) into two octets. A head holding a character beyond U+00FF (only a
 * string given to the core directly can) keeps its UTF-8 form.
 */
function encodeHead(text: string): Uint8Array {
  const utf8 = ENCODER.encode(text);
  if (utf8.length === text.length) return utf8;
  const octets = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > MAX_BYTE) return utf8;
    octets[i] = c;
  }
  return octets;
}

/**
 * Serializes an HTTP/1.1 response head: status line, `Date`, the given fields,
 * `Content-Length` (omitted when `contentLength` is -1, as for a chunked response, and for 1xx,
 * 204 and 304) and `Connection: keep-alive` or `Connection: close`.
 *
 * When `headers` is undefined or a frozen record, the bytes are cached (32 entries, dropped every
 * second with the Date) and the same `Uint8Array` is returned for the same arguments: never
 * modify the result. Throws TypeError for a field that could inject lines (CR, LF, other CTLs),
 * a bad name, or Content-Length, Connection or Date in `headers`; RangeError for a bad status.
 *
 * Four positional arguments rather than an options object: it runs once per response, and the
 * cache lookup compares them as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeResponseHead } from "./mod.ts";
 *
 * const headers = Object.freeze({ "Content-Type": "text/plain" });
 * const head = new TextDecoder().decode(writeResponseHead(200, headers, 13, true));
 * assert.deepEqual(head.startsWith("HTTP/1.1 200 OK\r\nDate: "), true);
 * assert.deepEqual(
 *   head.endsWith("Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n"),
 *   true,
 * );
 * ```
 */
export function writeResponseHead(
  status: number,
  headers: HeaderList | undefined,
  contentLength: number,
  keepAlive: boolean,
): Uint8Array {
  const date = refreshDate();
  const cacheable = headers === undefined || (!Array.isArray(headers) && Object.isFrozen(headers));
  if (!cacheable) return encodeHead(headText(status, headers, contentLength, keepAlive, date));
  const key = keepAlive ? status : -status;
  const cached = findHead(headers, key, contentLength);
  if (cached !== undefined) return cached;
  const bytes = encodeHead(headText(status, headers, contentLength, keepAlive, date));
  storeHead(headers, key, contentLength, bytes);
  return bytes;
}

/**
 * `HTTP/1.1 100 Continue`, to send when a request with `Expect: 100-continue` has its head
 * parsed but not its body. Shared: never modify it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONTINUE_RESPONSE } from "./mod.ts";
 *
 * assert.deepEqual(new TextDecoder().decode(CONTINUE_RESPONSE), "HTTP/1.1 100 Continue\r\n\r\n");
 * ```
 */
export const CONTINUE_RESPONSE: Uint8Array = ascii("HTTP/1.1 100 Continue\r\n\r\n");

const ERROR_HEADERS = Object.freeze({ "Content-Type": "text/plain; charset=utf-8" });

function concat(head: Uint8Array, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/**
 * A complete error response with `Connection: close` and a one-line text body, e.g. for the
 * `errorStatus` of a parser. Cached per status and second: never modify the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse } from "./mod.ts";
 *
 * const text = new TextDecoder().decode(errorResponse(431));
 * assert.deepEqual(text.startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"), true);
 * assert.deepEqual(text.includes("\r\nConnection: close\r\n"), true);
 * ```
 */
export function errorResponse(status: number): Uint8Array {
  refreshDate();
  let bytes = findError(status);
  if (bytes === undefined) {
    const body = ascii(`${status} ${statusText(status)}\n`);
    bytes = concat(writeResponseHead(status, ERROR_HEADERS, body.length, false), body);
    storeError(status, bytes);
  }
  return bytes;
}

/**
 * Options of a {@link FixedResponse}.
 *
 * @example
 * ```ts
 * import { FixedResponse, type FixedResponseOptions } from "./mod.ts";
 *
 * const options: FixedResponseOptions = { headers: { "Content-Type": "text/plain" }, body: "ok" };
 * new FixedResponse(200, options);
 * ```
 */
export interface FixedResponseOptions {
  /** Fields besides Date, Content-Length and Connection. */
  headers?: HeaderList;
  /** The body; a string is sent as UTF-8. */
  body?: Uint8Array | string;
}

/**
 * A response that never changes but for its Date, serialized whole (head and body) once per
 * second: the fast path for fixed answers such as a hello-world or a health check. The bytes
 * returned are shared: never modify them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FixedResponse } from "./mod.ts";
 *
 * const hello = new FixedResponse(200, {
 *   headers: { "Content-Type": "text/plain" },
 *   body: "Hello, World!",
 * });
 * const text = new TextDecoder().decode(hello.bytes(true));
 * assert.deepEqual(text.endsWith("Connection: keep-alive\r\n\r\nHello, World!"), true);
 * assert.deepEqual(hello.bytes(true), hello.bytes(true));
 * ```
 */
export class FixedResponse {
  #status: number;
  #headers: HeaderList | undefined;
  #body: Uint8Array;
  #second = -1;
  #keepAlive: Uint8Array = EMPTY;
  #close: Uint8Array = EMPTY;

  /** Serializes once to validate the fields (throws like {@link writeResponseHead}). */
  constructor(status: number, options: FixedResponseOptions = {}) {
    this.#status = status;
    this.#headers = options.headers;
    const body = options.body ?? EMPTY;
    this.#body = typeof body === "string" ? ENCODER.encode(body) : body.slice();
    this.#build();
  }

  /** The whole response, with `Connection: keep-alive` or `Connection: close`. */
  bytes(keepAlive: boolean): Uint8Array {
    if (currentSecond() !== this.#second) this.#build();
    return keepAlive ? this.#keepAlive : this.#close;
  }

  #build(): void {
    const date = refreshDate();
    this.#second = cachedDateSecond();
    const length = this.#body.length;
    this.#keepAlive = concat(
      encodeHead(headText(this.#status, this.#headers, length, true, date)),
      this.#body,
    );
    this.#close = concat(
      encodeHead(headText(this.#status, this.#headers, length, false, date)),
      this.#body,
    );
  }
}
