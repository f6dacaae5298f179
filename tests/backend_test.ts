/**
 * The reactor's backends: choosing one (option, NETIO_BACKEND, default), the fallback to epoll
 * with its reason when io_uring is refused, and what only the io_uring backend can get wrong (a
 * full submission queue, a poll left armed after close).
 */
import assert from "node:assert/strict";
import { Interest, Reactor, TcpListener, TcpStream } from "../mod.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, MSG_NOSIGNAL } from "../ffi/constants.ts";
import { sysClose, sysEventfd, sysRead, sysWrite } from "../ffi/libc.ts";
import { Int64Cell } from "../ffi/structs.ts";
import { openUringBackend } from "../lib/reactor/uring_backend.ts";
import { Ring } from "../ffi/uring.ts";
import { SendBuffers } from "../ffi/uring_buffers.ts";
import { until } from "./helpers.ts";

/** Whether this kernel (and sandbox) gives us an io_uring at all. */
const uringWorks = (() => {
  const backend = openUringBackend();
  if (backend instanceof Error) return false;
  backend.close();
  return true;
})();

const ONE = (() => {
  const cell = new Int64Cell();
  cell.value = 1;
  return cell.bytes;
})();

Deno.test("backend: the option picks the backend, and backendInfo() says who asked", async () => {
  await using epoll = new Reactor({ backend: "epoll" });
  assert.equal(epoll.backend, "epoll");
  assert.deepEqual(epoll.backendInfo(), {
    backend: "epoll",
    requested: "epoll",
    requestedBy: "option",
    receives: false,
    sends: false,
  });
  await using uring = new Reactor({ backend: "uring" });
  assert.equal(uring.backendInfo().requested, "uring");
  assert.equal(uring.backend, uringWorks ? "uring" : "epoll");
  assert.equal(uring.stats().backend, uring.backend);
  assert.throws(() => new Reactor({ backend: "kqueue" as "epoll" }), TypeError);
});

Deno.test("backend: a refused io_uring falls back to epoll, says why, and the reactor works", async () => {
  // The kernel allows at most 32768 entries: this setup is refused (EINVAL) for real.
  await using reactor = new Reactor({ backend: "uring", uringEntries: 65536 });
  const info = reactor.backendInfo();
  assert.equal(info.backend, "epoll");
  assert.equal(info.requested, "uring");
  assert.match(info.fallbackReason ?? "", /io_uring unavailable, using epoll: io_uring_setup/);
  // And it serves: a loopback exchange on the fallback.
  using listener = TcpListener.bind({ port: 0, reactor });
  using client = await TcpStream.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    reactor,
  });
  using server = await listener.accept();
  await client.writeAll(new TextEncoder().encode("on epoll"));
  const buf = new Uint8Array(16);
  const n = await server.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "on epoll");
});

Deno.test("backend: NETIO_BACKEND picks the default reactor's backend; without env access it is not read", async () => {
  const dir = await Deno.makeTempDir();
  const script = `${dir}/info.ts`;
  await Deno.writeTextFile(
    script,
    `import { Reactor } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};\n` +
      "console.log(JSON.stringify(Reactor.default().backendInfo()));\n",
  );
  const run = async (allowEnv: boolean): Promise<Record<string, string>> => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-ffi",
        "--allow-read",
        ...(allowEnv ? ["--allow-env=NETIO_BACKEND,NETIO_LIBC"] : []),
        script,
      ],
      env: { NETIO_BACKEND: "uring" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  const withEnv = await run(true);
  assert.equal(withEnv.requested, "uring");
  assert.equal(withEnv.requestedBy, "NETIO_BACKEND");
  assert.equal(withEnv.backend, uringWorks ? "uring" : "epoll");
  const withoutEnv = await run(false);
  assert.equal(withoutEnv.requestedBy, "default");
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name:
    "uring: more registrations than submission slots are all armed (a full ring is submitted, never dropped)",
  ignore: !uringWorks,
  fn: async () => {
    // 64 slots, 600 fds: every POLL_ADD after the 64th finds the ring full.
    await using reactor = new Reactor({ backend: "uring", uringEntries: 64 });
    const fds: number[] = [];
    const seen = new Set<number>();
    try {
      for (let i = 0; i < 600; i++) {
        const fd = sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert.ok(fd >= 0);
        fds.push(fd);
        reactor.register(fd, Interest.READABLE, (_ready, reg) => {
          seen.add(reg.fd);
          sysRead(reg.fd, new Uint8Array(8));
        });
      }
      for (const fd of fds) sysWrite(fd, ONE);
      await until(() => seen.size === fds.length, `all ${fds.length} fds to be seen`);
    } finally {
      for (const fd of fds) {
        reactor.deregister(fd);
        sysClose(fd);
      }
    }
  },
});

