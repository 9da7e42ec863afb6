// `conform lint [paths...]`: validates scenario specs and the Kubernetes manifests they reference,
// without a cluster. Prints every error as `file:line: field.path: message` and exits 2 if there
// is any, so CI can gate on it.
import type { Command } from "commander";
import { formatSpecError } from "../../spec/errors.js";
import { loadScenarios } from "../../spec/loader.js";

export const LINT_EXIT_ERRORS = 2;

export interface LintOutput {
  stdout(text: string): void;
}

/** Lints `paths` and returns the exit code (0 clean, 2 on any error). */
export function runLint(paths: readonly string[], output: LintOutput, cwd?: string): number {
  const result = loadScenarios(paths.length > 0 ? paths : ["suites"], cwd !== undefined ? { cwd } : {});
  if (result.errors.length > 0) {
    output.stdout(result.errors.map((e) => `${formatSpecError(e)}\n`).join(""));
    return LINT_EXIT_ERRORS;
  }
  const n = result.scenarios.length;
  const f = result.files.length;
  output.stdout(`${n} scenario${n === 1 ? "" : "s"} in ${f} file${f === 1 ? "" : "s"}: ok\n`);
  return 0;
}

export function register(program: Command): void {
  program
    .command("lint")
    .description("validate scenario specs and the manifests they reference (no cluster needed)")
    .argument("[paths...]", "scenario files or directories, searched recursively for *.yaml/*.yml", [])
    .action((paths: string[]) => {
      process.exitCode = runLint(paths, { stdout: (text) => process.stdout.write(text) });
    });
}
