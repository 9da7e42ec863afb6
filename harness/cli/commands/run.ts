// `conform run [paths…]`: run scenarios against a cluster and write reports. Exit codes: 0 all
// passed, 1 failures, 2 bad input or infrastructure error, 130 interrupted (Ctrl-C cleans up).
import type { Command } from "commander";
import { CLUSTER_PROVIDERS } from "../../cluster/provider.js";
import { reporterNames } from "../../report/index.js";
import { checkProviderFlags } from "../../runner/providers.js";
import { DEFAULT_REPORTERS, EXIT_CODES, runConform } from "../../runner/run.js";
import { parseDuration } from "../../spec/index.js";
import { CliError } from "../errors.js";

interface RunFlags {
  cluster: string;
  name?: string;
  config?: string;
  kubeconfig?: string;
  keep?: boolean;
  audit?: boolean;
  mutate?: boolean;
  grep?: string;
  skip?: string;
  reporter: string[];
  outputDir: string;
  parallel: string;
  timeout?: string;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function register(program: Command): void {
  program
    .command("run")
    .description("run scenarios against a cluster and write JUnit/TAP/JSON reports")
    .argument("[paths...]", "scenario files or directories (default: the suites/ folder)")
    .option("--cluster <provider>", `cluster provider: ${CLUSTER_PROVIDERS.join(", ")}`, "local")
    .option("--name <name>", "cluster name (local/kind) or kubeconfig context (existing)")
    .option("--config <file>", "cluster file: clusters/local/*.yaml or clusters/kind/*.yaml")
    .option("--kubeconfig <file>", "kubeconfig of an existing cluster (--cluster existing)")
    .option("--keep", "reuse a running cluster of that name (or create it) and leave it running")
    .option("--audit", "evaluate policies in audit mode (would-be drops reported, not applied); recorded in reports")
    .option("--mutate", "self-check: rerun each scenario with its policies removed; it must then fail at least one cell")
    .option("--grep <regex>", "run only scenarios (by name) or cells (by id) that match")
    .option("--skip <regex>", "leave out scenarios (by name) or cells (by id) that match")
    .option("--reporter <list>", `reporters, comma-separated or repeated: ${reporterNames().join(", ")}; name=path picks the file (default ${DEFAULT_REPORTERS.join(",")})`, collect)
    .option("--output-dir <dir>", "folder for report files", "reports")
    .option("--parallel <n>", "scenarios run at once, each in its own namespaces (1 = one after another)", "4")
    .option("--timeout <duration>", "deadline for the whole run, e.g. 30m; scenarios not started by then are skipped")
    .action(async (paths: string[], flags: RunFlags) => {
      const providerProblem = checkProviderFlags(flags.cluster, flags);
      if (providerProblem) throw new CliError(providerProblem);
      let timeoutMs: number | undefined;
      if (flags.timeout !== undefined) {
        try {
          timeoutMs = parseDuration(flags.timeout);
        } catch (err) {
          throw new CliError(`--timeout: ${(err as Error).message}`);
        }
      }
      if (!/^\d+$/.test(flags.parallel)) throw new CliError(`--parallel ${flags.parallel}: expected a whole number ≥ 1`);

      const abort = new AbortController();
      let interrupts = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        interrupts++;
        if (interrupts > 1) {
          // A second Ctrl-C means "now": whatever is left can be removed with `conform cluster down`.
          console.error("\ninterrupted again: exiting without cleaning up");
          process.exit(EXIT_CODES.interrupted);
        }
        console.error(`\n${sig === "SIGINT" ? "interrupted" : sig}: cleaning up (deleting fixtures, releasing the cluster)… press Ctrl-C again to quit at once`);
        abort.abort(new Error(sig === "SIGINT" ? "Ctrl-C" : sig));
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const result = await runConform({
          paths,
          cluster: flags.cluster,
          ...(flags.name !== undefined ? { name: flags.name } : {}),
          ...(flags.config !== undefined ? { config: flags.config } : {}),
          ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
          keep: flags.keep ?? false,
          audit: flags.audit ?? false,
          mutate: flags.mutate ?? false,
          ...(flags.grep !== undefined ? { grep: flags.grep } : {}),
          ...(flags.skip !== undefined ? { skip: flags.skip } : {}),
          reporters: flags.reporter ?? [],
          outputDir: flags.outputDir,
          parallel: Number(flags.parallel),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          stdout: process.stdout,
          stderr: process.stderr,
          signal: abort.signal,
        });
        process.exitCode = abort.signal.aborted ? EXIT_CODES.interrupted : result.exitCode;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
