/**
 * proxy() and examples/tcp_proxy.ts over real loopback sockets: both directions byte-exact at
 * once, half-close passed on each way, byte counts, a reset on one side stopping both, abort,
 * the recv+send fallback, and no descriptor left behind.
 */
import assert from "node:assert/strict";
import { closeIdlePipes, ErrnoError, proxy, Reactor, TcpStream, transferStats } from "../mod.ts";
import { parseHostPort, startProxy } from "../examples/tcp_proxy.ts";
import { assertNoNewFd, randomBytes, sha256, tcpPair } from "./helpers.ts";

Reactor.default();

/** Reads until EOF. */
async function readToEnd(stream: TcpStream): Promise<Uint8Array<ArrayBuffer>> {
  let buf = new Uint8Array(65536);
  let total = 0;
  for (;;) {
    if (total === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = await stream.read(buf.subarray(total));
    if (n === null) return buf.slice(0, total);
    total += n;
  }
}

/** Writes everything, then sends FIN. */
async function writeThenClose(stream: TcpStream, data: Uint8Array): Promise<void> {
  await stream.writeAll(data);
  stream.closeWrite();
}

/**
 * Two loopback pairs joined by proxy(): `client` <-> [a ... b] <-> `upstream`. Returns the ends
 * a test talks through, the relay promise, and a disposer.
 */
async function relayed(
  options: Parameters<typeof proxy>[2] = {},
): Promise<{
  client: TcpStream;
  upstream: TcpStream;
  relay: Promise<{ aToB: number; bToA: number }>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const front = await tcpPair();
  const back = await tcpPair();
  const relay = proxy(front.server, back.client, options);
  relay.catch(() => {}); // tests await it themselves; keep an early failure from going unhandled
  return {
    client: front.client,
    upstream: back.server,
    relay,
    async [Symbol.asyncDispose](): Promise<void> {
      await relay.catch(() => {});
      await front[Symbol.asyncDispose]();
      await back[Symbol.asyncDispose]();
    },
  };
}

Deno.test("proxy() relays both directions at once, byte-exact, and counts each way", async () => {
  const up = randomBytes(3 * 1024 * 1024 + 1);
  const down = randomBytes(2 * 1024 * 1024 + 3);
  await using r = await relayed({ pipeSize: 65536 });
  const [gotUp, gotDown] = await Promise.all([
    readToEnd(r.upstream),
    readToEnd(r.client),
    writeThenClose(r.client, up),
    writeThenClose(r.upstream, down),
  ]);
  assert.equal(await sha256(gotUp), await sha256(up));
  assert.equal(await sha256(gotDown), await sha256(down));
  assert.deepEqual(await r.relay, { aToB: up.length, bToA: down.length });
});

Deno.test("proxy() passes a half-close on and keeps the other direction open", async () => {
  await using r = await relayed();
  const enc = new TextEncoder();
  await writeThenClose(r.client, enc.encode("request"));
  // The upstream sees the request, then EOF...
  assert.equal(new TextDecoder().decode(await readToEnd(r.upstream)), "request");
  // The relay finishes only when both directions have ended: watch it from here on. A relay that
  // ended with the first FIN would settle before the answer below could get through.
  let finished = false;
  r.relay.then(() => finished = true, () => finished = true);
  // ...and can still answer afterwards: the client's direction is open.
  await r.upstream.writeAll(enc.encode("late answer"));
  const buf = new Uint8Array(64);
  let got = "";
  while (got.length < 11) {
    const n = await r.client.read(buf);
    assert.notEqual(n, null);
    got += new TextDecoder().decode(buf.subarray(0, n!));
  }
  assert.equal(got, "late answer");
  assert.equal(finished, false, "the relay ended while one direction was still open");
  r.upstream.closeWrite();
  assert.equal(await r.client.read(buf), null);
  assert.deepEqual(await r.relay, { aToB: 7, bToA: 11 });
});

Deno.test("proxy() with nothing sent either way resolves zero counts after both FINs", async () => {
  await using r = await relayed();
  r.upstream.closeWrite();
  r.client.closeWrite();
  assert.deepEqual(await r.relay, { aToB: 0, bToA: 0 });
  assert.equal(await r.client.read(new Uint8Array(1)), null);
  assert.equal(await r.upstream.read(new Uint8Array(1)), null);
});

Deno.test("proxy() stops both directions and rejects when one side resets", async () => {
  await using r = await relayed();
  await r.client.writeAll(new Uint8Array(1000));
  await r.upstream.read(new Uint8Array(1000));
  r.upstream.setLinger(0);
  r.upstream.close(); // RST towards the proxy
  await r.client.writeAll(new Uint8Array(100_000)).catch(() => {});
  await assert.rejects(r.relay, (e) => e instanceof ErrnoError);
});

Deno.test("proxy() rejects with the signal's reason when aborted", async () => {
  const controller = new AbortController();
  await using r = await relayed({ signal: controller.signal });
  await r.client.writeAll(new Uint8Array(10));
  await r.upstream.read(new Uint8Array(10));
  controller.abort(new Error("shutdown"));
  await assert.rejects(r.relay, /shutdown/);
  await assert.rejects(proxy(r.client, r.upstream, { signal: controller.signal }), /shutdown/);
});

Deno.test("proxy() with zeroCopy: false relays the same bytes by recv+send", async () => {
  const data = randomBytes(512 * 1024);
  const before = transferStats().spliceFallbacks;
  await using r = await relayed({ zeroCopy: false });
  const [got] = await Promise.all([readToEnd(r.upstream), writeThenClose(r.client, data)]);
  r.upstream.closeWrite();
  await readToEnd(r.client);
  assert.equal(await sha256(got), await sha256(data));
  assert.deepEqual(await r.relay, { aToB: data.length, bToA: 0 });
  assert(transferStats().spliceFallbacks >= before + 2);
});

Deno.test("proxy() rejects bad arguments with TypeError", async () => {
  await assert.rejects(proxy({} as TcpStream, {} as TcpStream), TypeError);
  await using pair = await tcpPair();
  await assert.rejects(
    proxy(pair.client, pair.server, { signal: "x" as unknown as AbortSignal }),
    TypeError,
  );
});

// ---------------------------------------------------------------------------------------------
// examples/tcp_proxy.ts

Deno.test("tcp_proxy: parseHostPort() reads host:port and [v6]:port", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:80"), { hostname: "127.0.0.1", port: 80 });
  assert.deepEqual(parseHostPort("[::1]:8080"), { hostname: "::1", port: 8080 });
  assert.deepEqual(parseHostPort("localhost:1"), { hostname: "localhost", port: 1 });
  assert.throws(() => parseHostPort("127.0.0.1"), TypeError);
  assert.throws(() => parseHostPort("h:0"), TypeError);
  assert.throws(() => parseHostPort("h:70000"), TypeError);
});

