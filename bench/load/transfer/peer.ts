/**
 * The processes of `bench/load/transfer_compare.ts`, one role per process so each one's CPU can
 * be read from /proc on its own:
 *
 * - `--role sink`: listens, reads every connection to EOF and discards the bytes, prints
 *   `received N` per connection. Deno's own API: the sink is not what is measured.
 * - `--role send --impl netio|deno --port P --file F --repeat K`: connects to P, prints `ready`,
 *   waits for `go` on stdin, sends the file K times (netio: sendFile; deno:
 *   `file.readable.pipeTo(conn.writable)`), closes, prints `sent N`.
 * - `--role proxy --impl netio|deno --upstream P [--pipe-size N]`: listens, relays every
 *   connection to P (netio: proxy() by splice; deno: `pipeTo` both ways), prints `relayed ...`
 *   per connection.
 * - `--role source --port P --file F --repeat K`: like `send --impl netio`, then half-closes and
 *   waits for the peer's EOF; feeds the proxies.
 * - `--role get --port P --path PATH --repeat K`: an HTTP client that reads and discards (the
 *   Deno twin of `reference get`, for bench/load/serve_compare.ts): prints `ready`, waits for
 *   `go`, then K times connects, sends `GET PATH` with `Connection: close`, checks for a 200 and
 *   reads to EOF 1 MiB at a time; prints `received N` (every byte, heads included).
 *
 * Each prints `listening on PORT` or `ready` when set up; stdin closing ends it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { proxy, sendFile, TcpListener, TcpStream } from "../../../mod.ts";

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    impl: { type: "string", default: "netio" },
    port: { type: "string", default: "0" },
    upstream: { type: "string", default: "0" },
    file: { type: "string", default: "" },
    repeat: { type: "string", default: "1" },
    host: { type: "string", default: "127.0.0.1" },
    "pipe-size": { type: "string" },
    path: { type: "string", default: "/" },
  },
  strict: true,
});

const host = values.host;
const port = Number(values.port);
const repeat = Number(values.repeat);
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";

/** Waits for one line on stdin; null once stdin is closed. */
async function nextLine(): Promise<string | null> {
  for (;;) {
    const nl = pending.indexOf("\n");
    if (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      return line.trim();
    }
    const { value, done } = await lines.read();
    if (done) return null;
    pending += value;
  }
}

function say(line: string): void {
  console.log(line);
}

async function waitFor(word: string): Promise<void> {
  for (;;) {
    const line = await nextLine();
    if (line === null) Deno.exit(0);
    if (line === word) return;
  }
}

async function sink(): Promise<void> {
  const listener = Deno.listen({ hostname: host, port });
  say(`listening on ${(listener.addr as Deno.NetAddr).port}`);
  (async () => {
    await nextLine(); // stdin closed or any line: exit
    Deno.exit(0);
  })();
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(1 << 20);
      let total = 0;
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          total += n;
        }
      } finally {
        conn.close();
      }
      say(`received ${total}`);
    })().catch((e) => console.error(`sink: ${e}`));
  }
}

async function sendNetio(file: string, halfClose: boolean): Promise<void> {
  const conn = await TcpStream.connect({ hostname: host, port });
  say("ready");
  await waitFor("go");
  let sent = 0;
  for (let i = 0; i < repeat; i++) sent += await sendFile(conn, file);
  if (halfClose) {
    conn.closeWrite();
    say(`sent ${sent}`);
    const buf = new Uint8Array(65536);
    while ((await conn.read(buf)) !== null) { /* the relay's answer: nothing, then EOF */ }
  } else {
    say(`sent ${sent}`);
  }
  conn.close();
  await nextLine();
}

async function sendDeno(file: string): Promise<void> {
  const conn = await Deno.connect({ hostname: host, port });
  say("ready");
  await waitFor("go");
  let sent = 0;
  for (let i = 0; i < repeat; i++) {
    const f = await Deno.open(file);
    sent += (await f.stat()).size;
    await f.readable.pipeTo(conn.writable, { preventClose: true });
  }
  say(`sent ${sent}`);
  conn.close();
  await nextLine();
}

async function proxyNetio(upstream: number): Promise<void> {
  const listener = TcpListener.bind({ hostname: host, port });
  say(`listening on ${listener.addr.port}`);
  (async () => {
    await nextLine();
    Deno.exit(0);
  })();
  for await (const client of listener) {
    (async () => {
      const up = await TcpStream.connect({ hostname: host, port: upstream });
      try {
        const { aToB, bToA } = await proxy(
          client,
          up,
          values["pipe-size"] ? { pipeSize: Number(values["pipe-size"]) } : {},
        );
        say(`relayed ${aToB} ${bToA}`);
      } finally {
        up.close();
        client.close();
      }
    })().catch((e) => console.error(`proxy: ${e}`));
  }
}

async function proxyDeno(upstream: number): Promise<void> {
  const listener = Deno.listen({ hostname: host, port });
  say(`listening on ${(listener.addr as Deno.NetAddr).port}`);
  (async () => {
    await nextLine();
    Deno.exit(0);
  })();
  for await (const client of listener) {
    (async () => {
      const up = await Deno.connect({ hostname: host, port: upstream });
      await Promise.allSettled([
        client.readable.pipeTo(up.writable),
        up.readable.pipeTo(client.writable),
      ]);
      say("relayed");
      try {
        up.close();
      } catch { /* closed by its stream */ }
      try {
        client.close();
      } catch { /* closed by its stream */ }
    })().catch((e) => console.error(`proxy: ${e}`));
  }
}

async function get(path: string): Promise<void> {
  const request = new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`,
  );
  const buf = new Uint8Array(1 << 20);
  say("ready");
  await waitFor("go");
  let total = 0;
  for (let i = 0; i < repeat; i++) {
    const conn = await Deno.connect({ hostname: host, port });
    for (let written = 0; written < request.length;) {
      written += await conn.write(request.subarray(written));
    }
    let head = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (head.length < 12) head += new TextDecoder().decode(buf.subarray(0, Math.min(n, 12)));
      total += n;
    }
    conn.close();
    if (!head.startsWith("HTTP/1.1 200")) {
      console.error(`get ${path}: not a 200: ${head.slice(0, 12)}`);
      Deno.exit(1);
    }
  }
  say(`received ${total}`);
  await nextLine();
}

switch (values.role) {
  case "sink":
    await sink();
    break;
  case "send":
    if (values.impl === "deno") await sendDeno(values.file);
    else await sendNetio(values.file, false);
    break;
  case "source":
    await sendNetio(values.file, true);
    break;
  case "proxy":
    if (values.impl === "deno") await proxyDeno(Number(values.upstream));
    else await proxyNetio(Number(values.upstream));
    break;
  case "get":
    await get(values.path);
    break;
  default:
    console.error("--role sink|send|source|proxy|get");
    Deno.exit(2);
}
