/**
 * netio: Linux network syscalls for Deno, through libc and `Deno.dlopen`. Owned TCP sockets,
 * typed socket options and TCP_INFO, an epoll reactor living inside Deno's event loop,
 * zero-copy transfers (sendfile, splice, writev) and a connection pool.
 *
 * Needs Linux and `--allow-ffi`; network calls also check `--allow-net`, file access
 * `--allow-read`, exactly as Deno's own APIs would.
 *
 * @example
 * ```ts
 * import { TcpListener, TcpStream } from "./mod.ts";
 *
 * using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
 * using client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * using server = await listener.accept();
 * client.setNoDelay(true);
 * await client.writeAll(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(5);
 * await server.read(buf);
 * console.log(new TextDecoder().decode(buf), client.tcpInfo().rttUs);
 * ```
 *
 * @module
 */

export { ErrnoError } from "./ffi/errno.ts";
export {
  BusyError,
  ClosedError,
  type ConnectOptions,
  type KeepAlive,
  type Linger,
  type ListenerStats,
  type ListenOptions,
  type ReadinessOptions,
  type SocketAddress,
  type TcpInfo,
  TcpListener,
  TcpStream,
  tune,
  type TuneChange,
  type TuneSettings,
  type WaitOptions,
  writev,
  type WritevOptions,
  type WritevTarget,
} from "./lib/net/mod.ts";
export {
  type BackendInfo,
  type BackendName,
  type DataCallback,
  DEFAULT_TURN_BUDGET,
  DEFAULT_YIELD_INTERVAL_MS,
  Interest,
  interestToEpoll,
  type ParkingDesign,
  Reactor,
  type ReactorOptions,
  type ReactorStats,
  readinessFromEpoll,
  Ready,
  type ReadyCallback,
  type RegisterOptions,
  Registration,
  type SentCallback,
} from "./lib/reactor/mod.ts";
export {
  BUDGET_UNIT_BYTES,
  closeIdlePipes,
  FileHandle,
  FileRoot,
  openFile,
  openRoot,
  type OpenRootOptions,
  proxy,
  type ProxyOptions,
  type ProxyResult,
  type RootDirEntry,
  type RootMethod,
  type RootStat,
  sendFile,
  type SendFileOptions,
  splice,
  type SpliceOptions,
  type TransferStats,
  transferStats,
} from "./lib/transfer/mod.ts";
export {
  type AcquireOptions,
  ConnectionPool,
  type HostStats,
  type LeakReport,
  Lease,
  PoolClosedError,
  PoolError,
  type PoolErrorCode,
  PoolFullError,
  type PoolOptions,
  type PoolStats,
  type PoolTarget,
  PoolTimeoutError,
  type PoolTimeoutErrorOptions,
} from "./lib/pool/mod.ts";
export {
  contentTypeOf,
  FixedResponse,
  type HeaderList,
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  type HttpResponseInit,
  type HttpServer,
  type HttpServerStats,
  type RequestParserOptions,
  serve,
  serveFile,
  type ServeFileOptions,
  type ServeHandler,
  type ServeHandlerInfo,
  serveHttp,
  type ServeHttpOptions,
  type ServeOptions,
  type ShutdownOptions,
  type Upgrade,
  upgrade,
  type UpgradeOptions,
} from "./lib/http/mod.ts";
