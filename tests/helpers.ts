/**
 * Shared test helpers: the process's open-fd count and a connected loopback TCP pair.
 * Kept small and stable: other test files import these.
 *
 * @module
 */

import { TcpListener, TcpStream } from "../mod.ts";

/** The number of descriptors this process has open right now (entries of /proc/self/fd). */
export function fdCount(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  // readDirSync holds one fd open for the directory while iterating; it is closed by now, so the
  // count includes it: subtract it so before/after comparisons see only real descriptors.
  return n - 1;
}

/** A connected loopback pair with the listener that accepted it. */
export interface TcpPair {
  /** The connecting side. */
  client: TcpStream;
  /** The accepted side. */
  server: TcpStream;
  /** The listener (still open; closed by disposal). */
  listener: TcpListener;
  /** Closes client, server and listener (each once; already-closed ones are skipped). */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Opens a listener on 127.0.0.1 (or ::1 with `ipv6`) port 0, connects to it and accepts:
 * `await using pair = await tcpPair();`.
 */
export async function tcpPair(opts: { ipv6?: boolean } = {}): Promise<TcpPair> {
  const hostname = opts.ipv6 ? "::1" : "127.0.0.1";
  const listener = TcpListener.bind({ hostname, port: 0 });
  let client: TcpStream | undefined;
  try {
    client = await TcpStream.connect({ hostname, port: listener.addr.port });
    const server = await listener.accept();
    const c = client;
    return {
      client: c,
      server,
      listener,
      [Symbol.asyncDispose](): Promise<void> {
        c.close();
        server.close();
        listener.close();
        return Promise.resolve();
      },
    };
  } catch (e) {
    client?.close();
    listener.close();
    throw e;
  }
}
