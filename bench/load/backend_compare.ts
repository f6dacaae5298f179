/**
 * The reactor's two backends side by side in one run (issue 13, "Measured"): netio on io_uring
 * (`--backend uring`, or `NETIO_BACKEND=uring`) against netio on epoll and against the peers the
 * issue names, every figure a median of interleaved rounds, servers on core 0 and load on core 1:
 *
 * - keep-alive hello, `wrk -t1 -c50`, server CPU per request: uring vs Deno.serve (<= 0.8x),
 *   uring vs the C epoll server (<= 1.0x), uring vs epoll and epoll vs Deno.serve
 *   (informative), the C io_uring reference vs the C epoll server (informative);
 * - pipelined x16: uring vs epoll (<= 1.0x);
 * - one connection, p50 latency: uring vs Deno.serve (<= 1.0x), epoll informative;
 * - echo, 100 connections, server CPU per message: uring vs Deno.listen (<= 0.8x), epoll
 *   informative;
 * - the splice proxy, machine-wide CPU per GiB (all cores): uring vs epoll (<= 1.0x);
 * - 10,000 idle keep-alive connections, server RSS per connection: uring vs epoll (<= 1.0x);
 * - syscalls per request under keep-alive load, counted by `strace -c -f` attached to the
 *   server for a short wrk run: uring vs epoll (informative), with the top syscalls per request
 *   of every server printed as a table (the C servers beside them).
 *
 * The C servers (`servers/epoll_reference.c`, `servers/uring_reference.c`) are built with `cc -O2`
 * at run time into /tmp; without a compiler, or without liburing (`apt-get install -y
 * liburing-dev`), their rows are left without a figure and say why. Which backend a netio server
 * really runs is read from its fds (an `anon_inode:[io_uring]` link): a fallback to epoll shows in
 * the rows' notes.
 *
 * ```sh
 * deno run -A bench/load/backend_compare.ts            # about 110 s on 2 cores
 * deno run -A bench/load/backend_compare.ts --rounds 5 --idle 19000 --json bench/out/backend.json
 * ```
 *
 * As a comparison module for `bench/report.ts` it exports {@linkcode compare}.
 *
 * @module
 */
import {
  type ComparisonContext,
  type ComparisonRow,
  comparisonRow,
  detectPinning,
  ensureWrk,
  type IdleMeasurement,
  measureIdleConnections,
  measureLoad,
  median,
  type ServerProcess,
  type ServerSpec,
  startServer,
} from "./lib.ts";
import { echoLoad } from "./reactor_compare.ts";
import { errorLine } from "./_errors.ts";
import { denoRun, NETIO_PERMISSIONS } from "./deno_run.ts";
import {
  HTTP_WORKS,
  type HttpRoundsEntry,
  type HttpRoundSettings,
  type HttpWork,
  medianHttpSample,
  runHttpRounds,
  warmUp,
} from "./http_rounds.ts";
import { type ComparisonFlags, numberFlag, ROUNDS_FLAG, runComparisonMain } from "./runner.ts";
import { buildCServer, C_SERVERS } from "./c_servers.ts";
import { countSyscalls, formatSyscallTable, haveStrace, type SyscallCount } from "./syscalls.ts";
import { buildReference, ensureDataFile, runProxy, type TransferRun } from "./transfer_compare.ts";

/** A reactor backend of netio. */
export type Backend = "uring" | "epoll";

const BACKENDS: readonly Backend[] = ["uring", "epoll"];
const NAMES: Record<Backend, string> = { uring: "netio uring", epoll: "netio epoll" };
const C_URING = "C io_uring server (liburing)";
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------------------------------------
// Server commands

/** `examples/http_server.ts --backend B`. */
function netioHttp(root: string, backend: Backend): ServerSpec {
  return {
    name: NAMES[backend],
    command: denoRun(`${root}examples/http_server.ts`, {
      permissions: [...NETIO_PERMISSIONS, "--allow-sys"],
      args: ["--backend", backend],
    }),
    cwd: root,
  };
}

/** `servers/echo_netio.ts` with `NETIO_BACKEND=B` (`env` execs, so the pid stays the server's). */
function netioEcho(root: string, backend: Backend): ServerSpec {
  return {
    name: `${NAMES[backend]} echo`,
    command: denoRun(`${root}bench/load/servers/echo_netio.ts`, {
      permissions: NETIO_PERMISSIONS,
      env: { NETIO_BACKEND: backend },
    }),
    cwd: root,
  };
}

