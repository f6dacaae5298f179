/**
 * `deno task mutants [target...] [--concurrency N] [--mutate file:lines]`: the mutation score of
 * netio's core paths, measured by Stryker (https://stryker-mutator.io) with its command test
 * runner driving `deno test`. On demand only: CI never runs it (a full run takes tens of minutes).
 *
 * Stryker is installed here, in tools/mutants/node_modules (`npm ci --prefix tools/mutants`, on
 * the first run), never in the library: netio itself has no dependency. One Stryker run per
 * target below, mutating only that target's files (or line ranges of them) and running only the
 * test files that specify them, so a run stays bounded. Reports go to .tmp/mutants/ (ignored):
 * one HTML and one JSON report per target and summary.md, the per-file scores printed at the end.
 *
 * @module
 */

/**
 * Part of a file: from the line holding `from` up to the line before the next one holding `to`
 * (or to the end). Found when the run starts, so the ranges follow edits of the file.
 */
interface Span {
  file: string;
  from: string;
  to?: string;
}

/** One Stryker run: the code it mutates and the tests that must notice. */
interface Target {
  /** Name on the command line and of the report files. */
  name: string;
  /** Whole files, or spans of them. */
  mutate: (string | Span)[];
  /** Test files run against every mutant. */
  tests: string[];
}

const TARGETS: Target[] = [
  {
    name: "reactor",
    // Registration (register, modify, deregister, refs), the turn budget and the dispatch loop;
    // the epoll backend's ctl and poll.
    mutate: [
      {
        file: "lib/reactor/reactor.ts",
        from: "  #ctl(epfd",
        to: "  #runPump(): void",
      },
      "lib/reactor/registration.ts",
      { file: "lib/reactor/backend.ts", from: "export class EpollBackend" },
    ],
    tests: [
      "tests/reactor_test.ts",
      "tests/reactor_registration_test.ts",
      "tests/reactor_mutants_test.ts",
      // The io_uring receive path of register/dispatch/drainReceived (ignored where io_uring
      // cannot receive).
      "tests/uring_receive_test.ts",
    ],
  },
  {
    name: "net",
    // connect, tryRead/tryWrite, the waits, read/write/writeAll, closeWrite, close; accept and
    // the EMFILE spare; the one-waiter readiness state.
    mutate: [
      {
        file: "lib/net/stream.ts",
        from: "static async connect(",
        to: "  static {",
      },
      {
        file: "lib/net/listener.ts",
        from: "  tryAccept(): TcpStream",
        to: "  reuseAddress(): boolean",
      },
      "lib/net/readiness.ts",
    ],
    // transfer_test: writev and sendFile wait through the stream's waitWritable. net_mutants_test
    // first: it is quick and kills most listener/readiness mutants (--fail-fast stops there).
    tests: [
      "tests/net_mutants_test.ts",
      "tests/socket_test.ts",
      "tests/transfer_test.ts",
    ],
  },
  {
    name: "write",
    mutate: ["lib/net/write.ts"],
    tests: ["tests/transfer_test.ts", "tests/socket_test.ts"],
  },
  {
    name: "transfer",
    mutate: [
      {
        file: "lib/transfer/sendfile.ts",
        from: "export async function sendFile(",
      },
      { file: "lib/transfer/splice.ts", from: "function closePipe(" },
    ],
    tests: [
      "tests/transfer_test.ts",
      "tests/proxy_test.ts",
      "tests/transfer_mutants_test.ts",
    ],
  },
  {
    name: "pool",
    // The idle health check, check-in and the hand-over to waiters, dispatch and the sweep.
    mutate: [
      "lib/pool/_health.ts",
      {
        file: "lib/pool/pool.ts",
        from: "  #settle(host",
        to: "  #evictIdleElsewhere(",
      },
    ],
    tests: ["tests/pool_test.ts", "tests/pool_mutants_test.ts"],
  },
  {
    name: "http",
    // Request framing and rejections: parse() and the partial-head, request-line and head checks;
    // the base's resume/scan/body steps; the chunked decoder; the head scanner and field checks.
    mutate: [
      {
        file: "lib/http/request_parser.ts",
        from: "  parse(buf: Uint8Array",
        to: "  reset(): void",
      },
      { file: "lib/http/request_parser.ts", from: "  #checkPartialHead(" },
      {
        file: "lib/http/_parser_base.ts",
        from: "  resume(buf: Uint8Array",
        to: "  get headComplete",
      },
      { file: "lib/http/_chunked.ts", from: "  #lineEnd(" },
      {
        file: "lib/http/_head.ts",
        from: "  scan(buf: Uint8Array",
        to: "export class FieldSection",
      },
      { file: "lib/http/_head.ts", from: "export function parseFieldLines(" },
    ],
    tests: [
      "tests/http1_test.ts",
      "tests/http1_chunked_test.ts",
      "tests/http_parser_edges_test.ts",
    ],
  },
  {
    name: "uring-send",
    // Sends on the io_uring ring: the backend's send and its completions, the send buffers, the
    // HTTP core's use of them (its batch's send, the end of a send). (backend_test, which tests
    // the ring's forget(), runs a child process without env access: Stryker's instrumented code
    // cannot run there.)
    mutate: [
      {
        file: "lib/reactor/uring_backend.ts",
        from: "  send(fd: number, data: Uint8Array, n: number): boolean {",
        to: "  eventFd(i: number): number {",
      },
      { file: "ffi/uring_buffers.ts", from: "export class SendBuffers" },
      {
        file: "lib/http/_output_batch.ts",
        from: "  #send(c: Conn, bytes",
        to: "  /** Copies the unwritten part",
      },
      { file: "lib/http/server.ts", from: "  #onSent = (", to: "  // Closing" },
    ],
    tests: ["tests/uring_send_test.ts"],
  },
];

