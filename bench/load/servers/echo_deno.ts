/**
 * Deno built-in echo server (`Deno.listen`) for the reactor comparison: the peer of
 * `echo_netio.ts`, written the same way.
 *
 * ```sh
 * deno run --allow-net bench/load/servers/echo_deno.ts --port 0
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
  },
});

async function serve(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } catch {
    // a reset peer ends the connection
  } finally {
    conn.close();
  }
}

const listener = Deno.listen({ hostname: values.host, port: Number(values.port) });
console.log(`listening on ${listener.addr.port}`);
for await (const conn of listener) {
  conn.setNoDelay(true);
  serve(conn);
}