Deno.test({
  name:
    "uring: a socket closed while its multishot poll is being completed still closes (the peer reads EOF)",
  ignore: !uringWorks,
  fn: async () => {
    await using reactor = new Reactor({ backend: "uring" });
    using listener = TcpListener.bind({ port: 0, reactor });
    // Each round: a fresh accepted stream is polled (multishot, writable at once) and closed in
    // the same turn, so the removal meets the poll while it completes (EALREADY) and must be
    // retried: otherwise the poll keeps the socket open and the client never reads EOF.
    for (let round = 0; round < 50; round++) {
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const server = await listener.accept();
      await server.writeAll(new TextEncoder().encode("bye"));
      // A read that waits registers the socket (its poll queued, writable at once), and the
      // close in the same turn removes it: both reach the kernel in one submission.
      const reading = server.read(new Uint8Array(8)).catch(() => null);
      server.close();
      await reading;
      const buf = new Uint8Array(16);
      let got = "";
      let eof = false;
      const timer = setTimeout(() => client.close(), 5000);
      try {
        for (let i = 0; i < 10 && !eof; i++) {
          const n = await client.read(buf);
          if (n === null) eof = true;
          else got += new TextDecoder().decode(buf.subarray(0, n));
        }
      } finally {
        clearTimeout(timer);
      }
      assert.equal(got, "bye", `round ${round}`);
      assert.ok(eof, `round ${round}: no EOF after the server's close (a poll kept the socket)`);
      client.close();
    }
  },
});

Deno.test({
  name: "uring: a ring of 4 slots takes 50 entries prepared in a row, none lost or reordered",
  ignore: !uringWorks,
  fn: () => {
    const ring = Ring.open(4, 64);
    try {
      for (let i = 1; i <= 50; i++) ring.prepNop(i, 0);
      ring.submit();
      const tags: number[] = [];
      for (let tries = 0; tries < 100 && tags.length < 50; tries++) {
        const ready = ring.ready();
        for (let i = 0; i < ready; i++) tags.push(ring.tagLo(ring.cqe(i)));
        ring.advance(ready);
        ring.submit();
      }
      assert.equal(tags.length, 50, `${tags.length} of 50 completions`);
      for (let i = 0; i < 50; i++) assert.equal(tags[i], i + 1, `completion ${i}`);
      assert.equal(ring.pending, 0);
    } finally {
      ring.close();
    }
  },
});

Deno.test({
  name: "uring: forget(fd) turns what the kernel has not taken for fd into NOPs, and nothing else",
  ignore: !uringWorks,
  async fn(): Promise<void> {
    const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
    const peerA = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const peerB = await TcpStream.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const a = await listener.accept();
    const b = await listener.accept();
    const ring = Ring.open(8, 64);
    const buffers = SendBuffers.open(1, 4096);
    try {
      buffers.view(0).set([1, 2, 3, 4, 5]);
      // Prepared, not submitted: a send on A, a NOP, a send on B.
      ring.prepSend(a.fd, buffers.address(0), 5, MSG_NOSIGNAL, 1, 0);
      ring.prepNop(2, 0);
      ring.prepSend(b.fd, buffers.address(0), 5, MSG_NOSIGNAL, 3, 0);
      assert.equal(ring.forget(a.fd), 1);
      assert.equal(ring.forget(a.fd), 0, "a NOP is not turned again");
      ring.submit();
      const results = new Map<number, number>();
      for (let tries = 0; tries < 1000 && results.size < 3; tries++) {
        const ready = ring.ready();
        for (let i = 0; i < ready; i++) {
          results.set(ring.tagLo(ring.cqe(i)), ring.result(ring.cqe(i)));
        }
        ring.advance(ready);
        if (results.size < 3) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      assert.deepEqual([...results].sort(), [[1, 0], [2, 0], [3, 5]]);
      const got = new Uint8Array(16);
      assert.equal(await peerB.read(got), 5, "B's send did not arrive");
      assert.deepEqual([...got.subarray(0, 5)], [1, 2, 3, 4, 5]);
      assert.equal(peerA.tryRead(got), 0, "A's forgotten send reached A");
    } finally {
      ring.close();
      buffers.unmap();
      for (const s of [peerA, peerB, a, b]) s.close();
      listener.close();
    }
  },
});
