/**
 * Moved to lib/http/ (parsers, serializer); this path re-exports what it used to export until
 * every importer uses lib/http/mod.ts.
 *
 * @module
 */

export {
  CONTINUE_RESPONSE,
  errorResponse,
  FixedResponse,
  type FixedResponseOptions,
  type HeaderList,
  httpDate,
  INCOMPLETE,
  PARSE_ERROR,
  RequestParser,
  type RequestParserOptions,
  ResponseParser,
  type ResponseParserOptions,
  statusText,
  writeResponseHead,
} from "./http/mod.ts";
