/**
 * Runs every whole-program comparison that exists and writes the results: `bench/RESULTS.md`
 * (netio beside each peer, the ratio, the target, whether it is met, and the machine) and
 * `bench/results.svg` (ratios as bars with their target lines).
 *
 * Each comparison is a module exporting `compare(context): Promise<ComparisonRow[]>` (see
 * `bench/load/_rows.ts`); a listed module whose file does not exist yet is skipped and named in
 * the report. Progress goes to stderr. A default run takes about three and a half minutes on two
 * cores.
 *
 * ```sh
 * deno run -A bench/report.ts            # short runs, 2,000 idle connections
 * deno run -A bench/report.ts --full     # longer runs, 19,000 idle connections
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type ComparisonContext,
  type ComparisonModule,
  type ComparisonRow,
  formatFigure,
  killAllServers,
  type MachineInfo,
  machineInfo,
  metText,
  targetText,
} from "./load/lib.ts";

/** A comparison module the report runs when its file exists. */
export interface ComparisonEntry {
  /** Section name in the report, e.g. "HTTP server". */
  name: string;
  /** Module path relative to this file, e.g. "./load/http_compare.ts". */
  path: string;
}

/**
 * The comparisons, in report order. Add a module here when it lands; until its file exists the
 * report lists it as not yet present.
 */
export const COMPARISONS: readonly ComparisonEntry[] = [
  { name: "HTTP server", path: "./load/http_compare.ts" },
  { name: "serve(), the fetch-standard server", path: "./load/serve_compare.ts" },
  { name: "reactor (echo, wake latency)", path: "./load/reactor_compare.ts" },
  { name: "reactor backends (io_uring vs epoll)", path: "./load/backend_compare.ts" },
  { name: "fairness with Deno's own I/O", path: "./load/fairness_compare.ts" },
  { name: "transfers (sendfile, splice, proxy, writev)", path: "./load/transfer_compare.ts" },
  { name: "connection pool", path: "./load/pool_compare.ts" },
  { name: "FFI calls", path: "./load/ffi_compare.ts" },
];

/** What one comparison module gave: rows, or why there are none. */
export interface SectionResult {
  /** The entry that was run. */
  entry: ComparisonEntry;
  /** "ok", "absent" (file not there yet) or "failed". */
  status: "ok" | "absent" | "failed";
  /** Rows returned. */
  rows: ComparisonRow[];
  /** The failure, when `status` is "failed". */
  error?: string;
  /** Wall seconds the comparison took. */
  seconds: number;
}

/** Options of {@linkcode runComparisons}. */
export interface RunComparisonsOptions {
  /** Modules to run; default {@linkcode COMPARISONS}. */
  entries?: readonly ComparisonEntry[];
  /** Passed to every module. */
  context: ComparisonContext;
}

/**
 * Imports and runs each comparison module whose file exists, one after another; a module that
 * throws is recorded as failed and the others still run.
 *
 * @example
 * ```ts ignore
 * import { runComparisons } from "./report.ts";
 *
 * const sections = await runComparisons({
 *   entries: [{ name: "HTTP server", path: "./load/http_compare.ts" }],
 *   context: { root: Deno.cwd() + "/", log: console.error },
 * });
 * console.log(sections.map((s) => `${s.entry.name}: ${s.status}`));
 * ```
 */
