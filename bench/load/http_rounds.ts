/**
 * Interleaved wrk rounds against several running HTTP servers, the one loop of every HTTP
 * comparison: each round runs every work (keep-alive, pipelined, one connection) against every
 * server in turn, so a slow drift of the machine (other tenants, frequency) spreads over every
 * server instead of favouring whichever ran first; a server's figure is then the median of its
 * rounds ({@linkcode medianHttpSample}).
 *
 * @example
 * ```ts ignore
 * import { runHttpRounds, warmUp } from "./http_rounds.ts";
 * import { startServer } from "./lib.ts";
 *
 * const settings = {
 *   rounds: 3,
 *   works: ["keepAlive", "oneConnection"] as const,
 *   durationSeconds: 2,
 *   latencySeconds: 1,
 *   warmupSeconds: 1,
 *   connections: 50,
 *   pipeline: 16,
 * };
 * const server = await startServer({
 *   name: "Deno.serve",
 *   command: [Deno.execPath(), "run", "--allow-net", "bench/load/servers/deno_serve.ts"],
 * });
 * await warmUp(server, settings, console.error);
 * const entry = {
 *   server,
 *   samples: { keepAlive: [], pipelined: [], oneConnection: [] },
 *   errors: [],
 * };
 * await runHttpRounds([entry], settings, { log: console.error });
 * await entry.server?.stop();
 * ```
 *
 * @module
 */
import { errorText } from "./_errors.ts";
import type { ServerProcess } from "./servers.ts";
import { medianSample } from "./stats.ts";
import { type LoadMeasurement, measureLoad } from "./wrk.ts";

/** The wrk runs, in the order a round takes them by default. */
export const HTTP_WORKS = ["keepAlive", "pipelined", "oneConnection"] as const;

/** One wrk run: keep-alive (`-c N`), pipelined (`-c N`, x pipeline), or one connection (`-c1`). */
export type HttpWork = typeof HTTP_WORKS[number];

/** How the rounds run. */
export interface HttpRoundSettings {
  /** Interleaved rounds. */
  rounds: number;
  /** The works of each round, in order. */
  works: readonly HttpWork[];
  /** Seconds of each keep-alive and pipelined run. */
  durationSeconds: number;
  /** Seconds of each one-connection run. */
  latencySeconds: number;
  /** wrk `-c` of the keep-alive and pipelined runs (and of the warm-up). */
  connections: number;
  /** Requests per write in the pipelined run. */
  pipeline: number;
}

/** One server of {@linkcode runHttpRounds}; the rounds fill `samples` and `errors`. */
export interface HttpRoundsEntry {
  /** The running server; `null` when it did not start, and set to `null` when it crashes. */
  server: ServerProcess | null;
  /** The works this server takes; default every work of the settings. */
  works?: readonly HttpWork[];
  /** Every round's measurement, by work. */
  samples: Record<HttpWork, LoadMeasurement[]>;
  /** One `"WORK: message"` per failed run. */
  errors: string[];
}

/** Options of {@linkcode runHttpRounds}. */
export interface HttpRoundsOptions {
  /** Progress output, one line per run. */
  log: (message: string) => void;
  /** How a work reads in the progress line; default its key. */
  describe?: (work: HttpWork) => string;
}

/**
 * The figure a sample of `work` is ranked by: p50 latency for one connection (`Infinity` when
 * wrk gave none), server CPU microseconds per request otherwise.
 *
 * @example
 * ```ts ignore
 * import { httpWorkRank } from "./http_rounds.ts";
 *
 * console.log(httpWorkRank("keepAlive", sample)); // sample.cpuUsPerRequest
 * ```
 */
export function httpWorkRank(work: HttpWork, sample: LoadMeasurement): number {
  return work === "oneConnection" ? sample.wrk.latencyUs.p50 ?? Infinity : sample.cpuUsPerRequest;
}

/**
 * The median round of `work` by {@linkcode httpWorkRank}, kept whole; `undefined` when none.
 *
 * @example
 * ```ts ignore
 * import { medianHttpSample } from "./http_rounds.ts";
 *
 * console.log(medianHttpSample("pipelined", samples)?.cpuUsPerRequest);
 * ```
 */
export function medianHttpSample(
  work: HttpWork,
  samples: readonly LoadMeasurement[],
): LoadMeasurement | undefined {
  return medianSample(samples, (sample) => httpWorkRank(work, sample));
}

/**
 * Untimed load before measuring (JIT, pools): `warmupSeconds` of keep-alive at `connections`;
 * nothing when `warmupSeconds` is 0.
 *
 * @example
 * ```ts ignore
 * import { warmUp } from "./http_rounds.ts";
 *
 * await warmUp(server, { connections: 50, warmupSeconds: 1 }, console.error);
 * ```
 */
export async function warmUp(
  server: ServerProcess,
  settings: { connections: number; warmupSeconds: number },
  log: (message: string) => void,
): Promise<void> {
  if (settings.warmupSeconds <= 0) return;
  log(`  ${server.name}: warm-up ${settings.warmupSeconds}s on ${server.url}`);
  await measureLoad(server, {
    connections: settings.connections,
    durationSeconds: settings.warmupSeconds,
  });
}

/**
 * Runs `settings.rounds` interleaved rounds: per round, per work, every entry that takes it. A
 * failed run is noted in the entry's `errors` as `"WORK: message"`; a server that crashed is
 * stopped and set to `null`, and keeps the rounds it had. The servers left running are the
 * caller's to stop.
 */
export async function runHttpRounds(
  entries: readonly HttpRoundsEntry[],
  settings: HttpRoundSettings,
  options: HttpRoundsOptions,
): Promise<void> {
  const describe = options.describe ?? ((work: HttpWork): string => work);
  for (let round = 1; round <= settings.rounds; round++) {
    for (const work of settings.works) {
      const durationSeconds = work === "oneConnection"
        ? settings.latencySeconds
        : settings.durationSeconds;
      for (const entry of entries) {
        const server = entry.server;
        if (server === null || !(entry.works ?? settings.works).includes(work)) continue;
        options.log(
          `  round ${round}/${settings.rounds}, ${server.name}: ` +
            `${describe(work)} (${durationSeconds}s)`,
        );
        try {
          entry.samples[work].push(
            await measureLoad(server, {
              connections: work === "oneConnection" ? 1 : settings.connections,
              durationSeconds,
              ...(work === "pipelined" ? { pipeline: settings.pipeline } : {}),
            }),
          );
        } catch (error) {
          entry.errors.push(`${work}: ${errorText(error)}`);
          options.log(`  ${server.name}: ${work} failed: ${errorText(error)}`);
          try {
            server.assertAlive();
          } catch {
            entry.server = null; // crashed: no more rounds for it
            await server.stop();
          }
        }
      }
    }
  }
}