Deno.test("tcp_proxy: relays concurrent clients to an echo upstream and logs byte counts", async () => {
  // The upstream: echoes everything, then closes its side when the client's side ends.
  await using upstream = await tcpPair(); // only its listener is used
  upstream.client.close();
  upstream.server.close();
  const echoes = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const s of upstream.listener) {
      const echo = (async () => {
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await s.read(buf);
          if (n === null) break;
          await s.writeAll(buf.subarray(0, n));
        }
        s.closeWrite();
      })().finally(() => s.close());
      echoes.add(echo);
    }
  })();
  const lines: string[] = [];
  const server = await startProxy({
    upstreamHost: "127.0.0.1",
    upstreamPort: upstream.listener.addr.port,
    listenPort: 0,
    log: (line) => lines.push(line),
  });
  try {
    const sizes = [0, 1, 100_000, 1024 * 1024 + 9];
    await Promise.all(sizes.map(async (size) => {
      const data = randomBytes(size);
      using c = await TcpStream.connect({ hostname: "127.0.0.1", port: server.port });
      const [echoed] = await Promise.all([readToEnd(c), writeThenClose(c, data)]);
      assert.equal(await sha256(echoed), await sha256(data));
    }));
  } finally {
    await server.close();
    upstream.listener.close();
    await accepting;
    await Promise.allSettled([...echoes]);
  }
  for (const size of [0, 1, 100_000, 1024 * 1024 + 9]) {
    const line = `client->upstream ${size} bytes, upstream->client ${size} bytes`;
    assert(lines.some((l) => l.includes(line)), `no log line for ${size}: ${lines.join(" | ")}`);
  }
});

Deno.test("tcp_proxy: a client whose upstream refuses is logged and closed", async () => {
  // A port with no listener: bind one, note the port, close it.
  const probe = await tcpPair();
  const port = probe.listener.addr.port;
  await probe[Symbol.asyncDispose]();
  const lines: string[] = [];
  const server = await startProxy({
    upstreamHost: "127.0.0.1",
    upstreamPort: port,
    listenPort: 0,
    log: (line) => lines.push(line),
  });
  try {
    using c = await TcpStream.connect({ hostname: "127.0.0.1", port: server.port });
    assert.equal(await c.read(new Uint8Array(1)), null);
  } finally {
    await server.close();
  }
  assert.match(lines.join("\n"), /#1 error: connect 127\.0\.0\.1:\d+ failed: ECONNREFUSED/);
});

Deno.test("tcp_proxy: --help prints the usage and exits 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("../examples/tcp_proxy.ts", import.meta.url).pathname, "--help"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stdout), /--upstream HOST:PORT/);
});

Deno.test("proxy() runs, resets and aborts leave no fd open once idle pipes are closed", async () => {
  await assertNoNewFd(async () => {
    {
      await using r = await relayed();
      await Promise.all([readToEnd(r.upstream), writeThenClose(r.client, new Uint8Array(50_000))]);
      r.upstream.closeWrite();
      await readToEnd(r.client);
      await r.relay;
    }
    {
      await using r = await relayed();
      await r.client.writeAll(new Uint8Array(10));
      await r.upstream.read(new Uint8Array(10));
      r.upstream.setLinger(0);
      r.upstream.close();
      await r.client.writeAll(new Uint8Array(100_000)).catch(() => {});
      await r.relay.catch(() => {});
    }
    {
      const controller = new AbortController();
      await using r = await relayed({ signal: controller.signal });
      controller.abort();
      await r.relay.catch(() => {});
    }
    closeIdlePipes();
  });
});
