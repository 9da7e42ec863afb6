// `conform run`: load and select scenarios, acquire a cluster, run the scenarios (up to
// --parallel at once), write the reports, release the cluster. Returns the exit code:
// 0 everything passed, 1 failures, 2 bad input or infrastructure error (before or during the
// run), 130 interrupted.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClusterHandle, ClusterProvider, ClusterProviderName } from "../cluster/provider.js";
import { repoRoot } from "../cluster/local/paths.js";
import { buildRunReport, createReporters, runPassed, scenarioStatus, skippedCellReport, skippedCheckReport } from "../report/index.js";
import type { CellReport, CheckReport, Reporter, RunMeta, RunReport, ScenarioReport } from "../report/index.js";
import { formatDuration, formatSpecError, loadScenarios } from "../spec/index.js";
import { createProvider } from "./providers.js";
import { DEFAULT_CLEANUP_TIMEOUT_MS, PROBE_CONCURRENCY, runScenario } from "./scenario-runner.js";
import { mutationCheck, withoutPolicies } from "./mutate.js";
import { waitGone } from "./kube-ops.js";
import type { KubeObject } from "../spec/manifests.js";
import type { ScenarioEvents } from "./scenario-runner.js";
import { runScheduled, scenarioCost, scenarioLocks } from "./schedule.js";
import { parseSelection, selectScenarios, SelectionError } from "./select.js";
import type { ScenarioSelection } from "./select.js";

export const EXIT_CODES = { passed: 0, failed: 1, error: 2, interrupted: 130 } as const;
export const DEFAULT_REPORTERS = ["list", "junit"];

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface RunOptions {
  /** Scenario files or folders; none: the default suites. */
  paths: readonly string[];
  cwd?: string;
  cluster: ClusterProviderName | string;
  name?: string;
  config?: string;
  kubeconfig?: string;
  keep: boolean;
  audit: boolean;
  /** Self-check: rerun each scenario without its policies; at least one cell must fail then. */
  mutate?: boolean;
  grep?: string;
  skip?: string;
  /** Reporter specs: `list`, `junit`, `junit=path`, comma-separated lists. */
  reporters: readonly string[];
  outputDir: string;
  parallel: number;
  /** Deadline of the whole run; scenarios not started by then are skipped. */
  timeoutMs?: number;
  stdout: Output;
  stderr: Output;
  /** Ctrl-C: stop starting scenarios, clean up, release, exit 130. */
  signal?: AbortSignal;
  /** Injected by tests; default: the provider `cluster` names. */
  provider?: ClusterProvider;
  flowSettleMs?: number;
  flowSlackMs?: number;
  /** Called with the handle once the cluster is acquired (tests, bench). */
  onCluster?: (handle: ClusterHandle) => void;
  /** Per-scenario phase timings (bench). */
  onPhase?: (scenario: string, phase: string, ms: number) => void;
}

export interface RunResult {
  exitCode: number;
  report?: RunReport;
}

/** The default suites: ./suites when the working directory has one, else the shipped ones. */
export function defaultSuitePaths(cwd: string): string[] {
  const local = join(cwd, "suites");
  return [existsSync(local) ? "suites" : join(repoRoot, "suites")];
}

export function conformVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Live events when scenarios run one at a time; with --parallel, each scenario's lines come together at its end. */
const SILENT_EVENTS: ScenarioEvents = { start: () => undefined, cell: () => undefined, check: () => undefined };

function eventsFor(reporter: Reporter, buffered: boolean): { events: ScenarioEvents; flush: (r: ScenarioReport) => void } {
  const queue: (() => void)[] = [];
  const emit = (fn: () => void) => (buffered ? queue.push(fn) : fn());
  let name = "";
  return {
    events: {
      start: (info) => {
        name = info.name;
        emit(() => reporter.onScenarioStart?.(info));
      },
      cell: (c: CellReport) => emit(() => reporter.onCell?.(name, c)),
      check: (c: CheckReport) => emit(() => reporter.onCheck?.(name, c)),
    },
    flush: (r) => {
      for (const fn of queue.splice(0)) fn();
      reporter.onScenarioEnd?.(r);
    },
  };
}

