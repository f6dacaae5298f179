// The node:http peer for whole-program HTTP comparisons: answers every request with
// "Hello, World!" as text/plain, HTTP/1.1 keep-alive.
//
// Like every server under comparison it takes `--port N` (0 = any free port) and `--host`, and
// prints exactly one line, `listening on PORT`, to stdout once it accepts connections.
//
//   node bench/load/servers/node_http.mjs --port 0
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: node bench/load/servers/node_http.mjs [--port N] [--host ADDR]\n" +
      "Serves 'Hello, World!' (text/plain); prints 'listening on PORT' when ready.",
  );
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${values.port}`);
  process.exit(2);
}

const body = Buffer.from("Hello, World!");
const headers = { "content-type": "text/plain", "content-length": String(body.length) };

const server = createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
// Node closes a keep-alive connection after 5 s idle by default; Deno.serve keeps it. The idle
// connection measurement holds connections for longer than that, so give Node the same footing.
server.keepAliveTimeout = 300_000;
server.listen(port, values.host, () => {
  console.log(`listening on ${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
