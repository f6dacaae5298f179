/**
 * One access-log line per response, for `ServeHttpOptions.accessLog`. Off by default: each line
 * costs a getpeername and a string.
 *
 * @module
 */

import { sockAddr } from "../net/_sockaddr.ts";

/** What a log line prints of a request; an async handler's line outlives the request view. */
export interface LoggedRequest {
  readonly method: string;
  readonly target: string;
  readonly version: number;
}

/** `host:port` of the peer on `fd`, or `-` when it is gone. */
function peerName(fd: number): string {
  try {
    const a = sockAddr(fd, true);
    return `${a.hostname}:${a.port}`;
  } catch {
    return "-"; // ENOTCONN: the peer is gone
  }
}

/**
 * `peer "METHOD target HTTP/1.x" status length`, or `peer - status length` for a reply the
 * server wrote without a request (a parse error, a timeout).
 */
export function accessLogLine(
  fd: number,
  request: LoggedRequest | null,
  status: number,
  length: number,
): string {
  const peer = peerName(fd);
  return request === null
    ? `${peer} - ${status} ${length}`
    : `${peer} "${request.method} ${request.target} HTTP/${
      request.version === 1 ? "1.0" : "1.1"
    }" ${status} ${length}`;
}
