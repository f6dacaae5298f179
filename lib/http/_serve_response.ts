/**
 * Reading a fetch-standard `Response` for the wire: status, header pairs, and the body as one
 * of: static bytes (sent with Content-Length in the same batch as other responses), a file
 * range (sent by sendfile), an upgrade, or a stream.
 *
 * A `Response` made from a string or bytes keeps them in Deno's internal slots; reading them
 * there costs nothing, where the public way (`await response.bytes()`) costs a stream, promises
 * and a copy per response. The slots are found by their symbol descriptions and checked at load
 * against responses of known content: if Deno ever changes them, every body takes the public
 * path (correct, slower), never a wrong one.
 *
 * @module
 */

import type { FileHandle } from "../transfer/file.ts";
import type { TcpStream } from "../net/stream.ts";
import type { HeaderList } from "./serializer.ts";

/** Content types kept as shared frozen header records. */
const TYPE_CACHE_SIZE = 64;

/** A file range registered by `serveFile()` for its response. */
export interface FileBody {
  handle: FileHandle;
  /** Whether the response owns the handle (closes it once sent or dropped). */
  owned: boolean;
  offset: number;
  length: number;
}

/** An upgrade registered by `upgrade()` for its response. */
export interface UpgradeBody {
  headers: [string, string][];
  resolve(stream: TcpStream): void;
  reject(error: unknown): void;
}

/** Responses made by `serveFile()`: netio sends their range by sendfile. */
const fileBodies: WeakMap<Response, FileBody> = new WeakMap();

/** Closes the owned file of a response dropped without being sent or read. */
const dropped = new FinalizationRegistry<FileHandle>((handle) => handle.close());

/** Marks `response` as a file range for netio's serve() (by `serveFile()`). */
export function setFileBody(response: Response, body: FileBody): void {
  fileBodies.set(response, body);
  if (body.owned) dropped.register(response, body.handle, response);
}

/**
 * The file range of a response, taken over by the caller (who closes an owned handle once
 * sent): the response may now be collected without closing the file under the transfer.
 */
export function takeFileBody(response: Response): FileBody | undefined {
  const body = fileBodies.get(response);
  if (body === undefined) return undefined;
  fileBodies.delete(response);
  dropped.unregister(response);
  return body;
}
/** Responses made by `upgrade()`: netio answers 101 and hands the connection over. */
export const upgrades: WeakMap<Response, UpgradeBody> = new WeakMap();

interface InnerBody {
  streamOrStatic?: { body?: unknown; consumed?: boolean } | ReadableStream;
  length?: number | null;
}
interface InnerResponse {
  status: number;
  headerList: [string, string][];
  body: InnerBody | null;
}

function findSlot(value: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(value).find((s) => s.description === description);
}

const probe = new Response("probe", { status: 201, headers: { "x-probe": "1" } });
const RESPONSE = findSlot(probe, "response");
const HEADERS = findSlot(probe, "headers");
const LAZY_BODY = findSlot(probe, "lazy static body");
const LAZY_TYPE = findSlot(probe, "lazy static content type");
/** The Content-Type Deno gives a string body. */
const TEXT_TYPE = new Response("x").headers.get("content-type");

function inner(response: Response): InnerResponse | undefined {
  return RESPONSE === undefined
    ? undefined
    : (response as unknown as Record<symbol, InnerResponse | undefined>)[RESPONSE];
}

function sameBytes(value: unknown, bytes: Uint8Array): boolean {
  return value instanceof Uint8Array && value.length === bytes.length &&
    value.every((b, i) => b === bytes[i]);
}

/** Whether the internal slots look as expected on responses of known content. */
function slotsWork(): boolean {
  try {
    const text = inner(probe);
    const bytes = new Uint8Array([1, 2, 3]);
    const binary = inner(new Response(bytes));
    const empty = inner(new Response(null, { status: 204 }));
    const textStatic = text?.body?.streamOrStatic as { body?: unknown; consumed?: boolean };
    const binaryStatic = binary?.body?.streamOrStatic as { body?: unknown; consumed?: boolean };
    return text !== undefined && text.status === 201 && Array.isArray(text.headerList) &&
      text.headerList.some(([n, v]) => n === "x-probe" && v === "1") &&
      textStatic?.body === "probe" && textStatic.consumed === false &&
      sameBytes(binaryStatic?.body, bytes) && empty !== undefined && empty.body === null &&
      empty.status === 204 && HEADERS !== undefined && lazySlotsWork();
  } catch {
    return false;
  }
}

