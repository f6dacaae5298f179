/**
 * The health check of an idle connection, one syscall (undici's idle-socket validation).
 *
 * @module
 */

import { MSG_DONTWAIT, MSG_PEEK } from "../../ffi/constants.ts";
import { EAGAIN, EINTR } from "../../ffi/errno.ts";
import { sysRecv } from "../../ffi/libc.ts";
import type { TcpStream } from "../net/mod.ts";

/** One byte is enough to tell "nothing pending" from "something pending"; it is never consumed. */
const peekBuffer = new Uint8Array(1);

/**
 * Whether an idle connection is still usable: recv(MSG_PEEK|MSG_DONTWAIT) of one byte.
 * EAGAIN: nothing pending, usable. 0: the peer sent FIN. > 0: unsolicited bytes (the peer is out
 * of step with us, e.g. an HTTP server's 408 before it closes). < 0: a reset or another socket
 * error. tcp_recvmsg reports a pending socket error (sk_err, and clears it) before it would
 * return EAGAIN, so a separate SO_ERROR read here would cost a second syscall and tell nothing
 * new; SO_ERROR's only extra, the "soft" ICMP error of a still-live connection, is no reason to
 * drop it.
 *
 * @example
 * ```ts
 * import { isUsableWhenIdle } from "./_health.ts";
 * import { TcpListener, TcpStream } from "../../mod.ts";
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using _server = await listener.accept();
 * console.log(isUsableWhenIdle(client)); // true
 * ```
 */
export function isUsableWhenIdle(stream: TcpStream): boolean {
  // Stryker disable next-line BooleanLiteral,ConditionalExpression: equivalent, check-in discards closed streams, so no idle one is closed here (and a closed fd's peek fails: false either way)
  if (stream.closed) return false;
  const fd = stream.fd;
  for (;;) {
    const r = sysRecv(fd, peekBuffer, MSG_PEEK | MSG_DONTWAIT);
    if (r === -EAGAIN) return true;
    // EINTR: a signal landed mid-call; ask again. Anything else is FIN, bytes or an error.
    if (r !== -EINTR) return false;
  }
}