const ROOT = new URL("../../", import.meta.url).pathname;
const HERE = `${ROOT}tools/mutants/`;
const OUT = `${ROOT}.tmp/mutants/`;
const STRYKER = `${HERE}node_modules/@stryker-mutator/core/bin/stryker.js`;

/** Stryker's `mutate` entry for a file or a span (`path:firstLine-lastLine`). */
async function mutateEntry(entry: string | Span): Promise<string> {
  if (typeof entry === "string") return entry;
  const lines = (await Deno.readTextFile(`${ROOT}${entry.file}`)).split("\n");
  const first = lines.findIndex((l) => l.includes(entry.from));
  if (first < 0) {
    throw new Error(
      `${entry.file}: no line holds ${JSON.stringify(entry.from)}`,
    );
  }
  let last = lines.length;
  if (entry.to !== undefined) {
    const end = lines.findIndex((l, i) => i > first && l.includes(entry.to!));
    if (end < 0) {
      throw new Error(
        `${entry.file}: no line holds ${JSON.stringify(entry.to)}`,
      );
    }
    last = end; // the line before `to`, counted from 1
  }
  return `${entry.file}:${first + 1}-${last}`;
}

/** Runs a command in the repository root with inherited output; its exit code. */
async function sh(cmd: string, args: string[]): Promise<number> {
  const { code } = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

/** The shell command Stryker runs for every mutant of `target`. */
function testCommand(target: Target): string {
  // preload.ts lets the subprocesses that tests spawn read the active mutant's id.
  const args = [
    "deno",
    "test",
    "--allow-all",
    "--no-check",
    "--fail-fast",
    "--reporter=dot",
  ];
  return [...args, `--preload=${HERE}preload.ts`, ...target.tests].join(" ");
}

/** Stryker's options for one target (written to .tmp/mutants/<name>.config.json). */
function strykerConfig(
  target: Target,
  concurrency: number,
  report: string,
): Record<string, unknown> {
  return {
    testRunner: "command",
    commandRunner: { command: testCommand(target) },
    mutate: target.mutate,
    coverageAnalysis: "off",
    concurrency,
    // Each mutant may take the dry run's time x 1.5 + 5 s before it counts as a timeout
    // (detected). A mutant that loops forever is killed at that point.
    timeoutMS: 5_000,
    timeoutFactor: 1.5,
    dryRunTimeoutMinutes: 5,
    reporters: ["clear-text", "progress", "html", "json"],
    htmlReporter: { fileName: `.tmp/mutants/${report}.html` },
    jsonReporter: { fileName: `.tmp/mutants/${report}.json` },
    clearTextReporter: {
      allowColor: false,
      logTests: false,
      reportScoreTable: true,
    },
    tempDirName: `.tmp/mutants/sandbox-${target.name}`,
    cleanTempDir: true,
    // What the tests import is copied to the sandbox (lib, ffi, tests, examples, mod.ts...).
    ignorePatterns: ["/bench", "/tools", "/.tmp", "/.ci"],
    thresholds: { high: 90, low: 85, break: null },
    disableTypeChecks: false,
    logLevel: "info",
    fileLogLevel: "off",
  };
}

/** One JSON report's mutants, counted per file. */
interface FileScore {
  file: string;
  killed: number;
  timeout: number;
  survived: number;
  ignored: number;
  errors: number;
}

interface ReportMutant {
  status: string;
  mutatorName: string;
  replacement?: string;
  location: { start: { line: number; column: number } };
}

/** Per-file counts from a Stryker JSON report (mutation-testing-report-schema). */
async function readReport(
  name: string,
): Promise<{ files: FileScore[]; survivors: string[] }> {
  const report = JSON.parse(await Deno.readTextFile(`${OUT}${name}.json`)) as {
    files: Record<string, { mutants: ReportMutant[] }>;
  };
  const files: FileScore[] = [];
  const survivors: string[] = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const s: FileScore = {
      file,
      killed: 0,
      timeout: 0,
      survived: 0,
      ignored: 0,
      errors: 0,
    };
    for (const m of mutants) {
      if (m.status === "Killed") s.killed++;
      else if (m.status === "Timeout") s.timeout++;
      else if (m.status === "Survived" || m.status === "NoCoverage") {
        s.survived++;
        const at = `${file}:${m.location.start.line}:${m.location.start.column}`;
        survivors.push(
          `${at} ${m.mutatorName} -> ${JSON.stringify(m.replacement ?? "")}`,
        );
      } else if (m.status === "Ignored") s.ignored++;
      else s.errors++; // CompileError, RuntimeError: not counted, as Stryker does
    }
    files.push(s);
  }
  return { files, survivors };
}

