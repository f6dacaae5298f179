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
export const fileBodies: WeakMap<Response, FileBody> = new WeakMap();
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

function inner(response: Response): InnerResponse | undefined {
  return RESPONSE === undefined
    ? undefined
    : (response as unknown as Record<symbol, InnerResponse | undefined>)[RESPONSE];
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
      binaryStatic?.body === bytes && empty !== undefined && empty.body === null &&
      empty.status === 204 && HEADERS !== undefined;
  } catch {
    return false;
  }
}

const SLOTS_WORK = slotsWork();
/** For tests: whether static bodies are read from Deno's slots on this Deno version. */
export let useSlots: boolean = SLOTS_WORK;

/** For tests: force the public path (false), or the slots where they work (true). */
export function setUseSlots(on: boolean): void {
  useSlots = on && SLOTS_WORK;
}

/** A Headers object as pairs (Set-Cookie values kept apart, as iteration gives them). */
export function headerPairs(headers: Headers): [string, string][] {
  const pairs: [string, string][] = [];
  for (const pair of headers) pairs.push(pair);
  return pairs;
}

/** A response whose body is known now: status, header pairs, body. */
export interface StaticParts {
  status: number;
  headers: [string, string][];
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
  // A lazily built body (Response.json): the public path.
  if (LAZY_BODY !== undefined && slots[LAZY_BODY] != null) return undefined;
  // Headers the handler has touched as an object are read through it.
  const headers = slots[HEADERS!] == null ? r.headerList : headerPairs(response.headers);
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
