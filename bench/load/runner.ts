/**
 * The one `main` of every comparison module (`bench/load/*_compare.ts`): parse the command line
 * with `node:util` `parseArgs` (`--full`, `--install`, `--json FILE`, `--help`, plus the module's
 * own flags), run the module's `compare` with a {@linkcode ComparisonContext}, print the rows as
 * one markdown table (netio, peer, ratio, target, met, note), and kill every server and helper
 * process left over, on success, on error and on ^C.
 *
 * A module's main block is one line:
 *
 * ```ts ignore
 * if (import.meta.main) await runComparisonMain(compare, import.meta);
 * ```
 *
 * @example
 * ```ts ignore
 * import { comparisonRow } from "./_rows.ts";
 * import { runComparisonMain } from "./runner.ts";
 *
 * await runComparisonMain(
 *   (context, flags) => {
 *     context.log(`size ${flags.size ?? "default"}`);
 *     return Promise.resolve([
 *       comparisonRow({ work: "w", netio: 1, peer: 2, peerName: "p", unit: "s", target: 1 }),
 *     ]);
 *   },
 *   import.meta,
 *   { description: "A toy comparison.", flags: { size: { type: "string", value: "N", help: "size" } } },
 * );
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type ComparisonContext,
  type ComparisonRow,
  formatFigure,
  metText,
  targetText,
} from "./_rows.ts";
import { machineInfo } from "./machine.ts";
import { installExitHooks, killAllServers } from "./servers.ts";

/** The repository root, ending in "/". */
const repositoryRoot = new URL("../../", import.meta.url).pathname;

/** The parsed values of a module's own flags, by flag name; absent flags are `undefined`. */
export type ComparisonFlags = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** One flag of a comparison module beyond the common ones, for `parseArgs` and `--help`. */
export interface ComparisonFlag {
  /** `"string"` takes a value (`--rounds 3`), `"boolean"` does not. */
  type: "string" | "boolean";
  /** One line of help. */
  help: string;
  /** Name of the value in the help text, e.g. "N" or "FILE". Default "VALUE". */
  value?: string;
  /** May be given more than once (the value is then a list). */
  multiple?: boolean;
}

/** Options of {@linkcode runComparisonMain}. */
export interface ComparisonMainOptions {
  /** What the comparison does, shown by `--help` under the usage line. */
  description?: string;
  /** The module's own flags, handed to `compare` as its second argument. */
  flags?: Record<string, ComparisonFlag>;
}

/** A comparison module's `compare`, with the module's own flags as an optional second argument. */
export type CompareFunction = (
  context: ComparisonContext,
  flags: ComparisonFlags,
) => Promise<ComparisonRow[]>;

/**
 * The `--rounds N` flag of the modules that interleave their servers over rounds and report
 * medians (default 3), worded once.
 *
 * @example
 * ```ts ignore
 * import { ROUNDS_FLAG, runComparisonMain } from "./runner.ts";
 *
 * await runComparisonMain(compare, import.meta, { flags: { rounds: ROUNDS_FLAG } });
 * ```
 */
export const ROUNDS_FLAG: ComparisonFlag = {
  type: "string",
  value: "N",
  help: "interleaved rounds; medians (default 3)",
};

/** The flags every comparison module takes. */
const COMMON_FLAGS: Record<string, ComparisonFlag & { short?: string }> = {
  full: { type: "boolean", help: "the full run: longer durations, the largest sizes" },
  install: { type: "boolean", help: "apt-get install missing tools (wrk)" },
  json: { type: "string", value: "FILE", help: "also write the rows and the machine as JSON" },
  help: { type: "boolean", short: "h", help: "this text" },
};

/**
 * The `--help` text of a comparison module.
 *
 * @example
 * ```ts
 * import { comparisonUsage } from "./runner.ts";
 *
 * console.log(comparisonUsage("bench/load/x_compare.ts").split("\n")[0]);
 * // usage: deno run -A bench/load/x_compare.ts [options]
 * ```
 */
export function comparisonUsage(path: string, options: ComparisonMainOptions = {}): string {
  const entries = Object.entries({ ...(options.flags ?? {}), ...COMMON_FLAGS });
  const left = entries.map(([name, flag]) =>
    `${"short" in flag && flag.short ? `-${flag.short}, ` : ""}--${name}` +
    (flag.type === "string" ? ` ${flag.value ?? "VALUE"}` : "")
  );
  const width = Math.max(...left.map((text) => text.length)) + 2;
  return [
    `usage: deno run -A ${path} [options]`,
    ...(options.description ? ["", options.description] : []),
    "",
    "options:",
    ...entries.map(([, flag], index) =>
      `  ${left[index]!.padEnd(width)}${flag.help}${flag.multiple ? " (repeatable)" : ""}`
    ),
  ].join("\n");
}

