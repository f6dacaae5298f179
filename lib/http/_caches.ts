/**
 * The serializer's per-second caches: the `Date` value, serialized response heads and whole
 * error responses. All three live and die with the second, because every head carries the Date:
 * refreshing the Date empties the other two.
 *
 * @module
 */

import { EMPTY } from "./_bytes.ts";

const MS_PER_SECOND = 1000;

let dateSecond = -1;
let dateValue = "";

/** The current second since the epoch, as the caches count it. */
export function currentSecond(): number {
  return Math.floor(Date.now() / MS_PER_SECOND);
}

/** The second the cached Date value was formatted for. */
export function cachedDateSecond(): number {
  return dateSecond;
}

/** Recomputes the Date value when the second changed; per-second caches are dropped with it. */
export function refreshDate(): string {
  const second = currentSecond();
  if (second !== dateSecond) {
    dateSecond = second;
    // toUTCString() yields IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7).
    dateValue = new Date(second * MS_PER_SECOND).toUTCString();
    headCacheUsed = 0;
    errorCache.clear();
  }
  return dateValue;
}

/**
 * Heads keyed by the identity of their (frozen) header record, their status signed by keep-alive
 * and their content length: a linear scan of a few entries beats hashing for the handful of
 * distinct responses a server sends. Keys sit in one Float64Array so a lookup allocates nothing.
 */
const HEAD_CACHE_SIZE = 32;
/** Two numbers per key: the signed status, the content length. */
const KEY_SLOTS = 2;
const headCacheHeaders: (object | undefined)[] = new Array(HEAD_CACHE_SIZE).fill(undefined);
const headCacheKey = new Float64Array(HEAD_CACHE_SIZE * KEY_SLOTS);
const headCacheValue: Uint8Array[] = new Array(HEAD_CACHE_SIZE).fill(EMPTY);
let headCacheUsed = 0;
let headCacheNext = 0;

/** The cached head for these arguments, or undefined. `key` is the status, negated for close. */
export function findHead(
  headers: object | undefined,
  key: number,
  contentLength: number,
): Uint8Array | undefined {
  for (let i = 0; i < headCacheUsed; i++) {
    if (
      headCacheHeaders[i] === headers && headCacheKey[i * KEY_SLOTS] === key &&
      headCacheKey[i * KEY_SLOTS + 1] === contentLength
    ) {
      return headCacheValue[i]!;
    }
  }
  return undefined;
}

/** Caches a head, replacing the oldest entry once full. */
export function storeHead(
  headers: object | undefined,
  key: number,
  contentLength: number,
  bytes: Uint8Array,
): void {
  const slot = headCacheUsed < HEAD_CACHE_SIZE
    ? headCacheUsed++
    : headCacheNext++ % HEAD_CACHE_SIZE;
  headCacheHeaders[slot] = headers;
  headCacheKey[slot * KEY_SLOTS] = key;
  headCacheKey[slot * KEY_SLOTS + 1] = contentLength;
  headCacheValue[slot] = bytes;
}

const errorCache = new Map<number, Uint8Array>();

/** The cached error response for `status` this second, or undefined. */
export function findError(status: number): Uint8Array | undefined {
  return errorCache.get(status);
}

/** Caches an error response until the second changes. */
export function storeError(status: number, bytes: Uint8Array): void {
  errorCache.set(status, bytes);
}
