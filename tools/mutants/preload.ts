/**
 * Preloaded into every test process of `deno task mutants` (`deno test --preload`).
 *
 * Stryker's instrumented code reads `process.env.__STRYKER_ACTIVE_MUTANT__` when a module loads,
 * and the tests that run netio in a subprocess with narrowed permissions (no `--allow-env`)
 * would fail there with NotCapable, mutant or not. So every `deno run` / `deno test` a test
 * spawns gets `--allow-env=__STRYKER_ACTIVE_MUTANT__` added: the child sees the same active
 * mutant (a subprocess test can kill it too), and nothing else of the environment. The test
 * files stay untouched.
 *
 * @module
 */

const ACTIVE_MUTANT = "__STRYKER_ACTIVE_MUTANT__";
const Original = Deno.Command;

class Command extends Original {
  constructor(command: string | URL, options?: Deno.CommandOptions) {
    const args = options?.args;
    // Not where the child may read the environment already (--allow-all conflicts with it).
    const allowed = (a: string): boolean =>
      a === "-A" || a === "--allow-all" || a === "--allow-env" || a.startsWith("--allow-env=");
    if (
      String(command) === Deno.execPath() && args !== undefined &&
      (args[0] === "run" || args[0] === "test") && !args.some(allowed)
    ) {
      options = { ...options, args: [args[0], `--allow-env=${ACTIVE_MUTANT}`, ...args.slice(1)] };
    }
    super(command, options);
  }
}

// Deno.Command is typed read-only but is a plain writable property at run time.
(Deno as { Command: unknown }).Command = Command;
