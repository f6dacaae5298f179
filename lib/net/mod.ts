/**
 * Owned TCP sockets ({@linkcode TcpListener}, {@linkcode TcpStream}), their options table and
 * TCP_INFO, the one write module, addresses and the owned descriptor. Re-exports only.
 *
 * @module
 */

export { type SocketAddress } from "./address.ts";
export { ClosedError } from "./fd.ts";
export { type ListenerStats, type ListenOptions, TcpListener } from "./listener.ts";
export type { KeepAlive, Linger, TcpInfo, TuneChange, TuneSettings } from "./options.ts";
export { BusyError } from "./readiness.ts";
export {
  type ConnectOptions,
  type ReadinessOptions,
  TcpStream,
  tune,
  type WaitOptions,
} from "./stream.ts";
export { writev, type WritevOptions, type WritevTarget } from "./write.ts";