function notRunReport(selection: ScenarioSelection, reason: string): ScenarioReport {
  const s = selection.scenario;
  const cells = s.steps.flatMap((st) => (st.kind === "expect" ? st.cells.filter((c) => selection.caseIds.has(c.id)) : [])).map((c) => skippedCellReport(c, reason));
  const checks = s.steps.flatMap((st) => (st.kind === "expect" ? st.flows.filter((f) => selection.caseIds.has(f.id)) : [])).map((f) => skippedCheckReport(f, reason));
  const report: ScenarioReport = { name: s.name, file: s.file, status: "skipped", skipReason: reason, durationMs: 0, manifestDigest: s.manifestDigest, errors: [], cells, checks };
  report.status = scenarioStatus(report);
  return report;
}

/**
 * 130 when interrupted; 2 when a scenario could not be carried out (a manifest the API server
 * refused, pods that never became Ready, a timeout: bad input or infrastructure); 1 when a cell
 * or check failed or was inconclusive; 0 otherwise.
 */
export function exitCodeFor(report: RunReport, interrupted: boolean): number {
  if (interrupted) return EXIT_CODES.interrupted;
  if (report.scenarios.some((s) => s.errors.length > 0)) return EXIT_CODES.error;
  return runPassed(report) ? EXIT_CODES.passed : EXIT_CODES.failed;
}

