/**
 * The `Request` a `serve()` handler gets: a real `Request` (`instanceof Request`, every method
 * and property), built lazily. Method, URL, headers, body and signal come straight from the
 * parsed head; a full `Request` is made only when something needs Deno's own internals (passing
 * the request to `fetch()` or `new Request()`, `clone()`, `formData()`, the rarer properties).
 * Making one per request costs more than a whole keep-alive exchange, so this is how
 * `serve()` keeps the fetch-standard handler cheap.
 *
 * @module
 */

import type { SocketAddress } from "../net/address.ts";
import { sockAddr } from "../net/_sockaddr.ts";
import type { BodyReader } from "./_serve_body.ts";
import type { Conn } from "./_connection.ts";
import { latin1 } from "./_bytes.ts";
import { RequestParser } from "./request_parser.ts";

/** The internal slots of Deno's `Request` (its own symbols), forwarded to the full request. */
const SLOTS = Object.getOwnPropertySymbols(new Request("http://localhost/"));
const DECODER = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** Field lines a head can hold at most under any server limit (the re-parser's table size). */
const MAX_FIELDS = 65_536;
/** Re-parses a copied head when its fields are asked for (off the hot path). */
let headParser: RequestParser | undefined;

/** Bytes kept by {@linkcode keepBytes} are copied into shared slabs of this size. */
const SLAB_BYTES = 64 * 1024;
/** Larger pieces get an allocation of their own. */
const SLAB_PIECE_LIMIT = 4 * 1024;
/** Up to this many bytes, a loop copies faster than `set()` (which needs a view). */
const SHORT_COPY = 96;
const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const HTAB = 0x09;
/** ASCII case folding: a letter OR this is its lowercase. */
const LOWER = 0x20;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/** The array the last {@linkcode stash} copied into. */
export let stashed: Uint8Array = slab;

/**
 * Copies `buf[start, end)` into a shared slab (a bump allocation) and answers its offset there; the array is {@linkcode stashed}. A request head is kept this way
 * for every request, and read only if the handler asks for its headers or URL.
 */
export function stash(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length > SLAB_PIECE_LIMIT) {
    stashed = buf.slice(start, end);
    return 0;
  }
  if (slabUsed + length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const at = slabUsed;
  // A short head is copied faster by a loop than by set() on a fresh subarray view.
  if (length <= SHORT_COPY) {
    for (let i = 0; i < length; i++) slab[at + i] = buf[start + i]!;
  } else {
    slab.set(buf.subarray(start, end), at);
  }
  slabUsed += length;
  stashed = slab;
  return at;
}

/**
 * A copy of `buf[start, end)` that outlives the read buffer, as a view ({@linkcode stash}'s
 * copy): far cheaper for a small piece than `slice()`, an ArrayBuffer of its own each. A slab
 * lives as long as any piece of it is referenced.
 */
export function keepBytes(buf: Uint8Array, start: number, end: number): Uint8Array<ArrayBuffer> {
  const at = stash(buf, start, end);
  return stashed.subarray(at, at + end - start) as Uint8Array<ArrayBuffer>;
}

/**
 * What a {@linkcode ServeHandler} gets beside the request, as `Deno.ServeHandlerInfo`.
 *
 * @example
 * ```ts
 * import type { ServeHandlerInfo } from "./mod.ts";
 *
 * function handler(_request: Request, info: ServeHandlerInfo): Response {
 *   return new Response(`you are ${info.remoteAddr.hostname}\n`);
 * }
 * ```
 */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Resolves once the response has been written in full; rejects if the connection closed first. */
  readonly completed: Promise<void>;
}

/** Told when the client goes away while its handler runs. */
export interface GoneListener {
  gone(): void;
}

/** Where a streamed body comes from: the exchange's reader, once the connection is taken. */
export interface PendingBody {
  reader: Promise<BodyReader>;
  /** The handler gave up on the body (the stream was cancelled). */
  cancel(reason: unknown): void;
}