/** Killed + timed out over every counted mutant, in percent. */
function score(s: Omit<FileScore, "file">): number {
  const detected = s.killed + s.timeout;
  const valid = detected + s.survived;
  return valid === 0 ? 100 : (100 * detected) / valid;
}

async function main(argv: string[]): Promise<number> {
  let concurrency = 2;
  const names: string[] = [];
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--concurrency") concurrency = Number(argv[++i]);
    else if (a.startsWith("--concurrency=")) concurrency = Number(a.slice(14));
    else if (a === "--mutate") only.push(argv[++i] ?? "");
    else if (a === "--help" || a === "-h") {
      console.log(
        `usage: deno task mutants [target...] [--concurrency N] [--mutate file:lines]...
targets: ${TARGETS.map((t) => t.name).join(" ")} (default: all)
reports: .tmp/mutants/<target>.html, .json; summary.md
--mutate replaces one target's files (a quick re-run of a few lines while killing survivors);
its report is <target>-partial, left out of the summary.`,
      );
      return 0;
    } else names.push(a);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    console.error("--concurrency takes a positive integer");
    return 2;
  }
  const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length) {
    console.error(
      `unknown target(s): ${unknown.join(", ")}; known: ${TARGETS.map((t) => t.name)}`,
    );
    return 2;
  }
  const targets = names.length ? TARGETS.filter((t) => names.includes(t.name)) : TARGETS;
  if (only.length && targets.length !== 1) {
    console.error("--mutate needs exactly one target");
    return 2;
  }

  try {
    await Deno.stat(STRYKER);
  } catch {
    console.log("installing Stryker into tools/mutants/node_modules (npm ci)");
    const code = await sh("npm", [
      "ci",
      "--prefix",
      HERE,
      "--no-audit",
      "--no-fund",
    ]);
    if (code !== 0) return code;
  }
  await Deno.mkdir(OUT, { recursive: true });

  let failed = 0;
  for (const target of targets) {
    const mutate = only.length ? only : await Promise.all(target.mutate.map(mutateEntry));
    const run = { ...target, mutate };
    const report = only.length ? `${target.name}-partial` : target.name;
    console.log(
      `\n== ${target.name}: ${run.mutate.join(" ")}\n   ${testCommand(run)}`,
    );
    const config = `${OUT}${report}.config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify(strykerConfig(run, concurrency, report), null, 2),
    );
    const code = await sh("node", [STRYKER, "run", config]);
    if (code !== 0) {
      console.error(`stryker failed for ${target.name} (exit ${code})`);
      failed++;
    }
  }

  // The summary covers every report present, so targets can be run one at a time.
  const rows: FileScore[] = [];
  const survivors: string[] = [];
  for (const t of TARGETS) {
    try {
      const r = await readReport(t.name);
      rows.push(...r.files);
      survivors.push(...r.survivors);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const total = { killed: 0, timeout: 0, survived: 0, ignored: 0, errors: 0 };
  const lines = [
    `# Mutation score (${new Date().toISOString().slice(0, 10)})`,
    "",
    "| file | score | killed | timeout | survived | ignored | errors |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    for (
      const k of ["killed", "timeout", "survived", "ignored", "errors"] as const
    ) {
      total[k] += r[k];
    }
    lines.push(
      `| ${r.file} | ${
        score(r).toFixed(1)
      }% | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.ignored} | ${r.errors} |`,
    );
  }
  lines.push(
    `| **all** | **${
      score(total).toFixed(1)
    }%** | ${total.killed} | ${total.timeout} | ${total.survived} | ${total.ignored} | ${total.errors} |`,
    "",
    "Score: (killed + timeout) / (killed + timeout + survived); ignored = `// Stryker disable`",
    "comments (equivalent mutants), errors = mutants that did not compile or load.",
    "",
    "## Survivors",
    "",
    ...survivors.map((s) => `- ${s}`),
    "",
  );
  const summary = lines.join("\n");
  await Deno.writeTextFile(`${OUT}summary.md`, summary);
  console.log(`\n${summary}`);
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
