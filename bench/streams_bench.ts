/**
 * TcpStream.readable vs Deno.Conn.readable: 1 MiB written on one end of a loopback connection and
 * read through the other end's Web ReadableStream, with a default reader (chunks the stream
 * allocates) and with a BYOB reader (one 64 KiB buffer of the reader's, reused). Baseline: Deno's
 * own connection with a default reader; `deno bench` prints the others relative to it, measured
 * side by side in one run.
 *
 * ```sh
 * deno bench --allow-ffi --allow-net bench/streams_bench.ts
 * ```
 *
 * @module
 */

import { TcpListener, TcpStream } from "../mod.ts";

const MESSAGE = new Uint8Array(1024 * 1024).fill(7);
const BYOB_BYTES = 64 * 1024;

/** Writes `MESSAGE` on `writer` while `read` takes exactly that many bytes; both must finish. */
async function transfer(
  write: (bytes: Uint8Array) => Promise<unknown>,
  read: () => Promise<number>,
): Promise<void> {
  let got = 0;
  await Promise.all([
    write(MESSAGE),
    (async () => {
      while (got < MESSAGE.length) got += await read();
    })(),
  ]);
}

// Deno's own connection.
const denoListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const denoClient = await Deno.connect({ hostname: "127.0.0.1", port: denoListener.addr.port });
const denoServer = await denoListener.accept();
const denoReader = denoServer.readable.getReader();
const denoWrite = async (bytes: Uint8Array): Promise<void> => {
  for (let off = 0; off < bytes.length;) off += await denoClient.write(bytes.subarray(off));
};

// netio's, twice: one read with a default reader, one with a BYOB reader.
const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const defaultClient = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const defaultServer = await listener.accept();
const byobClient = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const byobServer = await listener.accept();
listener.close();
const defaultReader = defaultServer.readable.getReader();
const byobReader = byobServer.readable.getReader({ mode: "byob" });
let byobBuffer = new ArrayBuffer(BYOB_BYTES);

Deno.bench("Deno.Conn.readable, default reader, 1 MiB", {
  group: "readable",
  baseline: true,
}, async () => {
  await transfer(denoWrite, async () => (await denoReader.read()).value!.byteLength);
});

Deno.bench("TcpStream.readable, default reader, 1 MiB", { group: "readable" }, async () => {
  await transfer(
    (bytes) => defaultClient.writeAll(bytes),
    async () => (await defaultReader.read()).value!.byteLength,
  );
});

Deno.bench("TcpStream.readable, BYOB reader (64 KiB reused), 1 MiB", {
  group: "readable",
}, async () => {
  await transfer((bytes) => byobClient.writeAll(bytes), async () => {
    const { value } = await byobReader.read(new Uint8Array(byobBuffer));
    byobBuffer = value!.buffer;
    return value!.byteLength;
  });
});

globalThis.addEventListener("unload", () => {
  denoReader.releaseLock();
  defaultReader.releaseLock();
  byobReader.releaseLock();
  denoClient.close();
  denoListener.close();
  for (const s of [defaultClient, defaultServer, byobClient, byobServer]) s.close();
  try {
    denoServer.close();
  } catch {
    // closed with its readable
  }
});