/**
 * The rows as one markdown table: work, netio, peer (who), unit, ratio, target, met, note.
 *
 * @example
 * ```ts
 * import { comparisonRow } from "./_rows.ts";
 * import { formatRowsTable } from "./runner.ts";
 *
 * const table = formatRowsTable([
 *   comparisonRow({
 *     work: "pipelined x16",
 *     netio: 0.8,
 *     peer: 7,
 *     peerName: "Deno.serve",
 *     unit: "us CPU/request",
 *     target: 0.4,
 *   }),
 * ]);
 * console.log(table.split("\n")[2]);
 * // | pipelined x16 | 0.80 | 7.00 (Deno.serve) | us CPU/request | 0.11x | <= 0.40x | met |  |
 * ```
 */
export function formatRowsTable(rows: readonly ComparisonRow[]): string {
  const cell = (text: string): string => text.replaceAll("|", "\\|").replaceAll("\n", " ");
  return [
    "| work | netio | peer | unit | ratio | target | met | note |",
    "|---|---:|---:|---|---:|---:|---|---|",
    ...rows.map((row) =>
      `| ${cell(row.work)} | ${formatFigure(row.netio)}` +
      `${row.subjectName ? ` (${cell(row.subjectName)})` : ""} | ` +
      `${formatFigure(row.peer)} (${cell(row.peerName)}) | ${cell(row.unit)} | ` +
      `${row.ratio === null ? "-" : `${row.ratio.toFixed(2)}x`} | ${targetText(row)} | ` +
      `${metText(row)} | ${cell(row.note ?? "")} |`
    ),
  ].join("\n");
}

/**
 * Reads a numeric flag: `undefined` when absent, else a finite number >= 0, or it throws naming
 * the flag.
 *
 * @example
 * ```ts
 * import { numberFlag } from "./runner.ts";
 *
 * console.log(numberFlag({ rounds: "3" }, "rounds"), numberFlag({}, "rounds")); // 3 undefined
 * ```
 */
export function numberFlag(flags: ComparisonFlags, name: string): number | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  const number = typeof value === "string" ? Number(value) : NaN;
  if (!Number.isFinite(number) || number < 0) {
    throw new Error(`--${name}: want a number >= 0, got ${String(value)}`);
  }
  return number;
}

/**
 * The main of a comparison module: parses `Deno.args` (the common flags `--full`, `--install`,
 * `--json FILE`, `-h/--help`, plus `options.flags`), runs `compare` with a context whose root is
 * the repository and whose log is stderr, prints the rows with {@linkcode formatRowsTable} to
 * stdout and the wall time to stderr, and writes `{ machine, rows }` to the `--json` file. Every
 * server and helper process still running is killed at the end, on error (exit code 1), on a bad
 * flag (exit code 2, with the usage) and on ^C.
 *
 * `meta` is the calling module's `import.meta`: its path names the module in the usage line.
 *
 * @example
 * ```ts ignore
 * import { compare } from "./reactor_compare.ts";
 * import { runComparisonMain } from "./runner.ts";
 *
 * if (import.meta.main) await runComparisonMain(compare, import.meta);
 * ```
 */
export async function runComparisonMain(
  compare: CompareFunction,
  meta: ImportMeta,
  options: ComparisonMainOptions = {},
): Promise<void> {
  const file = meta.filename ?? new URL(meta.url).pathname;
  const path = file.startsWith(repositoryRoot) ? file.slice(repositoryRoot.length) : file;
  const usage = comparisonUsage(path, options);
  const parseOptions = Object.fromEntries(
    Object.entries({ ...(options.flags ?? {}), ...COMMON_FLAGS }).map(([name, flag]) => [
      name,
      {
        type: flag.type,
        ...(flag.multiple ? { multiple: true } : {}),
        ...("short" in flag && flag.short ? { short: flag.short } : {}),
      },
    ]),
  );
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: Deno.args, options: parseOptions, strict: true }).values;
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    Deno.exit(2);
  }
  if (values.help === true) {
    console.log(usage);
    return;
  }
  installExitHooks();
  const flags: Record<string, string | boolean | string[] | undefined> = {};
  for (const name of Object.keys(options.flags ?? {})) {
    const value = values[name];
    flags[name] = Array.isArray(value) ? value.map(String) : value;
  }
  const started = performance.now();
  try {
    const rows = await compare({
      root: repositoryRoot,
      log: (message) => console.error(message),
      full: values.full === true,
      install: values.install === true,
    }, flags);
    console.log(formatRowsTable(rows));
    console.error(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (typeof values.json === "string") {
      const report = { machine: await machineInfo(), rows };
      await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
      console.error(`wrote ${values.json}`);
    }
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.stack ?? error.message : error}`);
    killAllServers();
    Deno.exit(1);
  } finally {
    killAllServers();
  }
}
