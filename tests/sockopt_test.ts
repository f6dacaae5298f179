/**
 * Socket options and TCP_INFO over real loopback sockets: one table-driven set-then-get round
 * trip per option on IPv4 and IPv6 (socket2's `test!` macro), bad values refused with the option
 * unchanged, errno reaching ErrnoError through every fd-level wrapper, TCP_INFO after a transfer,
 * and tune()'s before -> after report.
 */

import assert from "node:assert/strict";
import { ClosedError, ErrnoError, Reactor, type TcpStream, tune } from "../mod.ts";
import { EFD_CLOEXEC } from "../ffi/constants.ts";
import { check, sysClose, sysEventfd } from "../ffi/libc.ts";
import * as opt from "../lib/net/options.ts";
import { fdCount, tcpPair } from "./helpers.ts";

Reactor.default(); // owns its fds for the process lifetime: create it before any baseline
const baseline = fdCount();

const FAMILIES = [{ name: "IPv4", ipv6: false }, { name: "IPv6", ipv6: true }] as const;

/** One option: its setter and getter on a stream, values to set and what reads back. */
interface OptionCase {
  option: string;
  set: (s: TcpStream, value: never) => void;
  get: (s: TcpStream) => unknown;
  /** [value set, value read back]; the first differs from the default, so a no-op fails. */
  steps: [unknown, unknown][];
}

// The kernel doubles SO_SNDBUF/SO_RCVBUF requests (half is bookkeeping overhead) within
// net.core.wmem_max/rmem_max, which are at least 212992 on every Linux: 16 and 64 KiB double.
const OPTIONS: OptionCase[] = [
  {
    option: "noDelay",
    set: (s, v) => s.setNoDelay(v),
    get: (s) => s.noDelay(),
    steps: [[true, true], [false, false]],
  },
  {
    option: "cork",
    set: (s, v) => s.setCork(v),
    get: (s) => s.cork(),
    steps: [[true, true], [false, false]],
  },
  {
    // Not sticky in general (the kernel leaves quick-ack mode on its own after traffic), but on
    // an idle connection the mode set is the mode read.
    option: "quickAck",
    set: (s, v) => s.setQuickAck(v),
    get: (s) => s.quickAck(),
    steps: [[false, false], [true, true]],
  },
  {
    option: "reuseAddress",
    set: (s, v) => s.setReuseAddress(v),
    get: (s) => s.reuseAddress(),
    steps: [[true, true], [false, false]],
  },
  {
    option: "reusePort",
    set: (s, v) => s.setReusePort(v),
    get: (s) => s.reusePort(),
    steps: [[true, true], [false, false]],
  },
  {
    option: "sendBufferSize",
    set: (s, v) => s.setSendBufferSize(v),
    get: (s) => s.sendBufferSize(),
    steps: [[16384, 32768], [65536, 131072]],
  },
  {
    option: "recvBufferSize",
    set: (s, v) => s.setRecvBufferSize(v),
    get: (s) => s.recvBufferSize(),
    steps: [[16384, 32768], [65536, 131072]],
  },
  {
    option: "keepAlive",
    set: (s, v) => s.setKeepAlive(v),
    get: (s) => s.keepAlive(),
    steps: [
      [{ idleSec: 30, intervalSec: 5, count: 4 }, { idleSec: 30, intervalSec: 5, count: 4 }],
      // Timings left out keep their values.
      [{ idleSec: 60 }, { idleSec: 60, intervalSec: 5, count: 4 }],
      [false, false],
      [true, { idleSec: 60, intervalSec: 5, count: 4 }],
    ],
  },
  {
    option: "linger",
    set: (s, v) => s.setLinger(v),
    get: (s) => s.linger(),
    steps: [[5, 5], [0, 0], [null, null]],
  },
  {
    option: "userTimeoutMs",
    set: (s, v) => s.setUserTimeoutMs(v),
    get: (s) => s.userTimeoutMs(),
    steps: [[10000, 10000], [0, 0]],
  },
  {
    option: "notSentLowat",
    set: (s, v) => s.setNotSentLowat(v),
    get: (s) => s.notSentLowat(),
    steps: [[16384, 16384], [1, 1], [0, 0]],
  },
];