/**
 * Which backend a netio process runs, read from its fds: an io_uring fd means uring. Deno's own
 * runtime opens none, so this tells a fallback to epoll apart.
 *
 * @example
 * ```ts ignore
 * import { backendOf } from "./backend_compare.ts";
 *
 * console.log(backendOf(Deno.pid)); // "epoll" unless this process opened a ring
 * ```
 */
export function backendOf(pid: number): Backend {
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`) === "anon_inode:[io_uring]") {
        return "uring";
      }
    } catch {
      // closed meanwhile
    }
  }
  return "epoll";
}

/** A note when a netio server does not run the backend it was asked for. */
function backendNote(server: ServerProcess, wanted: Backend): string | undefined {
  const running = backendOf(server.pid);
  if (running === wanted) return undefined;
  const said = server.stderrTail().split("\n").find((line) => /io_uring|epoll/.test(line));
  return `${server.name} runs on ${running}${said ? ` (${said.trim()})` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP: keep-alive, pipelined, one connection

/** A server of the HTTP rounds; `errors` holds its notes too (a fallback, a failed start). */
interface HttpSubject extends HttpRoundsEntry {
  key: "uring" | "epoll" | "deno" | "cEpoll" | "cUring";
  spec: ServerSpec | null;
  /** Why there is no spec (the C server could not be built). */
  missing?: string;
  works: readonly HttpWork[];
}

type HttpSettings = HttpRoundSettings & { warmupSeconds: number };

async function httpRounds(
  subjects: HttpSubject[],
  settings: HttpSettings,
  log: (message: string) => void,
): Promise<void> {
  try {
    for (const subject of subjects) {
      if (subject.spec === null) continue;
      try {
        const server = await startServer(subject.spec);
        subject.server = server;
        if (subject.key === "uring" || subject.key === "epoll") {
          const note = backendNote(server, subject.key);
          if (note) subject.errors.push(note);
        }
        if (subject.key === "cEpoll" || subject.key === "cUring") continue; // no JIT to warm
        await warmUp(server, settings, log);
      } catch (error) {
        subject.errors.push(`${subject.spec.name}: ${errorLine(error)}`);
        log(`  ${subject.spec.name} failed: ${errorLine(error)}`);
      }
    }
    await runHttpRounds(subjects, settings, { log });
  } finally {
    for (const subject of subjects) await subject.server?.stop();
  }
}

function httpFigure(subject: HttpSubject, work: HttpWork): number | null {
  const chosen = medianHttpSample(work, subject.samples[work]);
  if (chosen === undefined) return null;
  return work === "oneConnection" ? chosen.wrk.latencyUs.p50 : chosen.cpuUsPerRequest;
}

function httpNotes(subjects: HttpSubject[], work: HttpWork): string[] {
  const notes: string[] = [];
  for (const subject of subjects) {
    const samples = subject.samples[work];
    const name = subject.spec?.name ?? subject.key;
    if (subject.missing) notes.push(`${name}: ${subject.missing}`);
    notes.push(...subject.errors.filter((n) => !/^(keepAlive|pipelined|oneConnection):/.test(n)));
    notes.push(
      ...subject.errors.filter((n) => n.startsWith(`${work}:`)).map((n) =>
        `${name} ${errorLine(n)}`
      ),
    );
    const errors = samples.reduce((sum, sample) => sum + sample.errors, 0);
    if (errors > 0) notes.push(`${name}: wrk saw ${errors} errors`);
    const disturbed = samples.filter((s) =>
      (s.serverCoreOtherSeconds ?? 0) > 0.1 * s.wrk.durationSeconds
    ).length;
    if (disturbed > 0) notes.push(`${name}: ${disturbed}/${samples.length} rounds disturbed`);
    if (samples.length > 1) {
      const figures = samples.map((s) =>
        work === "oneConnection" ? s.wrk.latencyUs.p50 ?? NaN : s.cpuUsPerRequest
      );
      notes.push(
        `${name} ${Math.min(...figures).toFixed(2)}..${Math.max(...figures).toFixed(2)}`,
      );
    }
  }
  return notes;
}

// ---------------------------------------------------------------------------------------------
// Echo, proxy, idle, syscalls

async function echoRounds(
  root: string,
  rounds: number,
  seconds: number,
  log: (message: string) => void,
): Promise<{ cpu: Record<string, number[]>; notes: string[] }> {
  const specs: [string, ServerSpec][] = [
    ["uring", netioEcho(root, "uring")],
    ["epoll", netioEcho(root, "epoll")],
    ["deno", {
      name: "Deno.listen echo",
      command: [Deno.execPath(), "run", "--allow-net", `${root}bench/load/servers/echo_deno.ts`],
    }],
  ];
  const cpu: Record<string, number[]> = { uring: [], epoll: [], deno: [] };
  const notes: string[] = [];
  const servers: [string, ServerProcess][] = [];
  try {
    for (const [key, spec] of specs) {
      try {
        const server = await startServer(spec);
        servers.push([key, server]);
        if (key === "uring" || key === "epoll") {
          const note = backendNote(server, key);
          if (note) notes.push(note);
        }
      } catch (error) {
        notes.push(`${spec.name}: ${errorLine(error)}`);
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const [key, server] of servers) {
        log(`  round ${round}/${rounds}: ${server.name}, 100 connections (${seconds}s)`);
        try {
          cpu[key]!.push((await echoLoad(server, 100, seconds)).cpuUsPerMessage);
        } catch (error) {
          notes.push(`${server.name}: ${errorLine(error)}`);
        }
      }
    }
  } finally {
    for (const [, server] of servers) await server.stop();
  }
  return { cpu, notes };
}

/** One proxied transfer of `repeat` x 256 MiB through netio's splice proxy on `backend`. */
function proxyRun(backend: Backend, withC: boolean, repeat: number): Promise<TransferRun> {
  return runProxy("netio", {
    sink: withC ? "c" : "deno",
    repeat,
    env: { NETIO_BACKEND: backend },
    onListening: (relay) => {
      const running = backendOf(relay.pid);
      if (running !== backend) throw new Error(`the ${backend} proxy runs on ${running}`);
    },
  });
}

async function idleRun(
  root: string,
  backend: Backend,
  count: number,
): Promise<IdleMeasurement & { note?: string }> {
  await using server = await startServer(netioHttp(root, backend));
  const note = backendNote(server, backend);
  await measureLoad(server, { connections: 50, durationSeconds: 1 });
  const idle = await measureIdleConnections(server, { count });
  return note ? { ...idle, note } : idle;
}

// ---------------------------------------------------------------------------------------------
// compare

/**
 * Runs every measurement and returns the rows (see the module documentation). `flags` (from the
 * command line) override the settings: `rounds`, `duration`, `latency-duration`, `echo-duration`,
 * `idle` (connections, 0 skips), `proxy-mib` (0 skips), `strace-duration` (0 skips).
 *
 * @example
 * ```ts ignore
 * import { compare } from "./backend_compare.ts";
 *
 * const rows = await compare({ root: "/work/main/", log: console.error }, { rounds: "1" });
 * for (const row of rows) console.log(row.work, row.ratio?.toFixed(2), row.met);
 * ```
 */
export async function compare(
  context: ComparisonContext,
  flags: ComparisonFlags = {},
): Promise<ComparisonRow[]> {
  const { root, log } = context;
  await ensureWrk({ install: context.install ?? false, log });
  const pinning = await detectPinning();
  if (pinning.warning) log(`pinning: ${pinning.warning}`);
  const full = context.full ?? false;
  const rounds = Math.max(1, Math.floor(numberFlag(flags, "rounds") ?? 3));
  const http: HttpSettings = {
    rounds,
    durationSeconds: Math.max(1, Math.round(numberFlag(flags, "duration") ?? (full ? 4 : 2))),
    latencySeconds: Math.max(
      1,
      Math.round(numberFlag(flags, "latency-duration") ?? (full ? 3 : 1)),
    ),
    warmupSeconds: 1,
    connections: 50,
    pipeline: 16,
    works: HTTP_WORKS,
  };
  const echoSeconds = numberFlag(flags, "echo-duration") ?? (full ? 4 : 1.5);
  const idleCount = Math.floor(numberFlag(flags, "idle") ?? 10_000);
  if (idleCount > 19_500) throw new Error("--idle: at most 19500 (20,000 fds per process here)");
  const proxyMiB = Math.floor(numberFlag(flags, "proxy-mib") ?? (full ? 1024 : 256));
  const straceSeconds = Math.round(numberFlag(flags, "strace-duration") ?? 2);

  const cEpollMissing = await buildCServer("epoll");
  const cUringMissing = await buildCServer("uring");
  if (cEpollMissing) log(`C epoll server skipped: ${cEpollMissing}`);
  if (cUringMissing) log(`C io_uring server skipped: ${cUringMissing}`);
  const cSpec = (which: keyof typeof C_SERVERS, missing: string | null): ServerSpec | null =>
    missing === null ? { name: C_SERVERS[which].name, command: [C_SERVERS[which].binary] } : null;
  const subject = (
    key: HttpSubject["key"],
    spec: ServerSpec | null,
    works: readonly HttpWork[],
    missing?: string | null,
  ): HttpSubject => ({
    key,
    spec,
    ...(missing ? { missing } : {}),
    server: null,
    works,
    samples: { keepAlive: [], pipelined: [], oneConnection: [] },
    errors: [],
  });
  const all = HTTP_WORKS;
  const subjects = {
    uring: subject("uring", netioHttp(root, "uring"), all),
    epoll: subject("epoll", netioHttp(root, "epoll"), all),
    deno: subject("deno", {
      name: "Deno.serve",
      command: [Deno.execPath(), "run", "--allow-net", `${root}bench/load/servers/deno_serve.ts`],
      cwd: root,
    }, ["keepAlive", "oneConnection"]),
    cEpoll: subject("cEpoll", cSpec("epoll", cEpollMissing), ["keepAlive"], cEpollMissing),
    cUring: subject("cUring", cSpec("uring", cUringMissing), ["keepAlive"], cUringMissing),
  };
  log(
    `HTTP: ${rounds} interleaved rounds; keep-alive and pipelined ${http.durationSeconds}s, ` +
      `one connection ${http.latencySeconds}s`,
  );
  await httpRounds(Object.values(subjects), http, log);

  log(`echo: ${rounds} rounds of 100 connections, ${echoSeconds}s each`);
  const echo = await echoRounds(root, rounds, echoSeconds, log);

  const proxy: Record<Backend, TransferRun[]> = { uring: [], epoll: [] };
  const proxyNotes: string[] = [];
  let withCSink = false;
  if (proxyMiB > 0) {
    await ensureDataFile(log);
    withCSink = await buildReference(log);
    const repeat = Math.max(1, Math.round(proxyMiB / 256));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? BACKENDS : [...BACKENDS].reverse();
      for (const backend of order) {
        log(`  round ${round}/${rounds}: splice proxy on ${backend}, ${repeat * 256} MiB`);
        try {
          proxy[backend].push(await proxyRun(backend, withCSink, repeat));
        } catch (error) {
          proxyNotes.push(errorLine(error));
        }
      }
    }
  }

  const idle: Partial<Record<Backend, IdleMeasurement & { note?: string }>> = {};
  const idleNotes: string[] = [];
  if (idleCount > 0) {
    for (const backend of BACKENDS) {
      log(`  ${NAMES[backend]}: ${idleCount} idle keep-alive connections (fresh process)`);
      try {
        const run = await idleRun(root, backend, idleCount);
        idle[backend] = run;
        if (run.note) idleNotes.push(run.note);
        idleNotes.push(
          `${backend}: ${run.answeredFirst}/${run.count} answered, ` +
            `${run.answeredSecond} again; RSS ${(run.rssBeforeBytes / MiB).toFixed(0)} -> ` +
            `${(run.rssIdleBytes / MiB).toFixed(0)} MiB`,
        );
      } catch (error) {
        idleNotes.push(`${backend}: ${errorLine(error)}`);
      }
    }
  }

  const syscalls: SyscallCount[] = [];
  const syscallNotes: string[] = [];
  if (straceSeconds > 0 && await haveStrace()) {
    const traced: ServerSpec[] = [
      netioHttp(root, "uring"),
      netioHttp(root, "epoll"),
      ...(subjects.cUring.spec ? [subjects.cUring.spec] : []),
      ...(subjects.cEpoll.spec ? [subjects.cEpoll.spec] : []),
    ];
    for (const spec of traced) {
      log(`  ${spec.name}: strace -c -f during wrk -c50 ${straceSeconds}s`);
      try {
        await using server = await startServer(spec);
        if (spec.command[0] === Deno.execPath()) {
          await measureLoad(server, { connections: 50, durationSeconds: 1 });
        }
        syscalls.push(await countSyscalls(server, straceSeconds, 50));
      } catch (error) {
        syscallNotes.push(`${spec.name}: ${errorLine(error)}`);
      }
    }
    if (syscalls.length > 0) {
      log(`syscalls per request under strace:\n${formatSyscallTable(syscalls)}`);
    }
  } else if (straceSeconds > 0) {
    syscallNotes.push("strace not installed");
  }

  // ---- rows
  const s = subjects;
  const keepAlive = `keep-alive hello, wrk -c${http.connections}, server CPU per request`;
  const perRound = `median of ${rounds} interleaved rounds`;
  const notesOf = (list: HttpSubject[], work: HttpWork): string =>
    [perRound, ...httpNotes(list, work)].join("; ");
  const pipelined = `pipelined x${http.pipeline}, wrk -c${http.connections}, server CPU per ` +
    "request, netio on io_uring";
  const oneConnection = "one connection, wrk -c1, p50 latency, netio on";
  const [oneOnUring, oneOnEpoll] = [`${oneConnection} io_uring`, `${oneConnection} epoll`];
  const onUring = `${keepAlive}, netio on io_uring`;
  // The work, the row's label, netio's side, the peer and its name, the target, whose notes the
  // row shows, and who stands in netio's column when it is not netio.
  type HttpRowSpec = [
    HttpWork,
    string,
    HttpSubject,
    HttpSubject,
    string,
    number | null,
    HttpSubject[],
    string?,
  ];
  const httpTable: HttpRowSpec[] = [
    ["keepAlive", onUring, s.uring, s.deno, "Deno.serve", 0.8, [s.uring, s.deno]],
    ["keepAlive", onUring, s.uring, s.cEpoll, "C epoll server", 1, [s.cEpoll]],
    ["keepAlive", onUring, s.uring, s.epoll, "netio on epoll", null, [s.epoll]],
    ["keepAlive", `${keepAlive}, netio on epoll`, s.epoll, s.deno, "Deno.serve", null, []],
    ["keepAlive", keepAlive, s.cUring, s.cEpoll, "C epoll server", null, [s.cUring], C_URING],
    ["pipelined", pipelined, s.uring, s.epoll, "netio on epoll", 1, [s.uring, s.epoll]],
    ["oneConnection", oneOnUring, s.uring, s.deno, "Deno.serve", 1, [s.uring, s.deno]],
    ["oneConnection", oneOnEpoll, s.epoll, s.deno, "Deno.serve", null, [s.epoll]],
  ];
  const rows: ComparisonRow[] = httpTable.map((
    [work, label, subject, peer, peerName, target, noted, subjectName],
  ) =>
    comparisonRow({
      work: label,
      netio: httpFigure(subject, work),
      peer: httpFigure(peer, work),
      peerName,
      ...(subjectName ? { subjectName } : {}),
      unit: work === "oneConnection" ? "us" : "us CPU/request",
      target,
      ...(noted.length > 0 ? { note: notesOf(noted, work) } : {}),
    })
  );
  const echoNote = [
    `median of ${rounds} interleaved rounds of ${echoSeconds}s`,
    ...Object.entries(echo.cpu).filter(([, v]) => v.length > 0).map(([k, v]) =>
      `${k} ${v.map((x) => x.toFixed(2)).join(", ")}`
    ),
    ...echo.notes,
  ].join("; ");
  for (const backend of BACKENDS) {
    rows.push(comparisonRow({
      work: `echo, 100 connections, server CPU per message, netio on ${
        backend === "uring" ? "io_uring" : "epoll"
      }`,
      netio: echo.cpu[backend]!.length > 0 ? median(echo.cpu[backend]!) : null,
      peer: echo.cpu.deno!.length > 0 ? median(echo.cpu.deno!) : null,
      peerName: "Deno.listen",
      unit: "us CPU/message",
      target: backend === "uring" ? 0.8 : null,
      ...(backend === "uring" ? { note: echoNote } : {}),
    }));
  }
  if (proxyMiB > 0) {
    const machine = (runs: TransferRun[]): number | null =>
      runs.length > 0 ? median(runs.map((r) => r.machineCpuPerGiB)) : null;
    const process = (runs: TransferRun[]): string =>
      runs.length > 0 ? median(runs.map((r) => r.cpuPerGiB)).toFixed(3) : "-";
    const speed = (runs: TransferRun[]): string =>
      runs.length > 0 ? median(runs.map((r) => r.bytes / GiB / r.wallSeconds)).toFixed(2) : "-";
    rows.push(comparisonRow({
      work: `splice proxy, ${Math.max(1, Math.round(proxyMiB / 256)) * 256} MiB over loopback, ` +
        "machine-wide CPU, netio on io_uring",
      netio: machine(proxy.uring),
      peer: machine(proxy.epoll),
      peerName: "netio splice proxy on epoll",
      unit: "CPU s/GiB, all cores",
      target: 1,
      note: [
        `median of ${rounds}, alternating order; ${withCSink ? "C" : "Deno"} sink and netio ` +
        `source on core 1, proxy on core 0`,
        `per process ${process(proxy.uring)} vs ${process(proxy.epoll)} s/GiB`,
        `${speed(proxy.uring)} vs ${speed(proxy.epoll)} GiB/s`,
        `machine-wide ${proxy.uring.map((r) => r.machineCpuPerGiB.toFixed(2)).join(", ")} vs ` +
        `${proxy.epoll.map((r) => r.machineCpuPerGiB.toFixed(2)).join(", ")}`,
        ...proxyNotes,
      ].join("; "),
    }));
  }
  if (idleCount > 0) {
    const kib = (m: IdleMeasurement | undefined): number | null =>
      m ? m.rssPerConnectionBytes / 1024 : null;
    rows.push(comparisonRow({
      work: `${idleCount} idle keep-alive connections, server RSS, netio on io_uring`,
      netio: kib(idle.uring),
      peer: kib(idle.epoll),
      peerName: "netio on epoll",
      unit: "KiB/connection",
      target: 1,
      note: ["one fresh process each", ...idleNotes].join("; "),
    }));
  }
  if (straceSeconds > 0) {
    const perRequest = (name: string): number | null => {
      const count = syscalls.find((c) => c.name === name);
      return count && count.requests > 0 ? count.total / count.requests : null;
    };
    const top = (name: string): string => {
      const count = syscalls.find((c) => c.name === name);
      if (!count || count.requests === 0) return "";
      return `${name}: ` + Object.entries(count.calls).sort((a, b) => b[1] - a[1]).slice(0, 4)
        .map(([call, n]) => `${call} ${(n / count.requests).toFixed(2)}`).join(", ");
    };
    rows.push(comparisonRow({
      work:
        `syscalls per request, keep-alive hello, wrk -c50 under strace -c -f, netio on io_uring`,
      netio: perRequest(NAMES.uring),
      peer: perRequest(NAMES.epoll),
      peerName: "netio on epoll",
      unit: "syscalls/request",
      target: null,
      note: [
        top(NAMES.uring),
        top(NAMES.epoll),
        ...syscalls.filter((c) => !Object.values(NAMES).includes(c.name)).map((c) =>
          `${c.name} ${(c.total / Math.max(1, c.requests)).toFixed(2)}/request`
        ),
        ...syscallNotes,
      ].filter((n) => n !== "").join("; "),
    }));
  }
  return rows;
}

if (import.meta.main) {
  await runComparisonMain(compare, import.meta, {
    description: "netio's reactor backends side by side (io_uring vs epoll) with Deno.serve, " +
      "Deno.listen\nand C epoll/io_uring servers: CPU per request, latency, proxy CPU per GiB, " +
      "idle memory,\nsyscalls per request.",
    flags: {
      rounds: ROUNDS_FLAG,
      duration: {
        type: "string",
        value: "S",
        help: "whole seconds per keep-alive/pipelined run (default 2, full 4)",
      },
      "latency-duration": {
        type: "string",
        value: "S",
        help: "whole seconds of the one-connection run (default 1, full 3)",
      },
      "echo-duration": {
        type: "string",
        value: "S",
        help: "seconds per echo run (default 1.5, full 4)",
      },
      idle: {
        type: "string",
        value: "N",
        help: "idle keep-alive connections per backend (default 10000; 0 skips)",
      },
      "proxy-mib": {
        type: "string",
        value: "MIB",
        help: "MiB per proxy run, in 256 MiB steps (default 256, full 1024; 0 skips)",
      },
      "strace-duration": {
        type: "string",
        value: "S",
        help: "whole seconds of the wrk run under strace (default 2; 0 skips)",
      },
    },
  });
}