function concat(pieces: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** A fetch-standard request over one parsed HTTP/1.1 request. */
export class ServeRequest implements GoneListener {
  #method: string;
  #defaultHost: string;
  /** The request head, copied: `#slab[#at, #at + #length)`. */
  #slab: Uint8Array;
  #at: number;
  #length: number;
  #url: string | undefined;
  #headers: Headers | undefined;
  /** A body already complete (copied), or null. */
  #bytes: Uint8Array<ArrayBuffer> | null;
  #pending: PendingBody | null;
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | null | undefined;
  #used = false;
  #controller: AbortController | undefined;
  #gone = false;
  #real: Request | undefined;

  /** `slab[at, at + length)` is the request's head (see {@linkcode stash}). */
  constructor(
    method: string,
    slab: Uint8Array,
    at: number,
    length: number,
    defaultHost: string,
    bytes: Uint8Array<ArrayBuffer> | null,
    pending: PendingBody | null,
  ) {
    this.#method = method;
    this.#slab = slab;
    this.#at = at;
    this.#length = length;
    this.#defaultHost = defaultHost;
    this.#bytes = bytes;
    this.#pending = pending;
  }

  static {
    // Deno's own code reads and writes a Request's internal slots by symbol (fetch(request),
    // new Request(request), the brand check of the getters not overridden here): they are those
    // of the full request, made on first use.
    for (const slot of SLOTS) {
      Object.defineProperty(ServeRequest.prototype, slot, {
        get(this: ServeRequest): unknown {
          return (this.#full() as unknown as Record<symbol, unknown>)[slot];
        },
        set(this: ServeRequest, value: unknown): void {
          (this.#full() as unknown as Record<symbol, unknown>)[slot] = value;
        },
      });
    }
  }

  /** Whether the client went away. */
  get isGone(): boolean {
    return this.#gone;
  }

  /** The client went away: `signal` aborts. */
  gone(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#controller?.abort(new DOMException("the client went away", "AbortError"));
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    if (this.#url !== undefined) return this.#url;
    const target = this.#targetText();
    // origin-form ("/a?b") after the Host; an absolute-form target is the URL itself. The
    // asterisk-form of `OPTIONS *` becomes the path "/*", as Deno.serve gives it.
    this.#url = target.charCodeAt(0) === 0x2f || target === "*"
      ? "http://" + this.#hostText() + (target === "*" ? "/*" : target)
      : target;
    return this.#url;
  }

  /** The request target: after the method and a space, up to the next space. */
  #targetText(): string {
    const slab = this.#slab;
    const start = this.#at + this.#method.length + 1;
    let end = start;
    while (slab[end] !== SP) end++;
    return latin1(slab, start, end);
  }

  /** The first Host field's value (OWS trimmed), or the server's address without one. */
  #hostText(): string {
    const slab = this.#slab;
    const end = this.#at + this.#length;
    let i = this.#at;
    while (i < end) {
      while (i < end && slab[i] !== LF) i++;
      i++; // the start of a field line
      if (
        i + 5 < end && (slab[i]! | LOWER) === 0x68 && (slab[i + 1]! | LOWER) === 0x6f &&
        (slab[i + 2]! | LOWER) === 0x73 && (slab[i + 3]! | LOWER) === 0x74 &&
        slab[i + 4] === COLON
      ) {
        let from = i + 5;
        while (slab[from] === SP || slab[from] === HTAB) from++;
        let to = from;
        while (slab[to] !== CR && slab[to] !== LF) to++;
        while (to > from && (slab[to - 1] === SP || slab[to - 1] === HTAB)) to--;
        return latin1(slab, from, to);
      }
    }
    return this.#defaultHost;
  }

  get headers(): Headers {
    if (this.#real !== undefined) return this.#real.headers;
    if (this.#headers !== undefined) return this.#headers;
    const parser = headParser ??= new RequestParser({
      // The head was accepted under the server's limits already; these only must not be lower.
      maxHeaderBytes: Number.MAX_SAFE_INTEGER,
      maxHeaders: MAX_FIELDS,
      maxUrlBytes: Number.MAX_SAFE_INTEGER,
      maxBodyBytes: Number.MAX_SAFE_INTEGER,
    });
    parser.reset();
    parser.parse(this.#slab, this.#at, this.#at + this.#length);
    const headers = new Headers();
    for (const [name, value] of parser.headers()) headers.append(name, value);
    parser.reset();
    return this.#headers = headers;
  }

  get signal(): AbortSignal {
    if (this.#real !== undefined) return this.#real.signal;
    const controller = this.#controller ??= new AbortController();
    if (this.#gone && !controller.signal.aborted) {
      controller.abort(new DOMException("the client went away", "AbortError"));
    }
    return controller.signal;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#real !== undefined) return this.#real.body as ReadableStream<Uint8Array<ArrayBuffer>>;
    if (this.#stream !== undefined) return this.#stream;
    return this.#stream = this.#makeStream();
  }

  get bodyUsed(): boolean {
    if (this.#real !== undefined) return this.#real.bodyUsed;
    return this.#used || (this.#stream?.locked ?? false);
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#real !== undefined) return await this.#real.bytes();
    if (this.bodyUsed) throw new TypeError("Body already consumed");
    this.#used = true;
    // A complete body, and no stream made of it: the bytes themselves.
    if (this.#pending === null && this.#stream === undefined) {
      return this.#bytes ?? new Uint8Array(0);
    }
    const stream = this.body;
    if (stream === null) return new Uint8Array(0);
    const pieces: Uint8Array[] = [];
    let total = 0;
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pieces.push(value);
      total += value.length;
    }
    return pieces.length === 1 && pieces[0]!.byteOffset === 0 &&
        pieces[0]!.byteLength === pieces[0]!.buffer.byteLength
      ? pieces[0] as Uint8Array<ArrayBuffer>
      : concat(pieces, total);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes.buffer
      : bytes.slice().buffer;
  }

  async text(): Promise<string> {
    return DECODER.decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async blob(): Promise<Blob> {
    const type = this.headers.get("content-type") ?? "";
    return new Blob([await this.bytes()], { type });
  }

  formData(): Promise<FormData> {
    return this.#full().formData();
  }

  clone(): Request {
    return this.#full().clone();
  }

  #makeStream(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    const pending = this.#pending;
    if (pending === null) {
      const bytes = this.#bytes;
      if (bytes === null || bytes.length === 0) return null;
      return new ReadableStream({
        type: "bytes",
        start(controller): void {
          controller.enqueue(bytes);
          controller.close();
        },
      }) as ReadableStream<Uint8Array<ArrayBuffer>>;
    }
    return new ReadableStream({
      type: "bytes",
      async pull(controller): Promise<void> {
        const reader = await pending.reader;
        let chunk: Uint8Array | null;
        try {
          chunk = await reader.next();
        } catch (error) {
          controller.error(error);
          return;
        }
        if (chunk === null) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
      },
      cancel(reason): void {
        pending.cancel(reason);
      },
    }) as ReadableStream<Uint8Array<ArrayBuffer>>;
  }

  /** The full Request, made once; from then on every property is the full request's. */
  #full(): Request {
    if (this.#real !== undefined) return this.#real;
    const method = this.#method;
    const bodyless = method === "GET" || method === "HEAD";
    let body: BodyInit | null = null;
    if (!bodyless) {
      if (this.#used) throw new TypeError("Body already consumed");
      body = this.body;
      if (body === null) body = EMPTY;
    }
    const init: RequestInit & { duplex?: string } = {
      method,
      headers: this.headers,
      body,
      signal: this.signal,
    };
    if (body instanceof ReadableStream) init.duplex = "half";
    this.#real = new Request(this.url, init);
    return this.#real;
  }
}

/** `info` of one request: the address and `completed`, both made only when asked for. */
export class Info implements ServeHandlerInfo {
  #c: Conn;
  #seq: number;
  #addr: SocketAddress | undefined;
  #completed: Promise<void> | undefined;

  constructor(c: Conn, seq: number) {
    this.#c = c;
    this.#seq = seq;
  }

  get remoteAddr(): Deno.NetAddr {
    if (this.#addr !== undefined) return this.#addr;
    const c = this.#c;
    if (c.fd < 0) throw new Deno.errors.NotConnected("the connection is closed");
    return this.#addr = sockAddr(c.stream !== null ? c.stream.fd : c.fd, true);
  }

  get completed(): Promise<void> {
    if (this.#completed !== undefined) return this.#completed;
    const c = this.#c;
    const seq = this.#seq;
    const closed = () => new Deno.errors.ConnectionReset("the connection closed first");
    let promise: Promise<void>;
    if (c.written > seq) {
      promise = Promise.resolve();
    } else if (c.fd < 0) {
      promise = Promise.reject(closed());
    } else {
      promise = new Promise<void>((resolve, reject) => {
        (c.onWritten ??= []).push((ok) => {
          if (!ok) reject(closed());
          else if (c.written > seq) resolve();
          else return false;
          return true;
        });
      });
    }
    // Never an unhandled rejection for a handler that does not await it.
    promise.catch(() => {});
    return this.#completed = promise;
  }
}

/** The request body of one exchange, until its connection is taken. */
export class Exchange implements PendingBody {
  reader: Promise<BodyReader>;
  resolve!: (reader: BodyReader) => void;
  cancelled = false;

  constructor() {
    this.reader = new Promise((resolve) => this.resolve = resolve);
  }

  cancel(): void {
    this.cancelled = true;
  }
}
