// The node:http peer of the file response in bench/load/serve_compare.ts: answers every request
// with the file given by --file, `fs.createReadStream(path).pipe(res)` (chunked, as Deno.serve's
// `new Response(file.readable)`).
//
// Like every server under comparison it takes `--port N` (0 = any free port) and `--host`, and
// prints exactly one line, `listening on PORT`, to stdout once it accepts connections.
//
//   node bench/load/servers/node_file.mjs --file /tmp/netio-transfer-bench-256m.bin --port 0
import { createReadStream } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    file: { type: "string", default: "" },
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help || values.file === "") {
  console.log(
    "usage: node bench/load/servers/node_file.mjs --file PATH [--port N] [--host ADDR]\n" +
      "Serves PATH for every request; prints 'listening on PORT' when ready.",
  );
  process.exit(values.help ? 0 : 2);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${values.port}`);
  process.exit(2);
}

const server = createServer((_req, res) => {
  createReadStream(values.file).pipe(res);
});
server.listen(port, values.host, () => {
  console.log(`listening on ${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
