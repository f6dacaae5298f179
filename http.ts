/**
 * `@netio/netio/http`: the HTTP/1.1 pieces behind {@linkcode serveHttp}, for programs that build
 * their own server or client loop: the incremental {@linkcode RequestParser} and
 * {@linkcode ResponseParser}, the response serializer, status texts and the server core.
 *
 * @example
 * ```ts
 * import { INCOMPLETE, RequestParser } from "./http.ts";
 *
 * const parser = new RequestParser();
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
 * const end = parser.parse(bytes, 0, bytes.length);
 * console.log(end !== INCOMPLETE, parser.method); // true "GET"
 * ```
 *
 * @module
 */

export * from "./lib/http/mod.ts";
