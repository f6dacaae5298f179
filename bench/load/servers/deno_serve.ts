/**
 * The Deno.serve peer for whole-program HTTP comparisons: answers every request with
 * "Hello, World!" as text/plain, HTTP/1.1 keep-alive.
 *
 * Like every server under comparison it takes `--port N` (0 = any free port) and `--host`, and
 * prints exactly one line, `listening on PORT`, to stdout once it accepts connections.
 *
 * ```sh
 * deno run --allow-net bench/load/servers/deno_serve.ts --port 0
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
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: deno run --allow-net bench/load/servers/deno_serve.ts [--port N] [--host ADDR]\n" +
      "Serves 'Hello, World!' (text/plain); prints 'listening on PORT' when ready.",
  );
  Deno.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port: ${values.port}`);
  Deno.exit(2);
}

const body = "Hello, World!";
const headers = { "content-type": "text/plain" };

Deno.serve(
  {
    port,
    hostname: values.host,
    // Replaces Deno's own "Listening on http://..." line: the harness reads exactly one line.
    onListen: (addr) => console.log(`listening on ${addr.port}`),
  },
  () => new Response(body, { headers }),
);
