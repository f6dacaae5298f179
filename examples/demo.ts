/**
 * A short tour of netio, end to end on loopback: an owned TCP pair with typed options and
 * TCP_INFO, the reactor's counters, a writev, a sendfile, a splice proxy, the connection pool and
 * the epoll HTTP server. `deno task demo` runs it; it exits by itself.
 *
 * ```sh
 * deno run --allow-ffi --allow-net --allow-read --allow-write examples/demo.ts
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { installCliErrors } from "./_cli.ts";
import {
  ConnectionPool,
  proxy,
  Reactor,
  sendFile,
  serveHttp,
  TcpListener,
  TcpStream,
} from "../mod.ts";

const usage =
  "usage: deno run --allow-ffi --allow-net --allow-read --allow-write examples/demo.ts\n" +
  "A tour of netio on loopback: sockets and options, TCP_INFO, writev, sendfile, splice\n" +
  "proxy, the connection pool and the HTTP server. Exits by itself.";
installCliErrors(usage);
const { values } = parseArgs({
  args: Deno.args,
  options: { help: { type: "boolean", short: "h", default: false } },
});
if (values.help) {
  console.log(usage);
  Deno.exit(0);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const step = (title: string): void => console.log(`\n== ${title}`);

async function readExactly(stream: TcpStream, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await stream.read(out.subarray(got));
    if (r === null) throw new Error("unexpected EOF");
    got += r;
  }
  return out;
}

step("1. An owned TCP pair, typed options, TCP_INFO");
using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const client = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const server = await listener.accept();
console.log(`connected ${client.localAddr.port} -> ${client.remoteAddr.port}`);
for (
  const c of client.tune({ noDelay: true, sendBufferSize: 128 * 1024, keepAlive: { idleSec: 30 } })
) {
  const note = c.adjusted ? "  (the kernel adjusted it)" : "";
  console.log(
    `  ${c.option.padEnd(15)} ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}` +
      ` (asked ${JSON.stringify(c.requested)})${note}`,
  );
}
await client.writeAll(enc.encode("ping"));
console.log(`server read "${dec.decode(await readExactly(server, 4))}"`);
const info = client.tcpInfo();
console.log(
  `TCP_INFO: state ${info.state}, rtt ${info.rttUs} us, cwnd ${info.sndCwnd}, ` +
    `mss ${info.sndMss}, bytesAcked ${info.bytesAcked}`,
);

step("2. writev: header and body in one syscall");
await server.writev([enc.encode("HEAD:"), enc.encode("body")]);
console.log(`client read "${dec.decode(await readExactly(client, 9))}"`);

step("3. sendfile: a file to a socket, never through JavaScript");
const path = await Deno.makeTempFile({ prefix: "netio-demo-" });
const fileBytes = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
await Deno.writeFile(path, fileBytes);
const receiving = readExactly(client, fileBytes.length);
const sent = await sendFile(server, path);
const received = await receiving;
await Deno.remove(path);
console.log(
  `sent ${sent} bytes by sendfile, received ${received.length}, intact: ${
    received.every((b, i) => b === fileBytes[i])
  }`,
);
client.close();
server.close();

step("4. A splice proxy: client <-> proxy <-> upstream echo");
using upstream = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
using front = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const echo = (async () => {
  using conn = await upstream.accept();
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    await conn.writeAll(buf.subarray(0, n));
  }
  conn.closeWrite();
})();
const proxied = (async () => {
  using a = await front.accept();
  using b = await TcpStream.connect({ hostname: "127.0.0.1", port: upstream.addr.port });
  return await proxy(a, b);
})();
{
  using c = await TcpStream.connect({ hostname: "127.0.0.1", port: front.addr.port });
  await c.writeAll(enc.encode("through the proxy"));
  c.closeWrite();
  console.log(`echo via proxy: "${dec.decode(await readExactly(c, 17))}"`);
  await c.read(new Uint8Array(1)); // EOF
}
await echo;
console.log("proxy byte counts:", await proxied);

step("5. The epoll HTTP server and the connection pool");
const http = serveHttp({ port: 0, handler: () => ({ body: "Hello, World!" }) });
const pool = new ConnectionPool({ maxPerHost: 4 });
const target = { hostname: "127.0.0.1", port: http.addr.port };
for (let i = 0; i < 3; i++) {
  await using lease = await pool.acquire(target);
  await lease.stream.writeAll(enc.encode("GET / HTTP/1.1\r\nHost: demo\r\n\r\n"));
  const buf = new Uint8Array(512);
  let text = "";
  while (!text.endsWith("Hello, World!")) {
    const n = await lease.stream.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  console.log(`request ${i + 1}: ${text.split("\r\n")[0]}`);
}
const ps = pool.stats();
console.log(`pool: created ${ps.created}, reused ${ps.reused}, idle ${ps.idle}`);
await pool.close();
await http.shutdown();

step("6. The reactor underneath");
const s = Reactor.default().stats();
console.log(
  `polls ${s.polls}, events ${s.events}, parks ${s.parks}, stale events dropped ${s.staleEvents}`,
);
console.log("\ndone: every socket closed, the process exits by itself.");
