/**
 * How the server core turns an answer into bytes of a connection's output batch: a prebuilt
 * {@linkcode FixedResponse} (its head alone for HEAD), a response init serialized on the spot
 * (a 500 in its place when it cannot be built), or a rejection of a malformed request; each
 * counted on the connection and written to the access log when there is one.
 *
 * @module
 */

import type { Conn } from "./_connection.ts";
import { accessLogLine } from "./_access_log.ts";
import { CR, DECIMAL, DIGIT_0, EMPTY, ENCODER, LF } from "./_bytes.ts";
import type { OutputBatch } from "./_output_batch.ts";
import { errorResponse, FixedResponse, writeResponseHead } from "./serializer.ts";
import type { HttpRequest, HttpResponse, HttpResponseInit } from "./server_types.ts";

/** The status code's offset in a serialized response (`HTTP/1.1 200 ...`). */
const STATUS_AT = 9;
const INTERNAL_SERVER_ERROR = 500;

/** The answer for a handler that threw or answered something unusable. */
export const SERVER_ERROR: HttpResponseInit = Object.freeze({
  status: INTERNAL_SERVER_ERROR,
  headers: Object.freeze({ "Content-Type": "text/plain; charset=utf-8" }),
  body: "500 Internal Server Error\n",
});

/** The head of a serialized response (for HEAD requests): everything up to CRLF CRLF. */
function headOnly(bytes: Uint8Array): Uint8Array {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR) {
      return bytes.subarray(0, i + 1);
    }
  }
  return bytes;
}

/** The status code of a serialized response (`HTTP/1.1 200 ...`). */
function statusOf(bytes: Uint8Array): number {
  let status = 0;
  for (let i = STATUS_AT; i < STATUS_AT + 3; i++) status = status * DECIMAL + bytes[i]! - DIGIT_0;
  return status;
}

/** Appends responses and rejections to the server's output batch; counts and logs them. */
export class Responder {
  /** Requests rejected (4xx/5xx framing answers), and how many per status. */
  rejected = 0;
  readonly rejectedByStatus: Record<number, number> = {};
  #output: OutputBatch;
  #accessLog: ((line: string) => void) | undefined;
  #report: (error: unknown) => void;

  constructor(
    output: OutputBatch,
    accessLog: ((line: string) => void) | undefined,
    report: (error: unknown) => void,
  ) {
    this.#output = output;
    this.#accessLog = accessLog;
    this.#report = report;
  }

  /** Whether requests are logged (their view must then outlive the batch). */
  get logging(): boolean {
    return this.#accessLog !== undefined;
  }

  /** Appends a response to the batch; false when it could not be built (a 500 replaced it). */
  respond(
    c: Conn,
    response: HttpResponse,
    isHead: boolean,
    keepAlive: boolean,
    request: HttpRequest | null,
  ): boolean {
    let status: number;
    let length: number;
    c.responses++;
    if (response instanceof FixedResponse) {
      const bytes = response.bytes(keepAlive);
      this.#output.append(isHead ? headOnly(bytes) : bytes);
      if (this.#accessLog === undefined) return true;
      status = statusOf(bytes);
      length = bytes.length;
    } else {
      let head: Uint8Array;
      let body: Uint8Array;
      try {
        status = response.status ?? 200;
        const raw = response.body ?? EMPTY;
        body = typeof raw === "string" ? ENCODER.encode(raw) : raw;
        if (status < 200 || status === 204 || status === 304) body = EMPTY;
        head = writeResponseHead(status, response.headers, body.length, keepAlive);
      } catch (error) {
        this.#report(error);
        this.respond(c, SERVER_ERROR, isHead, false, request);
        return false;
      }
      this.#output.append(head);
      if (!isHead && body.length > 0) this.#output.append(body);
      if (this.#accessLog === undefined) return true;
      length = head.length + body.length;
    }
    this.#log(c, request, status, length);
    return true;
  }

  /** Appends the error answer for a request refused with `status`. */
  reject(c: Conn, status: number): void {
    this.rejected++;
    this.rejectedByStatus[status] = (this.rejectedByStatus[status] ?? 0) + 1;
    c.responses++;
    const bytes = errorResponse(status);
    this.#output.append(bytes);
    this.#log(c, null, status, bytes.length);
  }

  #log(c: Conn, request: HttpRequest | null, status: number, length: number): void {
    const log = this.#accessLog;
    if (log === undefined) return;
    try {
      log(accessLogLine(c.fd, request, status, length));
    } catch (error) {
      this.#report(error);
    }
  }
}
