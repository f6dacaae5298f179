/**
 * HTTP/1.1 over netio: byte-level request and response parsers, a response serializer with
 * per-second caches, and {@linkcode serveHttp}, the epoll keep-alive server core.
 *
 * Parsers work on a `Uint8Array` window `[start, end)` of the caller's connection buffer and never
 * copy the head: a parsed request or response is a set of offsets into that buffer, and strings
 * are only decoded when asked for. Errors are values: `parse()` returns {@link PARSE_ERROR} and the
 * parser tells which status to send; every error means the connection must be closed.
 *
 * @example Parse a pipelined batch and answer each request
 * ```ts
 * import assert from "node:assert/strict";
 * import { FixedResponse, PARSE_ERROR, RequestParser } from "./mod.ts";
 *
 * const hello = new FixedResponse(200, { body: "Hello, World!" });
 * const parser = new RequestParser();
 * const buf = new TextEncoder().encode(
 *   "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
 * );
 * let start = 0;
 * const paths: string[] = [];
 * for (;;) {
 *   const n = parser.parse(buf, start, buf.length);
 *   if (n === PARSE_ERROR || n === 0) break;
 *   paths.push(parser.target);
 *   assert(hello.bytes(parser.keepAlive).length > 0);
 *   start += n;
 * }
 * assert.deepEqual(paths, ["/", "/b"]);
 * ```
 *
 * @module
 */

export { INCOMPLETE, PARSE_ERROR } from "./_parser_base.ts";
export { RequestParser, type RequestParserOptions } from "./request_parser.ts";
export { ResponseParser, type ResponseParserOptions } from "./response_parser.ts";
export { statusText } from "./status.ts";
export {
  CONTINUE_RESPONSE,
  errorResponse,
  FixedResponse,
  type FixedResponseOptions,
  type HeaderList,
  httpDate,
  writeResponseHead,
} from "./serializer.ts";
export type {
  HttpHandler,
  HttpRequest,
  HttpResponse,
  HttpResponseInit,
  HttpServer,
  HttpServerStats,
  ServeHttpOptions,
  ShutdownOptions,
} from "./server_types.ts";
export { serveHttp } from "./server.ts";
export { serve, type ServeHandler, type ServeHandlerInfo, type ServeOptions } from "./serve.ts";
export { type Upgrade, upgrade, type UpgradeOptions } from "./upgrade.ts";
export { contentTypeOf, serveFile, type ServeFileOptions } from "./serve_file.ts";
