/**
 * The way a request handler takes a connection for itself (the fetch-standard `serve()` uses
 * it for streamed request and response bodies, file responses and upgrades): the core
 * deregisters the descriptor, wraps it in a {@linkcode TcpStream}, and waits. The takeover
 * answers with the bytes it read past its exchange (the core takes the descriptor back and
 * serves them as the next requests), `undefined` once it closed the stream or handed it on, or
 * `null` when the exchange failed.
 *
 * @module
 */

import type { TcpStream } from "../net/stream.ts";
import type { Conn } from "./_connection.ts";
import type { RequestParser } from "./request_parser.ts";
import type { HttpResponse } from "./server_types.ts";

/** The brand of a takeover among a handler's answers. */
export const TAKEOVER: unique symbol = Symbol("netio.takeover");

/** What a core handler may answer instead of a response. */
export interface Takeover {
  /**
   * Runs the exchange on `stream`. `input` holds bytes already read from the connection that
   * belong to this exchange (the start of a request body). Resolves with the bytes read past
   * the exchange (the connection serves on), `undefined` when the takeover closed the stream or
   * handed it on after a complete exchange, or `null` when the exchange failed (the server
   * closes the connection). Should not reject.
   */
  readonly [TAKEOVER]: (
    stream: TcpStream,
    input: Uint8Array,
  ) => Promise<Uint8Array | null | undefined>;
}

/** Whether a handler's answer is a takeover. */
export function isTakeover(value: unknown): value is Takeover {
  return typeof value === "object" && value !== null && TAKEOVER in value;
}

/** Whether a handler answered with a promise (a thenable). */
export function isPromise(value: unknown): value is Promise<HttpResponse | Takeover> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** What a core handler answers: a response, a takeover of the connection, or a promise of one. */
export type CoreAnswer = HttpResponse | Takeover | Promise<HttpResponse | Takeover>;

/**
 * How `serve()` drives the core instead of a plain {@linkcode HttpHandler}: it sees the
 * connection, and is called as soon as a request's head is complete when its body has not all
 * arrived (`bodyPending`), so the body can stream; it must then answer with a takeover.
 */
export interface CoreHooks {
  /** `buf[start, start + request.headLength)` is the request's head. */
  handle(
    request: RequestParser,
    c: Conn,
    bodyPending: boolean,
    buf: Uint8Array,
    start: number,
  ): CoreAnswer;
}
