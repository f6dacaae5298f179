/**
 * What every comparison module returns to `bench/report.ts`: {@linkcode ComparisonRow} (netio's
 * figure beside one peer's, the ratio and the target), {@linkcode comparisonRow} that computes
 * the ratio and `met` the one way the report reads them, and the module shape
 * ({@linkcode ComparisonModule}, {@linkcode ComparisonContext}).
 *
 * @example
 * ```ts
 * import { comparisonRow } from "./_rows.ts";
 *
 * const row = comparisonRow({
 *   work: "keep-alive hello",
 *   netio: 4,
 *   peer: 5,
 *   peerName: "Deno.serve",
 *   unit: "us CPU/request",
 *   target: 0.9,
 * });
 * console.log(row.ratio, row.met); // 0.8 true
 * ```
 *
 * @module
 */

/**
 * One line of the results table: netio's figure for one piece of work beside one peer's.
 *
 * `ratio` is `netio / peer`. Every figure we compare today is a cost (CPU per request, CPU per
 * GiB, bytes per connection, latency), so lower is better and a target is met when
 * `ratio <= target`; a row about a rate sets `lowerIsBetter: false` and is met when
 * `ratio >= target`.
 *
 * @example
 * ```ts
 * import type { ComparisonRow } from "./_rows.ts";
 *
 * const row: ComparisonRow = {
 *   work: "keep-alive hello, wrk -c50",
 *   netio: 4.1,
 *   peer: 4.3,
 *   peerName: "Deno.serve",
 *   unit: "us CPU/request",
 *   ratio: 4.1 / 4.3,
 *   target: 1,
 *   met: true,
 * };
 * console.log(row.met);
 * ```
 */
export interface ComparisonRow {
  /** What was done, e.g. "keep-alive hello, wrk -c50". */
  work: string;
  /** netio's figure in `unit`; `null` when it could not be measured. */
  netio: number | null;
  /** The peer's figure in `unit`; `null` when it could not be measured. */
  peer: number | null;
  /** Who the peer is, e.g. "Deno.serve", "node:http", "C sendfile". */
  peerName: string;
  /** Unit of `netio` and `peer`, e.g. "us CPU/request", "KiB/connection", "CPU s/GiB". */
  unit: string;
  /** `netio / peer`; `null` when either side is missing. */
  ratio: number | null;
  /** The ratio to meet (from the issue); `null` when there is none, the row is then informative. */
  target: number | null;
  /** Whether `ratio` meets `target`; `null` when either is missing. */
  met: boolean | null;
  /** Default `true`: a cost, met when `ratio <= target`. `false`: a rate, met when `>=`. */
  lowerIsBetter?: boolean;
  /**
   * Who stood in netio's column when it was not netio (e.g. "node:http (stand-in)" while the
   * netio server does not exist yet); absent means netio itself.
   */
  subjectName?: string;
  /** A short remark shown beside the row: errors seen, a stand-in, a bottleneck. */
  note?: string;
}

/** Options of {@linkcode comparisonRow}. */
export interface ComparisonRowOptions {
  /** What was done. */
  work: string;
  /** netio's figure, or `null`/`undefined` when not measured. */
  netio: number | null | undefined;
  /** The peer's figure, or `null`/`undefined` when not measured. */
  peer: number | null | undefined;
  /** Who the peer is. */
  peerName: string;
  /** Unit of both figures. */
  unit: string;
  /** Target ratio, `null` for none. */
  target: number | null;
  /** Default `true`. */
  lowerIsBetter?: boolean;
  /** Who stood in netio's column, when it was not netio. */
  subjectName?: string;
  /** A short remark. */
  note?: string;
}

/**
 * Builds a {@linkcode ComparisonRow}, computing `ratio` and `met` the one way the report reads
 * them.
 *
 * @example
 * ```ts
 * import { comparisonRow } from "./_rows.ts";
 *
 * const row = comparisonRow({
 *   work: "pipelined x16",
 *   netio: 2.5,
 *   peer: 2.9,
 *   peerName: "Deno.serve",
 *   unit: "us CPU/request",
 *   target: 1,
 * });
 * console.log(row.ratio?.toFixed(2), row.met); // 0.86 true
 * ```
 */
