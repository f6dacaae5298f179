/**
 * netio echo server for the reactor comparison: every connection echoes what it reads, written
 * the way a user would write it with netio's async API (`read` / `writeAll`).
 *
 * ```sh
 * deno run --allow-ffi --allow-net bench/load/servers/echo_netio.ts --port 0
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { TcpListener, type TcpStream } from "../../../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
  },
});

async function serve(conn: TcpStream): Promise<void> {
  const buf = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      await conn.writeAll(buf.subarray(0, n));
    }
  } catch {
    // a reset peer ends the connection
  } finally {
    conn.close();
  }
}

const listener = TcpListener.bind({ hostname: values.host, port: Number(values.port) });
console.log(`listening on ${listener.addr.port}`);
for await (const conn of listener) {
  conn.setNoDelay(true);
  serve(conn);
}