export async function runConform(options: RunOptions): Promise<RunResult> {
  const cwd = options.cwd ?? process.cwd();
  const say = (line: string) => void options.stderr.write(`${line}\n`);
  const fail = (message: string): RunResult => {
    say(message);
    return { exitCode: EXIT_CODES.error };
  };

  if (!Number.isInteger(options.parallel) || options.parallel < 1) return fail(`--parallel ${options.parallel}: expected a whole number ≥ 1`);
  let selection;
  try {
    selection = parseSelection(options.grep, options.skip);
  } catch (err) {
    if (err instanceof SelectionError) return fail(err.message);
    throw err;
  }
  const paths = options.paths.length > 0 ? [...options.paths] : defaultSuitePaths(cwd);
  const loaded = loadScenarios(paths, { cwd });
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) say(formatSpecError(e));
    return fail(`${loaded.errors.length} error${loaded.errors.length === 1 ? "" : "s"} in the scenarios; nothing was run`);
  }
  const selected = selectScenarios(loaded.scenarios, selection);
  if (selected.length === 0) {
    return fail(loaded.scenarios.length === 0 ? `no scenarios in ${paths.join(", ")}` : `no scenario or cell matches${options.grep ? ` --grep ${options.grep}` : ""}${options.skip ? ` --skip ${options.skip}` : ""} (${loaded.scenarios.length} scenarios loaded)`);
  }
  let reporter: Reporter;
  try {
    reporter = createReporters(options.reporters.length > 0 ? options.reporters : DEFAULT_REPORTERS, { stdout: options.stdout, reportsDir: resolve(cwd, options.outputDir) });
  } catch (err) {
    return fail(`--reporter: ${(err as Error).message}`);
  }

  const interrupt = options.signal ?? new AbortController().signal;
  // One signal for "stop starting scenarios", whose reason says why (reports print it).
  const stopRun = new AbortController();
  const onInterrupt = () => stopRun.abort(new Error(`interrupted (${interrupt.reason instanceof Error ? interrupt.reason.message : "signal"})`));
  if (interrupt.aborted) onInterrupt();
  else interrupt.addEventListener("abort", onInterrupt, { once: true });
  const runTimer =
    options.timeoutMs !== undefined ? setTimeout(() => stopRun.abort(new Error(`run timeout (${formatDuration(options.timeoutMs!)}) exceeded`)), options.timeoutMs) : undefined;
  runTimer?.unref();
  const runSignal = stopRun.signal;
  const provider = options.provider ?? createProvider(options.cluster);
  let handle: ClusterHandle;
  try {
    handle = await provider.acquire({
      ...(options.name !== undefined ? { name: options.name } : {}),
      keep: options.keep,
      ...(options.config !== undefined ? { config: options.config } : {}),
      ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}),
      audit: options.audit,
      signal: interrupt,
      log: say,
    });
  } catch (err) {
    if (interrupt.aborted) {
      say("interrupted while acquiring the cluster; what was created has been removed");
      return { exitCode: EXIT_CODES.interrupted };
    }
    return fail(`cannot acquire the ${provider.name} cluster: ${(err as Error).message}`);
  }

  let report: RunReport | undefined;
  let exitCode: number = EXIT_CODES.error;
  try {
    options.onCluster?.(handle);
    const startedAt = new Date().toISOString();
    const meta: Omit<RunMeta, "endedAt"> = {
      conformVersion: conformVersion(),
      agentVersion: handle.versions.agent ?? "none",
      kernel: handle.versions.kernel,
      kubernetesVersion: handle.versions.kubernetes,
      clusterName: handle.name,
      audit: handle.audit,
      startedAt,
    };
    reporter.onRunStart?.(meta);
    const buffered = options.parallel > 1;
    const deletedNamespaces: KubeObject[] = [];
    const stopWhy = () => `not run: ${runSignal.reason instanceof Error ? runSignal.reason.message : "stopped"}`;
    const scenarios = await runScheduled(selected, {
      parallel: options.parallel,
      locks: (s) => scenarioLocks(s.scenario),
      cost: (s) => scenarioCost(s.scenario, PROBE_CONCURRENCY),
      stop: () => runSignal.aborted,
      work: async (s) => {
        const { events, flush } = eventsFor(reporter, buffered);
        const scenarioOptions = {
          handle,
          signal: runSignal,
          ...(options.flowSettleMs !== undefined ? { flowSettleMs: options.flowSettleMs } : {}),
          ...(options.flowSlackMs !== undefined ? { flowSlackMs: options.flowSlackMs } : {}),
          ...(options.onPhase ? { onPhase: options.onPhase } : {}),
          deferNamespaceWait: (objects: readonly KubeObject[]) => deletedNamespaces.push(...objects),
        };
        const r = await runScenario(s, { ...scenarioOptions, events });
        if (options.mutate && r.status !== "skipped" && !runSignal.aborted) {
          const mutant = withoutPolicies(s.scenario);
          const mutantReport = mutant.removed.length > 0 ? await runScenario({ ...s, scenario: mutant.scenario }, { ...scenarioOptions, events: SILENT_EVENTS }) : undefined;
          const check = mutationCheck(mutant, mutantReport);
          r.checks.push(check);
          events.check(check);
          r.status = scenarioStatus(r);
        }
        flush(r);
        return r;
      },
      onNotStarted: (s) => {
        const r = notRunReport(s, stopWhy());
        const { events, flush } = eventsFor(reporter, false);
        events.start({ name: r.name, file: r.file });
        r.cells.forEach(events.cell);
        r.checks.forEach(events.check);
        flush(r);
        return r;
      },
      onError: (s, err) => {
        const r: ScenarioReport = { ...notRunReport(s, ""), errors: [{ message: `runner error: ${(err as Error).stack ?? String(err)}` }] };
        delete r.skipReason;
        r.cells = r.cells.map((c) => ({ ...c, skipReason: "not run: runner error" }));
        r.status = scenarioStatus(r);
        reporter.onScenarioEnd?.(r);
        return r;
      },
    });
    try {
      await waitGone(handle.kubeConfig, deletedNamespaces, DEFAULT_CLEANUP_TIMEOUT_MS);
    } catch (err) {
      say(`cleanup: ${(err as Error).message}`);
    }
    report = buildRunReport({ ...meta, endedAt: new Date().toISOString() }, scenarios);
    try {
      await reporter.onRunEnd(report);
      exitCode = exitCodeFor(report, interrupt.aborted);
    } catch (err) {
      say(`writing reports failed: ${(err as Error).message}`);
      exitCode = interrupt.aborted ? EXIT_CODES.interrupted : EXIT_CODES.error;
    }
  } finally {
    clearTimeout(runTimer);
    interrupt.removeEventListener("abort", onInterrupt);
    try {
      await provider.release(handle);
      if (handle.keep && handle.provider !== "existing") say(`cluster "${handle.name}" kept running (${handle.provider}); kubeconfig: ${handle.kubeconfigPath}`);
    } catch (err) {
      say(`releasing the cluster failed: ${(err as Error).message}`);
      if (exitCode === EXIT_CODES.passed || exitCode === EXIT_CODES.failed) exitCode = EXIT_CODES.error;
    }
  }
  return { exitCode, ...(report ? { report } : {}) };
}