export function comparisonRow(options: ComparisonRowOptions): ComparisonRow {
  const netio = finiteOrNull(options.netio);
  const peer = finiteOrNull(options.peer);
  const lowerIsBetter = options.lowerIsBetter ?? true;
  const ratio = netio !== null && peer !== null && peer > 0 ? netio / peer : null;
  const met = ratio === null || options.target === null
    ? null
    : lowerIsBetter
    ? ratio <= options.target
    : ratio >= options.target;
  const row: ComparisonRow = {
    work: options.work,
    netio,
    peer,
    peerName: options.peerName,
    unit: options.unit,
    ratio,
    target: options.target,
    met,
  };
  if (!lowerIsBetter) row.lowerIsBetter = false;
  if (options.subjectName !== undefined) row.subjectName = options.subjectName;
  if (options.note !== undefined) row.note = options.note;
  return row;
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * What `bench/report.ts` hands to every comparison module's `compare` function.
 *
 * @example
 * ```ts
 * import type { ComparisonContext } from "./_rows.ts";
 *
 * const context: ComparisonContext = {
 *   root: new URL("../../", import.meta.url).pathname,
 *   log: (message) => console.error(message),
 * };
 * context.log(`repository at ${context.root}`);
 * ```
 */
export interface ComparisonContext {
  /** Absolute path of the repository root, ending in "/". */
  root: string;
  /** Progress output (stderr in the report); one line per call. */
  log: (message: string) => void;
  /** The full run: longer durations, the largest sizes (e.g. 19,000 idle connections). */
  full?: boolean;
  /** Install missing tools (wrk) with apt-get instead of failing. */
  install?: boolean;
}

/**
 * The shape of a comparison module: `bench/report.ts` imports each listed module and calls its
 * exported `compare`.
 *
 * @example
 * ```ts
 * import { type ComparisonModule, comparisonRow } from "./_rows.ts";
 *
 * const module: ComparisonModule = {
 *   compare: () =>
 *     Promise.resolve([
 *       comparisonRow({
 *         work: "1 GiB sendfile over loopback",
 *         netio: 0.45,
 *         peer: 0.42,
 *         peerName: "C sendfile",
 *         unit: "CPU s/GiB",
 *         target: 1.2,
 *       }),
 *     ]),
 * };
 * console.log((await module.compare({ root: "/", log: () => {} })).length);
 * ```
 */
export interface ComparisonModule {
  /** Runs the comparison and returns its rows. */
  compare(context: ComparisonContext): Promise<ComparisonRow[]>;
}

/**
 * A figure as the tables print it: about three significant digits, "-" when missing.
 *
 * @example
 * ```ts
 * import { formatFigure } from "./_rows.ts";
 *
 * console.log(formatFigure(123.4), formatFigure(12.34), formatFigure(0.01234), formatFigure(null));
 * // 123 12.3 0.012 -
 * ```
 */
export function formatFigure(value: number | null): string {
  if (value === null) return "-";
  const magnitude = Math.abs(value);
  return magnitude >= 100
    ? value.toFixed(0)
    : magnitude >= 10
    ? value.toFixed(1)
    : magnitude >= 1
    ? value.toFixed(2)
    : value.toPrecision(2);
}

/**
 * A row's target as the tables print it, e.g. "<= 0.90x" (">=" for a rate), "-" without one.
 *
 * @example
 * ```ts
 * import { comparisonRow, targetText } from "./_rows.ts";
 *
 * const row = comparisonRow({
 *   work: "requests per second",
 *   netio: 3000,
 *   peer: 900,
 *   peerName: "new connection per request",
 *   unit: "req/s",
 *   target: 3,
 *   lowerIsBetter: false,
 * });
 * console.log(targetText(row)); // >= 3.00x
 * ```
 */
export function targetText(row: ComparisonRow): string {
  if (row.target === null) return "-";
  return `${(row.lowerIsBetter ?? true) ? "<=" : ">="} ${row.target.toFixed(2)}x`;
}

/**
 * Whether a row met its target, as the tables print it: "met", "**not met**", or "-".
 *
 * @example
 * ```ts
 * import { comparisonRow, metText } from "./_rows.ts";
 *
 * const row = comparisonRow({
 *   work: "w",
 *   netio: 2,
 *   peer: 1,
 *   peerName: "p",
 *   unit: "s",
 *   target: 1,
 * });
 * console.log(metText(row)); // **not met**
 * ```
 */
export function metText(row: ComparisonRow): string {
  return row.met === null ? "-" : row.met ? "met" : "**not met**";
}