// ---------------------------------------------------------------------------------------------
// Round trips

for (const family of FAMILIES) {
  for (const c of OPTIONS) {
    Deno.test(`${c.option}: set then get round-trips on ${family.name}`, async () => {
      await using p = await tcpPair({ ipv6: family.ipv6 });
      for (const [value, expected] of c.steps) {
        c.set(p.client, value as never);
        assert.deepEqual(c.get(p.client), expected, `${c.option} = ${JSON.stringify(value)}`);
      }
    });
  }
}

Deno.test("sendBufferSize/recvBufferSize: a request above the kernel's limit is clamped", async () => {
  await using p = await tcpPair();
  const s = p.client;
  // The largest value the kernel accepts is twice its wmem_max/rmem_max: learn it by asking
  // for more than any limit, then check a request below it doubles exactly and one above clamps.
  s.setSendBufferSize(0x7fffffff);
  const sendMax = s.sendBufferSize();
  s.setRecvBufferSize(0x7fffffff);
  const recvMax = s.recvBufferSize();
  for (
    const [set, get, max] of [[s.setSendBufferSize, s.sendBufferSize, sendMax], [
      s.setRecvBufferSize,
      s.recvBufferSize,
      recvMax,
    ]] as const
  ) {
    assert.ok(max >= 2 * 212992, `limit ${max}`);
    assert.equal(max % 2, 0);
    set.call(s, max / 2);
    assert.equal(get.call(s), max);
    set.call(s, max / 4);
    assert.equal(get.call(s), max / 2);
    set.call(s, max);
    assert.equal(get.call(s), max, "clamped to twice the limit");
  }
});

Deno.test("a listener's SO_REUSEADDR/SO_REUSEPORT read back as bound", async () => {
  await using p = await tcpPair();
  assert.equal(p.listener.reuseAddress(), true);
  assert.equal(p.listener.reusePort(), false);
});

// ---------------------------------------------------------------------------------------------
// Bad values

type ErrorClass = typeof TypeError | typeof RangeError;
const TYPE_OR_RANGE = (e: unknown): boolean => e instanceof TypeError || e instanceof RangeError;

/** option -> [a known good value to start from, bad values with the error each must raise]. */
const BAD_VALUES: [string, unknown, [unknown, ErrorClass | "either"][]][] = [
  // (No `undefined` here: `setNoDelay()` means on, as Deno.TcpConn's does; socket_test checks it.)
  ["noDelay", true, [["yes", TypeError], [1, TypeError], [null, TypeError]]],
  ["cork", true, [[1, TypeError], [{}, TypeError]]],
  ["quickAck", false, [[0, TypeError], ["true", TypeError]]],
  ["reuseAddress", true, [[1, TypeError]]],
  ["reusePort", true, [[1, TypeError]]],
  ["sendBufferSize", 16384, [
    [0, RangeError],
    [-1, RangeError],
    [1.5, RangeError],
    [NaN, RangeError],
    [Infinity, RangeError],
    [2 ** 31, RangeError],
    ["65536", "either"],
  ]],
  ["recvBufferSize", 16384, [[0, RangeError], [-4096, RangeError], [2 ** 40, RangeError]]],
  ["keepAlive", { idleSec: 30, intervalSec: 5, count: 4 }, [
    ["on", TypeError],
    [1, TypeError],
    [null, TypeError],
    [{ idleSec: 0 }, RangeError],
    [{ idleSec: 32768 }, RangeError],
    [{ intervalSec: 0 }, RangeError],
    [{ count: 128 }, RangeError],
    [{ count: 1.5 }, RangeError],
    // Validated whole before the first syscall: the good idleSec is not applied either.
    [{ idleSec: 99, count: 0 }, RangeError],
    [{ idleSec: "99" }, "either"],
  ]],
  ["linger", 5, [
    [-1, RangeError],
    [65536, RangeError],
    [1.5, RangeError],
    ["5", "either"],
    [undefined, "either"],
    [false, "either"],
  ]],
  ["userTimeoutMs", 10000, [[-1, RangeError], [0.5, RangeError], [2 ** 31, RangeError]]],
  ["notSentLowat", 16384, [[-1, RangeError], [2 ** 31, RangeError], [NaN, RangeError]]],
];