export async function runComparisons(options: RunComparisonsOptions): Promise<SectionResult[]> {
  const { context } = options;
  const sections: SectionResult[] = [];
  for (const entry of options.entries ?? COMPARISONS) {
    const url = new URL(entry.path, import.meta.url);
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      await Deno.stat(url);
    } catch {
      context.log(`- ${entry.name}: ${entry.path} not present yet, skipped`);
      sections.push({ entry, status: "absent", rows: [], seconds: 0 });
      continue;
    }
    context.log(`- ${entry.name} (${entry.path})`);
    try {
      const module = (await import(url.href)) as Partial<ComparisonModule>;
      if (typeof module.compare !== "function") {
        throw new Error(`${entry.path} exports no compare(context) function`);
      }
      const rows = await module.compare(context);
      sections.push({ entry, status: "ok", rows, seconds: seconds() });
      context.log(`  ${entry.name}: ${rows.length} rows in ${seconds().toFixed(0)} s`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.log(`  ${entry.name} failed: ${message}`);
      sections.push({ entry, status: "failed", rows: [], error: message, seconds: seconds() });
    } finally {
      killAllServers();
    }
  }
  return sections;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * Renders the sections and the machine as `bench/RESULTS.md`.
 *
 * @example
 * ```ts
 * import { renderMarkdown } from "./report.ts";
 *
 * const markdown = renderMarkdown([], {
 *   cpuModel: "AMD EPYC",
 *   cores: 2,
 *   kernel: "6.1.0",
 *   deno: "2.9.6",
 *   node: "v20.20.2",
 *   wrk: "wrk 4.1.0",
 *   pinning: "server: taskset -c 0, load: taskset -c 1",
 *   date: "2026-01-01T00:00:00.000Z",
 * });
 * console.log(markdown.split("\n")[0]); // # netio benchmark results
 * ```
 */
export function renderMarkdown(sections: SectionResult[], machine: MachineInfo): string {
  const rows = sections.flatMap((section) => section.rows);
  const judged = rows.filter((row) => row.met !== null);
  const met = judged.filter((row) => row.met).length;
  const standIns = [
    ...new Set(rows.flatMap((row) => row.subjectName ? [row.subjectName] : [])),
  ];
  const out: string[] = [
    "# netio benchmark results",
    "",
    "Generated by `deno task bench:report` (`bench/report.ts`). Whole programs side by side: the",
    "server on core 0, the load generator on core 1; figures are what the server process spent",
    "(CPU from `/proc/PID/stat`, memory from `VmRSS`). `ratio` is netio / peer; lower is better",
    "unless the target says `>=`.",
    "",
    `**${met} of ${judged.length} targets met.**`,
    "",
  ];
  if (standIns.length > 0) {
    out.push(
      "> netio's column is not netio in rows marked (n): " +
        standIns.map((name, index) => `(${index + 1}) ${name}`).join(", ") +
        ". Those rows check the harness, not netio.",
      "",
    );
  }
  out.push(
    "| work | netio | peer | unit | ratio | target | met | note |",
    "|---|---:|---:|---|---:|---:|---|---|",
  );
  for (const row of rows) {
    const subject = row.subjectName ? ` (${standIns.indexOf(row.subjectName) + 1})` : "";
    out.push(
      `| ${cell(row.work)} | ${formatFigure(row.netio)}${cell(subject)} | ` +
        `${formatFigure(row.peer)} (${cell(row.peerName)}) | ${cell(row.unit)} | ` +
        `${row.ratio === null ? "-" : `${row.ratio.toFixed(2)}x`} | ${targetText(row)} | ` +
        `${metText(row)} | ${cell(row.note ?? "")} |`,
    );
  }
  out.push("", "## Comparisons", "");
  for (const section of sections) {
    const detail = section.status === "ok"
      ? `${section.rows.length} rows, ${section.seconds.toFixed(0)} s`
      : section.status === "absent"
      ? "not present yet"
      : `failed: ${cell(section.error ?? "")}`;
    out.push(`- ${section.entry.name} (\`bench/${section.entry.path.slice(2)}\`): ${detail}`);
  }
  out.push(
    "",
    "## Machine",
    "",
    `- CPU: ${machine.cpuModel}, ${machine.cores} cores`,
    `- Kernel: Linux ${machine.kernel}`,
    `- Deno: ${machine.deno}; Node: ${machine.node}; ${machine.wrk}`,
    `- Pinning: ${machine.pinning}`,
    `- Date: ${machine.date}`,
    "",
    "![ratios against targets](results.svg)",
    "",
  );
  return out.join("\n");
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * Draws the ratio of every row as a horizontal bar (green: target met, red: not met, grey: no
 * target or no figure), with the row's target as a black mark and parity (1x) as a dashed line.
 * Plain SVG text, no dependencies.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./report.ts";
 * import { comparisonRow } from "./load/lib.ts";
 *
 * const svg = renderSvg([
 *   comparisonRow({
 *     work: "keep-alive hello",
 *     netio: 4,
 *     peer: 4.3,
 *     peerName: "Deno.serve",
 *     unit: "us CPU/request",
 *     target: 1,
 *   }),
 * ]);
 * console.log(svg.startsWith("<svg"));
 * ```
 */
export function renderSvg(rows: ComparisonRow[]): string {
  const width = 1100;
  const labelWidth = 540;
  const right = 90;
  const top = 56;
  const rowHeight = 28;
  const plotWidth = width - labelWidth - right;
  const height = top + Math.max(1, rows.length) * rowHeight + 44;
  const largest = Math.max(
    1,
    ...rows.flatMap((row) => [row.ratio ?? 0, row.target ?? 0]),
  );
  // Cap the scale so one runaway ratio does not squash the others; longer bars end in an arrow.
  const scaleMax = Math.min(4, Math.ceil(largest * 1.15 * 4) / 4);
  const x = (ratio: number): number =>
    Math.round((labelWidth + (Math.min(ratio, scaleMax) / scaleMax) * plotWidth) * 10) / 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">netio / peer (lower is better ` +
    `unless marked &gt;=)</text>`,
    `<text x="16" y="42" fill="#555">bar: ratio; black mark: target; dashed: parity (1x); ` +
    `green met, red not met, grey no target</text>`,
  ];
  const step = scaleMax <= 1.5 ? 0.25 : scaleMax <= 3 ? 0.5 : 1;
  for (let tick = 0; tick <= scaleMax + 1e-9; tick += step) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 36}" stroke="#eee"/>`,
      `<text x="${tx}" y="${height - 20}" text-anchor="middle" fill="#555">` +
        `${Number(tick.toFixed(2))}x</text>`,
    );
  }
  rows.forEach((row, index) => {
    const y = top + index * rowHeight;
    const label = `${row.work}: ${row.subjectName ?? "netio"} vs ${row.peerName}`;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 18}" text-anchor="end">` +
        `${xml(label.length > 84 ? `${label.slice(0, 81)}...` : label)}</text>`,
    );
    const labelMark = row.target === null ? 0 : x(row.target);
    if (row.ratio !== null) {
      const color = row.met === null ? "#9e9e9e" : row.met ? "#2e7d32" : "#c62828";
      const end = x(row.ratio);
      parts.push(
        `<rect x="${labelWidth}" y="${y + 6}" width="${
          Math.max(1, Math.round((end - labelWidth) * 10) / 10)
        }" ` +
          `height="${rowHeight - 12}" fill="${color}"><title>${xml(label)}: ` +
          `${row.ratio.toFixed(3)}x</title></rect>`,
      );
      if (row.ratio > scaleMax) {
        parts.push(
          `<path d="M${end} ${y + 4} l10 ${rowHeight / 2 - 4} l-10 ${rowHeight / 2 - 4}z" ` +
            `fill="${color}"/>`,
        );
      }
      parts.push(
        `<text x="${Math.max(Math.min(end, labelWidth + plotWidth), labelMark) + 14}" ` +
          `y="${y + 18}">` +
          `${row.ratio.toFixed(2)}x</text>`,
      );
    } else {
      parts.push(`<text x="${labelWidth + 6}" y="${y + 18}" fill="#999">not measured</text>`);
    }
    if (row.target !== null) {
      const tx = x(row.target);
      parts.push(
        `<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + rowHeight - 2}" stroke="#000" ` +
          `stroke-width="3"><title>target ${xml(targetText(row))}</title></line>`,
      );
    }
  });
  const parity = x(1);
  parts.push(
    `<line x1="${parity}" y1="${top - 4}" x2="${parity}" y2="${height - 36}" stroke="#333" ` +
      `stroke-dasharray="4 3"/>`,
    "</svg>",
    "",
  );
  return parts.join("\n");
}

