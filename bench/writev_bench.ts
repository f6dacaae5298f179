/**
 * writev vs concat+write vs two writes: an HTTP-like head (about 150 bytes) and a body of
 * 256 B, 4 KiB or 64 KiB sent over a loopback TCP connection and read back whole on the other
 * side. Each group's baseline is writev; `deno bench` prints the others relative to it.
 *
 * ```sh
 * deno bench --allow-ffi --allow-net --allow-env bench/writev_bench.ts
 * ```
 *
 * TCP_NODELAY is on (as in any server that writes heads and bodies): with Nagle on, the second
 * of two small writes would wait for the first one's ACK, and the comparison would measure that.
 *
 * @module
 */

import { TcpListener, TcpStream, writev } from "../mod.ts";

const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
const sender = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const receiver = await listener.accept();
listener.close();
sender.setNoDelay(true);
receiver.setNoDelay(true);

const head = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: " +
    "application/octet-stream\r\nContent-Length: 65536\r\nConnection: keep-alive\r\n\r\n",
);
const sink = new Uint8Array(256 * 1024);

/** Reads exactly `n` bytes on the receiving side (what every variant must deliver). */
async function drain(n: number): Promise<void> {
  let got = 0;
  while (got < n) {
    const r = receiver.tryRead(sink.subarray(0, Math.min(sink.length, n - got)));
    if (r === null) throw new Error("unexpected EOF");
    if (r > 0) {
      got += r;
      continue;
    }
    const w = await receiver.read(sink.subarray(0, Math.min(sink.length, n - got)));
    if (w === null) throw new Error("unexpected EOF");
    got += w;
  }
}

for (const size of [256, 4096, 65536]) {
  const body = new Uint8Array(size).fill(120);
  const total = head.length + size;
  const group = `head + ${size < 1024 ? `${size} B` : `${size / 1024} KiB`} body`;

  Deno.bench({
    name: "writev([head, body])",
    group,
    baseline: true,
    async fn(): Promise<void> {
      const sending = writev(sender, [head, body]);
      await drain(total);
      await sending;
    },
  });

  Deno.bench({
    name: "concat + write",
    group,
    async fn(): Promise<void> {
      const joined = new Uint8Array(total);
      joined.set(head);
      joined.set(body, head.length);
      const sending = sender.writeAll(joined);
      await drain(total);
      await sending;
    },
  });

  Deno.bench({
    name: "two writes",
    group,
    async fn(): Promise<void> {
      const sending = (async () => {
        await sender.writeAll(head);
        await sender.writeAll(body);
      })();
      await drain(total);
      await sending;
    },
  });
}

globalThis.addEventListener("unload", () => {
  sender.close();
  receiver.close();
});
