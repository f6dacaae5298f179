/**
 * The fetch-standard apps of `bench/load/serve_compare.ts`, served by netio's `serve()`
 * (`--impl netio`) or by `Deno.serve` (`--impl deno`): one app per process, the same handler on
 * both sides wherever the standard allows it.
 *
 * - `--app hello`: `() => new Response("Hello, World!")`.
 * - `--app file --file PATH`: the file, whatever the path. netio: `serveFile(request, PATH)`
 *   (sendfile, Content-Length); Deno: `new Response((await Deno.open(PATH)).readable)` (chunked).
 * - `--app stream [--chunks N] [--chunk-bytes B]`: a `ReadableStream` that enqueues N fresh
 *   chunks of B bytes, one per pull (default 100,000 of 64), chunked.
 *
 * Like every server under comparison it takes `--port N` (0 = any free port) and `--host`, and
 * prints exactly one line, `listening on PORT`, to stdout once it accepts connections. netio is
 * imported only with `--impl netio`, so the Deno.serve process carries none of it.
 *
 * ```sh
 * deno run -A bench/load/servers/serve_app.ts --impl netio --app hello --port 8080
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    impl: { type: "string", default: "netio" },
    app: { type: "string", default: "hello" },
    file: { type: "string", default: "" },
    chunks: { type: "string", default: "100000" },
    "chunk-bytes": { type: "string", default: "64" },
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    help: { type: "boolean", short: "h", default: false },
  },
});

const usage = "usage: deno run -A bench/load/servers/serve_app.ts --impl netio|deno " +
  "--app hello|file|stream [--file PATH] [--chunks N] [--chunk-bytes B] [--port N] [--host ADDR]";
if (values.help) {
  console.log(`${usage}\nPrints 'listening on PORT' when ready.`);
  Deno.exit(0);
}

const port = Number(values.port);
const chunks = Number(values.chunks);
const chunkBytes = Number(values["chunk-bytes"]);
if (
  !Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(chunks) ||
  chunks < 0 || !Number.isInteger(chunkBytes) || chunkBytes < 1 ||
  !["netio", "deno"].includes(values.impl) || !["hello", "file", "stream"].includes(values.app) ||
  (values.app === "file" && values.file === "")
) {
  console.error(usage);
  Deno.exit(2);
}

const netio = values.impl === "netio" ? await import("../../../mod.ts") : undefined;
const path = values.file;

/** A body of `chunks` fresh chunks of `chunkBytes`, one per pull (backpressure respected). */
function stream(): Response {
  const chunk = new Uint8Array(chunkBytes).fill(0x61);
  let left = chunks;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller): void {
        if (left-- > 0) controller.enqueue(chunk.slice());
        else controller.close();
      },
    }),
  );
}

const handler: (request: Request) => Response | Promise<Response> = values.app === "hello"
  ? () => new Response("Hello, World!")
  : values.app === "stream"
  ? stream
  : netio
  ? (request) => netio.serveFile(request, path)
  : async () => new Response((await Deno.open(path)).readable);

const onListen = (addr: Deno.NetAddr): void => console.log(`listening on ${addr.port}`);
if (netio) netio.serve({ port, hostname: values.host, onListen }, handler);
else Deno.serve({ port, hostname: values.host, onListen }, handler);