const usage = `usage: deno run -A bench/report.ts [options]

Runs every whole-program comparison present (${COMPARISONS.map((c) => c.path).join(", ")})
and writes bench/RESULTS.md and bench/results.svg.

options:
  --full          longer runs and the largest sizes (19,000 idle connections)
  --only NAMES    comma-separated comparison file names, e.g. http_compare
  --out DIR       where to write RESULTS.md and results.svg (default: bench/)
  --json FILE     also write the rows and the machine as JSON
  --install       apt-get install missing tools (wrk)
  -h, --help      this text`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      full: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      json: { type: "string" },
      install: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const started = performance.now();
  const log = (message: string): void => {
    const elapsed = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
    console.error(message.split("\n").map((line) => `[${elapsed}s] ${line}`).join("\n"));
  };
  let entries = COMPARISONS;
  if (values.only) {
    const wanted = values.only.split(",").map((name) => name.trim().replace(/\.ts$/, ""));
    entries = COMPARISONS.filter((entry) => wanted.some((name) => entry.path.includes(name)));
    if (entries.length === 0) throw new Error(`--only ${values.only}: no such comparison`);
  }
  const root = new URL("../", import.meta.url).pathname;
  const outDir = values.out
    ? (values.out.endsWith("/") ? values.out : `${values.out}/`)
    : `${root}bench/`;

  const machine = await machineInfo();
  log(
    `machine: ${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, ` +
      `Deno ${machine.deno}; ${machine.pinning}`,
  );
  const sections = await runComparisons({
    entries,
    context: { root, log, full: values.full, install: values.install },
  });
  const rows = sections.flatMap((section) => section.rows);
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}RESULTS.md`, renderMarkdown(sections, machine));
  await Deno.writeTextFile(`${outDir}results.svg`, renderSvg(rows));
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ machine, sections }, null, 2) + "\n",
    );
  }
  log(`wrote ${outDir}RESULTS.md and ${outDir}results.svg`);
  const failed = sections.filter((section) => section.status === "failed");
  if (failed.length > 0) {
    log(`${failed.length} comparison(s) failed: ${failed.map((s) => s.entry.name).join(", ")}`);
    Deno.exitCode = 1;
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    killAllServers();
    Deno.exit(1);
  }
}