/**
 * Deno keeps the body of `new Response(string)` and `Response.json()` aside until the response
 * is looked at ("lazy static body"): checked here against what the public API then shows.
 */
function lazySlotsWork(): boolean {
  if (LAZY_BODY === undefined || LAZY_TYPE === undefined || TEXT_TYPE === null) return false;
  const text = new Response("lazy") as unknown as Record<symbol, unknown>;
  const json = Response.json({ a: 1 }) as unknown as Record<symbol, unknown>;
  const touched = new Response("lazy");
  const touchedType = touched.headers.get("content-type");
  const touchedSlots = touched as unknown as Record<symbol, unknown>;
  const publicJson = Response.json({ a: 1 });
  return text[LAZY_BODY] === "lazy" && text[LAZY_TYPE] == null &&
    inner(text as unknown as Response)?.body === null &&
    json[LAZY_BODY] === '{"a":1}' &&
    json[LAZY_TYPE] === publicJson.headers.get("content-type") &&
    touchedType === TEXT_TYPE && touchedSlots[LAZY_BODY] == null;
}

const SLOTS_WORK = slotsWork();
/** For tests: whether static bodies are read from Deno's slots on this Deno version. */
export let useSlots: boolean = SLOTS_WORK;

/** For tests: force the public path (false), or the slots where they work (true). */
export function setUseSlots(on: boolean): void {
  useSlots = on && SLOTS_WORK;
}

const byType = new Map<string, HeaderList>();

/** `{ "content-type": type }`, frozen and shared (writeResponseHead caches heads by identity). */
function typeHeaders(type: string): HeaderList {
  let headers = byType.get(type);
  if (headers === undefined) {
    headers = Object.freeze({ "content-type": type });
    if (byType.size < TYPE_CACHE_SIZE) byType.set(type, headers);
  }
  return headers;
}

/** A Headers object as pairs (Set-Cookie values kept apart, as iteration gives them). */
export function headerPairs(headers: Headers): [string, string][] {
  const pairs: [string, string][] = [];
  for (const pair of headers) pairs.push(pair);
  return pairs;
}

function hasContentType(pairs: [string, string][]): boolean {
  return pairs.some(([name]) => name.length === 12 && name.toLowerCase() === "content-type");
}

/** A response whose body is known now: status, header pairs, body. */
export interface StaticParts {
  status: number;
  /** Pairs, or a frozen record (cacheable) when Deno kept only the content type aside. */
  headers: HeaderList;
  body: string | Uint8Array | null;
}

/**
 * The parts of a response with a static body (a string, bytes or none), read from Deno's slots
 * and marking the body used; undefined when the body is a stream (or the slots are not usable).
 */
export function staticParts(response: Response): StaticParts | undefined {
  if (!useSlots) return undefined;
  const r = inner(response);
  if (r === undefined) return undefined;
  const slots = response as unknown as Record<symbol, unknown>;
  const untouched = slots[HEADERS!] == null;
  const lazy = slots[LAZY_BODY!];
  if (lazy != null) {
    // `new Response(string)` or `Response.json()` nobody has looked at: the body and its type
    // are kept aside (Deno.serve's own fast path), the header list is the init's.
    if (!untouched || (typeof lazy !== "string" && !(lazy instanceof Uint8Array))) return undefined;
    const type = (slots[LAZY_TYPE!] as string | null) ??
      (typeof lazy === "string" ? TEXT_TYPE : null);
    let headers: HeaderList = r.headerList;
    if (type !== null) {
      // The common case, a body and its type only: a frozen record, so the head is cached.
      headers = r.headerList.length === 0
        ? typeHeaders(type)
        : [...r.headerList, ["content-type", type]];
    }
    return { status: r.status, headers, body: lazy };
  }
  // Headers the handler has touched as an object are read through it.
  let headers = untouched ? r.headerList : headerPairs(response.headers);
  // A Content-Type given alone in the init (`{ headers: { "content-type": ... } }`) is kept
  // aside too, out of the header list, while the body stays in place.
  const asideType = slots[LAZY_TYPE!];
  if (untouched && typeof asideType === "string" && !hasContentType(headers)) {
    headers = [...headers, ["content-type", asideType]];
  }
  const body = r.body;
  if (body === null) return { status: r.status, headers, body: null };
  const source = body.streamOrStatic;
  if (source === undefined || source instanceof ReadableStream) return undefined;
  if (source.consumed !== false) return undefined;
  const value = source.body;
  if (typeof value !== "string" && !(value instanceof Uint8Array)) return undefined;
  source.consumed = true;
  return { status: r.status, headers, body: value };
}