for (const [option, good, bads] of BAD_VALUES) {
  Deno.test(`${option}: bad values throw TypeError/RangeError and leave the option unchanged`, async () => {
    const c = OPTIONS.find((o) => o.option === option)!;
    await using p = await tcpPair();
    c.set(p.client, good as never);
    const before = c.get(p.client);
    for (const [bad, expected] of bads) {
      assert.throws(
        () => c.set(p.client, bad as never),
        expected === "either" ? TYPE_OR_RANGE : expected,
        `${option} = ${String(bad)}`,
      );
      assert.deepEqual(c.get(p.client), before, `${option} after ${String(bad)}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Error paths: errno reaches ErrnoError through every fd-level wrapper

// The settings type and the table have the same keys, each way round (a compile-time check:
// `deno check` fails here when an option is added to one and not the other).
type Assert<T extends true> = T;
export type _SameKeys = Assert<
  [
    | Exclude<keyof opt.TuneSettings, keyof opt.SocketOptionTable>
    | Exclude<keyof opt.SocketOptionTable, keyof opt.TuneSettings>,
  ] extends [never] ? true : false
>;

/** A valid value for every row of the option table. */
const SAMPLE: Required<opt.TuneSettings> = {
  noDelay: true,
  cork: true,
  quickAck: true,
  reuseAddress: true,
  reusePort: true,
  sendBufferSize: 65536,
  recvBufferSize: 65536,
  keepAlive: { idleSec: 30 },
  linger: 5,
  userTimeoutMs: 1000,
  notSentLowat: 16384,
};

/**
 * Every option of the table (lib/net/options.ts), set and read, and every other fd-level wrapper,
 * called on `fd`, with the syscall it must name.
 */
function wrappers(fd: number): [string, () => unknown, string][] {
  const rows: [string, () => unknown, string][] = [];
  for (const key of Object.keys(opt.SOCKET_OPTIONS) as (keyof opt.TuneSettings)[]) {
    rows.push([`set ${key}`, () => opt.setOption(fd, key, SAMPLE[key] as never), "setsockopt"]);
    rows.push([key, () => opt.getOption(fd, key), "getsockopt"]);
  }
  assert.equal(rows.length, 22, "11 options, set and get");
  return [
    ...rows,
    ["set keepAlive(false)", () => opt.setOption(fd, "keepAlive", false), "setsockopt"],
    ["socketError", () => opt.socketError(fd), "getsockopt"],
    ["tcpInfo", () => opt.tcpInfo(fd), "getsockopt"],
    ["tuneFd", () => opt.tuneFd(fd, { noDelay: true }), "getsockopt"],
    ["setIntOption", () => opt.setIntOption(fd, 6, 1, 1), "setsockopt"],
    ["getIntOption", () => opt.getIntOption(fd, 6, 1), "getsockopt"],
  ];
}

function assertErrno(fn: () => unknown, code: string, syscall: string, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ErrnoError, `${what}: ${String(e)}`);
    assert.ok(!(e instanceof ClosedError), `${what}: a real errno, not ClosedError`);
    assert.equal(e.code, code, what);
    assert.equal(e.syscall, syscall, what);
    assert.equal(e.message.startsWith(`${syscall} failed: ${code} (`), true, e.message);
    return true;
  });
}

Deno.test("every sockopt wrapper turns EBADF (fd 99999, never open) into ErrnoError", () => {
  // 99999 is above this process's descriptor limit, so no socket can be behind it.
  for (const [name, fn, syscall] of wrappers(99999)) assertErrno(fn, "EBADF", syscall, name);
});

Deno.test("every sockopt wrapper turns ENOTSOCK (an eventfd) into ErrnoError", () => {
  const before = fdCount();
  const efd = check(sysEventfd(0, EFD_CLOEXEC), "eventfd");
  try {
    for (const [name, fn, syscall] of wrappers(efd)) assertErrno(fn, "ENOTSOCK", syscall, name);
  } finally {
    sysClose(efd);
  }
  assert.equal(fdCount(), before);
});

Deno.test("option methods on a closed stream throw ClosedError and make no syscall", async () => {
  const p = await tcpPair();
  p.client.close();
  const s = p.client;
  const calls: [string, () => unknown][] = [
    ["setNoDelay", () => s.setNoDelay(true)],
    ["noDelay", () => s.noDelay()],
    ["setCork", () => s.setCork(true)],
    ["cork", () => s.cork()],
    ["setQuickAck", () => s.setQuickAck(true)],
    ["quickAck", () => s.quickAck()],
    ["setReuseAddress", () => s.setReuseAddress(true)],
    ["reuseAddress", () => s.reuseAddress()],
    ["setReusePort", () => s.setReusePort(true)],
    ["reusePort", () => s.reusePort()],
    ["setSendBufferSize", () => s.setSendBufferSize(65536)],
    ["sendBufferSize", () => s.sendBufferSize()],
    ["setRecvBufferSize", () => s.setRecvBufferSize(65536)],
    ["recvBufferSize", () => s.recvBufferSize()],
    ["setKeepAlive", () => s.setKeepAlive(true)],
    ["keepAlive", () => s.keepAlive()],
    ["setLinger", () => s.setLinger(0)],
    ["linger", () => s.linger()],
    ["setUserTimeoutMs", () => s.setUserTimeoutMs(1)],
    ["userTimeoutMs", () => s.userTimeoutMs()],
    ["setNotSentLowat", () => s.setNotSentLowat(1)],
    ["notSentLowat", () => s.notSentLowat()],
    ["tcpInfo", () => s.tcpInfo()],
    ["tune", () => s.tune({ noDelay: true })],
    ["tune()", () => tune(s, { noDelay: true })],
  ];
  for (const [name, fn] of calls) {
    assert.throws(fn, (e: unknown) => e instanceof ClosedError && e.code === "EBADF", name);
  }
  p.server.close();
  p.listener.close();
});

// ---------------------------------------------------------------------------------------------
// TCP_INFO

for (const family of FAMILIES) {
  Deno.test(`tcpInfo() after a transfer is sane (${family.name})`, async () => {
    await using p = await tcpPair({ ipv6: family.ipv6 });
    const N = 1 << 20;
    const received = (async () => {
      const buf = new Uint8Array(65536);
      let total = 0;
      while (total < N) {
        const n = await p.server.read(buf);
        if (n === null) break;
        total += n;
      }
      return total;
    })();
    await p.client.writeAll(new Uint8Array(N).fill(0x5a));
    assert.equal(await received, N);
    // ACKs come back asynchronously: poll until everything sent is acknowledged (bounded).
    let info = p.client.tcpInfo();
    for (let i = 0; i < 500 && (info.bytesAcked ?? 0) < N; i++) {
      await new Promise((r) => setTimeout(r, 2));
      info = p.client.tcpInfo();
    }
    assert.equal(info.state, "ESTABLISHED");
    assert.equal(info.caState, "Open");
    // The SYN counts for one acknowledged byte of sequence space.
    assert.ok(info.bytesAcked !== undefined && info.bytesAcked >= N, `acked ${info.bytesAcked}`);
    assert.ok(info.bytesSent === undefined || info.bytesSent >= N);
    assert.ok(info.rttUs > 0, `rtt ${info.rttUs}`);
    assert.ok(info.sndMss > 0);
    assert.ok(info.rcvMss > 0);
    assert.ok(info.sndCwnd > 0);
    assert.ok(info.pmtu > 0);
    assert.ok(info.rtoUs > 0);
    assert.ok(info.segsOut !== undefined && info.segsOut > 0);
    assert.equal(info.unacked, 0);
    const server = p.server.tcpInfo();
    assert.equal(server.state, "ESTABLISHED");
    assert.ok(server.bytesReceived !== undefined && server.bytesReceived >= N);
    assert.ok(server.segsIn !== undefined && server.segsIn > 0);
  });
}

Deno.test("tcpInfo() follows the connection through a half-close", async () => {
  await using p = await tcpPair();
  p.client.closeWrite();
  assert.equal(await p.server.read(new Uint8Array(1)), null);
  // The client sent FIN and it was acknowledged; the server received it.
  let client = p.client.tcpInfo();
  for (let i = 0; i < 500 && client.state !== "FIN_WAIT2"; i++) {
    await new Promise((r) => setTimeout(r, 2));
    client = p.client.tcpInfo();
  }
  assert.equal(client.state, "FIN_WAIT2");
  assert.equal(p.server.tcpInfo().state, "CLOSE_WAIT");
});

// ---------------------------------------------------------------------------------------------
// tune()

Deno.test("tune() applies a set and reports before -> after, flagging kernel adjustments", async () => {
  await using p = await tcpPair();
  const changes = tune(p.client, {
    noDelay: true,
    sendBufferSize: 65536,
    recvBufferSize: 65536,
    keepAlive: { idleSec: 30, intervalSec: 5, count: 4 },
    userTimeoutMs: 10000,
    notSentLowat: 16384,
    linger: null,
  });
  const byName = new Map(changes.map((c) => [c.option, c]));
  assert.deepEqual([...byName.keys()], [
    "noDelay",
    "sendBufferSize",
    "recvBufferSize",
    "keepAlive",
    "userTimeoutMs",
    "notSentLowat",
    "linger",
  ]);
  assert.deepEqual(byName.get("noDelay"), {
    option: "noDelay",
    before: false,
    requested: true,
    after: true,
    adjusted: false,
  });
  const send = byName.get("sendBufferSize")!;
  assert.equal(send.requested, 65536);
  assert.equal(send.after, 131072);
  assert.equal(send.adjusted, true, "the kernel doubled SO_SNDBUF");
  assert.equal(byName.get("recvBufferSize")!.after, 131072);
  assert.equal(byName.get("recvBufferSize")!.adjusted, true);
  const keepAlive = byName.get("keepAlive")!;
  assert.equal(keepAlive.before, false);
  assert.deepEqual(keepAlive.after, { idleSec: 30, intervalSec: 5, count: 4 });
  assert.equal(keepAlive.adjusted, false);
  assert.equal(byName.get("userTimeoutMs")!.after, 10000);
  assert.equal(byName.get("notSentLowat")!.adjusted, false);
  assert.deepEqual(byName.get("linger"), {
    option: "linger",
    before: null,
    requested: null,
    after: null,
    adjusted: false,
  });
  // What tune() reported is what the socket now has.
  assert.equal(p.client.noDelay(), true);
  assert.equal(p.client.sendBufferSize(), 131072);
  // The method and the function are the same operation.
  const again = p.client.tune({ noDelay: false });
  assert.deepEqual(again, [{
    option: "noDelay",
    before: true,
    requested: false,
    after: false,
    adjusted: false,
  }]);
});

Deno.test("tune() with nothing to do, an unknown option or a bad value", async () => {
  await using p = await tcpPair();
  assert.deepEqual(tune(p.client, {}), []);
  assert.deepEqual(tune(p.client, { noDelay: undefined } as unknown as opt.TuneSettings), []);
  assert.throws(
    () => tune(p.client, { bogus: 1 } as unknown as opt.TuneSettings),
    TypeError,
  );
  const sendBefore = p.client.sendBufferSize();
  assert.throws(() => tune(p.client, { sendBufferSize: -1 }), RangeError);
  assert.equal(p.client.sendBufferSize(), sendBefore);
  assert.throws(() => tune(p.client, { noDelay: "yes" as unknown as boolean }), TypeError);
  assert.equal(p.client.noDelay(), false);
});

Deno.test("sockopt tests leave the process's fd count where it started", () => {
  assert.equal(fdCount(), baseline);
});

Deno.test("tune() validates every value before the first syscall: bad input changes nothing", async () => {
  await using p = await tcpPair();
  const before = p.client.noDelay();
  assert.throws(() => p.client.tune({ noDelay: !before, sendBufferSize: -1 }), RangeError);
  assert.equal(p.client.noDelay(), before, "noDelay must not have been applied");
  assert.throws(
    () => p.client.tune({ noDelay: !before, linger: "5" as unknown as number }),
    TypeError,
  );
  assert.equal(p.client.noDelay(), before);
  assert.throws(() => p.client.setSendBufferSize("65536" as unknown as number), TypeError);
});
