/**
 * Moved to lib/http/server.ts; this path re-exports what it used to export until every importer
 * uses lib/http/mod.ts.
 *
 * @module
 */

export {
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  type HttpResponseInit,
  type HttpServer,
  type HttpServerStats,
  serveHttp,
  type ServeHttpOptions,
  type ShutdownOptions,
} from "./http/mod.ts";
