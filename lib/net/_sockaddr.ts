/**
 * The local or peer address of a socket (getsockname/getpeername), through one preallocated
 * sockaddr buffer.
 *
 * @module
 */

import { fail, sysGetpeername, sysGetsockname } from "../../ffi/libc.ts";
import { SOCKADDR_STORAGE_SIZE } from "../../ffi/structs.ts";
import { decodeSocketAddress, type SocketAddress } from "./address.ts";

const addrBuf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const addrLenBuf = new Uint8Array(4);
const addrLenView = new DataView(addrLenBuf.buffer);

/** getsockname (or getpeername with `peer`) of `fd`, decoded. */
export function sockAddr(fd: number, peer: boolean): SocketAddress {
  addrLenView.setUint32(0, SOCKADDR_STORAGE_SIZE, true);
  const r = peer
    ? sysGetpeername(fd, addrBuf, addrLenBuf)
    : sysGetsockname(fd, addrBuf, addrLenBuf);
  if (r < 0) throw fail(r, peer ? "getpeername" : "getsockname");
  const a = decodeSocketAddress(addrBuf);
  if (!a) throw new TypeError("unexpected address family");
  return a;
}
