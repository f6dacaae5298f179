/**
 * The local or peer address of a socket (getsockname/getpeername), through one preallocated
 * sockaddr buffer.
 *
 * @module
 */

import { fail, sysGetpeername, sysGetsockname } from "../../ffi/libc.ts";
import { IntCell, SOCKADDR_STORAGE_SIZE } from "../../ffi/structs.ts";
import { decodeSocketAddress, type SocketAddress } from "./address.ts";

const addrBuf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const addrLen = new IntCell();

/** getsockname (or getpeername with `peer`) of `fd`, decoded. */
export function sockAddr(fd: number, peer: boolean): SocketAddress {
  addrLen.value = SOCKADDR_STORAGE_SIZE; // socklen_t in, the address's real length out
  const r = peer
    ? sysGetpeername(fd, addrBuf, addrLen.bytes)
    : sysGetsockname(fd, addrBuf, addrLen.bytes);
  if (r < 0) throw fail(r, peer ? "getpeername" : "getsockname");
  const a = decodeSocketAddress(addrBuf);
  if (!a) throw new TypeError("unexpected address family");
  return a;
}
