// One scenario against one cluster: requirements (skip with a reason), fixtures applied and
// Ready, steps in order, probes in one batch per source pod, verdicts per cell, and cleanup of
// everything the scenario created whatever happened (try/finally).
import type { ClusterHandle } from "../cluster/provider.js";
import { errorResult } from "../probe/executor.js";
import type { ProbePod } from "../probe/executor.js";
import type { ProbeInput, ProbeResult } from "../probe/schema.js";
import { cellReport, scenarioStatus, skippedCellReport, skippedCheckReport } from "../report/index.js";
import type { CellReport, CheckReport, FlowRecord, ScenarioReport } from "../report/index.js";
import { batchBySource, formatDuration, PROBE_CONTAINER, PROBE_IMAGE } from "../spec/index.js";
import type { Cell, FlowCheck, ProbeBatch } from "../spec/index.js";
import { fixtureObjects } from "../spec/loader.js";
import type { LoadedScenario, PlannedStep } from "../spec/loader.js";
import type { KubeObject } from "../spec/manifests.js";
import { StopWaiting, waitFor } from "../util/wait.js";
import type { DropFeed } from "../probe/executor.js";
import { DropFeeds, followDrops } from "./drop-follow.js";
import { judgeFlowCheck } from "./flow-checks.js";
import { flowsForProbe, probeTuple } from "./flow-match.js";
import {
  addressBook,
  AppliedObjects,
  applyTracked,
  deleteTracked,
  readLiveObjects,
  waitGone,
  waitNamespacesNotTerminating,
  waitPodsReady,
} from "./kube-ops.js";
import type { LiveObjects } from "./kube-ops.js";
import { planProbe } from "./probes.js";
import type { AddressBook } from "./probes.js";
import { skipReasons } from "./requirements.js";
import { scenarioLocks } from "./schedule.js";
import type { ScenarioSelection } from "./select.js";
import { judgeCell } from "./verdict.js";
import { forRunMode } from "./audit-mode.js";

export interface ScenarioEvents {
  start(info: { name: string; file: string }): void;
  cell(cell: CellReport): void;
  check(check: CheckReport): void;
}

export interface ScenarioRunOptions {
  handle: ClusterHandle;
  events: ScenarioEvents;
  /** The run's signal: Ctrl-C or the run timeout. Cleanup still runs after it fires. */
  signal: AbortSignal;
  /** How long the flow log may lag behind the datapath before the runner reads it. */
  flowSettleMs?: number;
  /** Clock slack when matching flow times to a probe's window. */
  flowSlackMs?: number;
  /** Bound on waiting for deleted namespaces and pods to disappear. */
  cleanupTimeoutMs?: number;
  /** Where the scenario's time went: fixtures, each step (by key), cleanup. */
  onPhase?: (scenario: string, phase: string, ms: number) => void;
  /**
   * Given, the scenario does not wait for its deleted namespaces to disappear (the namespace
   * controller takes seconds); it hands them over and the run waits for all of them once, at the
   * end. A later scenario that reuses a namespace waits for it anyway (`waitNamespacesNotTerminating`).
   */
  deferNamespaceWait?: (namespaces: readonly KubeObject[]) => void;
}

export const DEFAULT_FLOW_SETTLE_MS = 500;
export const DEFAULT_FLOW_SLACK_MS = 1000;
export const DEFAULT_CLEANUP_TIMEOUT_MS = 90_000;
/** Probes in flight at once inside one source pod. */
export const PROBE_CONCURRENCY = 16;

export const NO_CONVERGENCE_NOTE = "no-op: the cluster runs no conform agent, so there is no policy revision to wait for";

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function runScenario(selection: ScenarioSelection, options: ScenarioRunOptions): Promise<ScenarioReport> {
  const scenario = selection.scenario;
  const { handle, events } = options;
  const started = Date.now();
  const report: ScenarioReport = {
    name: scenario.name,
    file: scenario.file,
    status: "passed",
    durationMs: 0,
    manifestDigest: scenario.manifestDigest,
    errors: [],
    cells: [],
    checks: [],
  };
  events.start({ name: scenario.name, file: scenario.file });
  const cellsOf = (step: PlannedStep): Cell[] => (step.kind === "expect" ? step.cells.filter((c) => selection.caseIds.has(c.id)) : []);
  const checksOf = (step: PlannedStep): FlowCheck[] => (step.kind === "expect" ? step.flows.filter((f) => selection.caseIds.has(f.id)) : []);
  const addCell = (c: CellReport) => {
    report.cells.push(c);
    events.cell(c);
  };
  const addCheck = (c: CheckReport) => {
    report.checks.push(c);
    events.check(c);
  };
  const skipRest = (steps: readonly PlannedStep[], reason: string) => {
    for (const step of steps) {
      for (const cell of cellsOf(step)) addCell(skippedCellReport(cell, reason));
      for (const check of checksOf(step)) addCheck(skippedCheckReport(check, reason));
    }
  };
  const finish = () => {
    report.durationMs = Date.now() - started;
    report.status = scenarioStatus(report);
    return report;
  };

  const reasons = skipReasons(scenario, handle.capabilities);
  if (reasons.length > 0) {
    report.skipReason = reasons.join("; ");
    skipRest(scenario.steps, report.skipReason);
    return finish();
  }

  const timeout = AbortSignal.timeout(scenario.timeouts.scenario);
  const signal = AbortSignal.any([options.signal, timeout]);
  const stopReason = () => (options.signal.aborted ? errorText(options.signal.reason) : `scenario timeout (${formatDuration(scenario.timeouts.scenario)}) exceeded`);
  const kc = handle.kubeConfig;
  const applied = new AppliedObjects();
  const namespaces = [...scenarioLocks(scenario).namespaces];
  const ctx: StepContext = { scenario, handle, options, signal, namespaces, applied };
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      options.onPhase?.(scenario.name, phase, performance.now() - t0);
    }
  };

  try {
    let failed: string | undefined;
    try {
      await timed("fixtures", async () => {
        const objects = fixtureObjects(scenario, { nodeNames: handle.nodes.map((n) => n.name) });
        const createdNamespaces = objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name);
        await waitNamespacesNotTerminating(kc, createdNamespaces, options.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS, signal);
        await applyTracked(kc, forRunMode(fixtureManifests(scenario, objects), handle.audit), applied);
        await waitPodsReady(kc, applied.pods(), scenario.timeouts.step, signal);
      });
    } catch (err) {
      report.errors.push({ step: "fixtures", message: signal.aborted ? stopReason() : `fixtures: ${errorText(err)}` });
      failed = "fixtures";
    }
    for (const [i, step] of scenario.steps.entries()) {
      if (failed !== undefined || signal.aborted) {
        skipRest(scenario.steps.slice(i), signal.aborted ? stopReason() : `not run: ${failed} failed`);
        break;
      }
      try {
        await timed(step.key, () => runStep(step, ctx, { cells: cellsOf(step), checks: checksOf(step), addCell, addCheck }));
      } catch (err) {
        report.errors.push({ step: step.key, message: signal.aborted || err instanceof StopWaiting ? stopReason() : errorText(err) });
        failed = step.key;
        // The failing step's own cells that never got a verdict are reported as not run.
        const done = new Set([...report.cells.map((c) => c.id), ...report.checks.map((c) => c.id)]);
        for (const cell of cellsOf(step)) if (!done.has(cell.id)) addCell(skippedCellReport(cell, `not run: ${step.key} failed`));
        for (const check of checksOf(step)) if (!done.has(check.id)) addCheck(skippedCheckReport(check, `not run: ${step.key} failed`));
      }
    }
  } finally {
    try {
      await timed("cleanup", () => cleanup(ctx, options.cleanupTimeoutMs ?? DEFAULT_CLEANUP_TIMEOUT_MS));
    } catch (err) {
      report.errors.push({ step: "cleanup", message: `cleanup: ${errorText(err)}` });
    }
  }
  return finish();
}

interface StepContext {
  scenario: LoadedScenario;
  handle: ClusterHandle;
  options: ScenarioRunOptions;
  signal: AbortSignal;
  namespaces: string[];
  applied: AppliedObjects;
}

interface StepSink {
  cells: Cell[];
  checks: FlowCheck[];
  addCell(c: CellReport): void;
  addCheck(c: CheckReport): void;
}

/** Fixture objects with the file and line they came from when they were plain manifests. */
function fixtureManifests(scenario: LoadedScenario, objects: readonly KubeObject[]): { object: KubeObject; source?: { file: string; line: number } }[] {
  const sources = new Map(scenario.fixtures.manifests.map((m) => [m.object, m.source]));
  return objects.map((object) => {
    const source = sources.get(object);
    return source ? { object, source } : { object };
  });
}

async function runStep(step: PlannedStep, ctx: StepContext, sink: StepSink): Promise<void> {
  const kc = ctx.handle.kubeConfig;
  switch (step.kind) {
    case "apply":
      return applyTracked(kc, forRunMode(step.manifests, ctx.handle.audit), ctx.applied);
    case "delete":
      return deleteTracked(kc, step.manifests, ctx.applied);
    case "wait":
      if (step.for === "pods-ready") return waitPodsReady(kc, ctx.applied.pods(), step.timeoutMs, ctx.signal);
      return waitConverged(step, ctx, sink);
    case "expect":
      return runExpect(step, ctx, sink);
  }
}

async function waitConverged(step: PlannedStep & { kind: "wait" }, ctx: StepContext, sink: StepSink): Promise<void> {
  const id = `${ctx.scenario.name}/${step.key}: wait policy-converged`;
  const waiter = ctx.handle.convergence;
  if (!waiter) {
    sink.addCheck({ id, step: step.key, kind: "wait", name: "policy-converged", status: "skipped", skipReason: NO_CONVERGENCE_NOTE, flows: [] });
    return;
  }
  const started = Date.now();
  const revision = await waiter.desiredRevision(ctx.signal, ctx.applied.convergenceScope());
  let pending: string[] = [];
  try {
    await waitFor(
      `every endpoint to realize policy revision ${revision}`,
      async () => {
        if (ctx.signal.aborted) throw new StopWaiting("interrupted");
        pending = await waiter.pendingEndpoints(revision, ctx.signal);
        return pending.length === 0 ? true : undefined;
      },
      { timeoutMs: step.timeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    if (err instanceof StopWaiting) throw err;
    const list = pending.slice(0, 10).join(", ") + (pending.length > 10 ? ` and ${pending.length - 10} more` : "");
    throw new Error(`policy did not converge within ${formatDuration(step.timeoutMs)}: ${pending.length} endpoint(s) below revision ${revision}: ${list}`);
  }
  sink.addCheck({ id, step: step.key, kind: "wait", name: "policy-converged", status: "pass", observed: `revision ${revision} realized everywhere`, durationMs: Date.now() - started, flows: [] });
}

function probePodFor(live: LiveObjects, batch: ProbeBatch): ProbePod | { error: string } {
  const pod = live.pods.get(`${batch.source.namespace}/${batch.source.name}`);
  if (!pod) return { error: `source pod ${batch.from} does not exist` };
  const containers = pod.spec?.containers ?? [];
  // Plain-manifest pods may name their container freely; the probe image's container is the one to exec into.
  const probe = containers.find((c) => c.name === PROBE_CONTAINER) ?? containers.find((c) => (c.image ?? "").includes(PROBE_IMAGE.split(":")[0]!)) ?? containers[0];
  return {
    namespace: batch.source.namespace,
    name: batch.source.name,
    ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(probe?.name ? { container: probe.name } : {}),
  };
}

/** One exec per source pod, all sources at once; exactly one result per cell, in cell order. */
async function runBatch(batch: ProbeBatch, live: LiveObjects, book: AddressBook, ctx: StepContext, drops?: DropFeed): Promise<ProbeResult[]> {
  const timeoutMs = ctx.scenario.timeouts.probe;
  const plans = batch.cells.map((cell, i) => ({ cell, plan: planProbe(cell, `p${i}`, timeoutMs, book) }));
  const pod = probePodFor(live, batch);
  const runnable: ProbeInput[] = plans.flatMap(({ plan }) => (plan.ok ? [plan.probe] : []));
  const results = new Map<string, ProbeResult>();
  if ("error" in pod) {
    for (const p of runnable) results.set(p.id, errorResult(p, pod.error));
  } else if (runnable.length > 0) {
    const got = await ctx.handle.probeExecutor.runBatch(pod, runnable, { concurrency: PROBE_CONCURRENCY, ...(drops ? { drops } : {}) });
    got.forEach((r, i) => results.set(runnable[i]!.id, r));
  }
  return plans.map(({ cell, plan }, i) => {
    if (!plan.ok) return errorResult({ kind: cell.target.protocol, id: `p${i}` } as ProbeInput, `no probe for ${cell.to}: ${plan.error}`);
    return results.get(plan.probe.id) ?? errorResult(plan.probe, "the executor returned no result for this probe");
  });
}

async function queryFlows(ctx: StepContext, since: number, sourceIPs: string[], everything: boolean): Promise<FlowRecord[]> {
  const source = ctx.handle.flowSource!;
  const settle = ctx.options.flowSettleMs ?? DEFAULT_FLOW_SETTLE_MS;
  const slack = ctx.options.flowSlackMs ?? DEFAULT_FLOW_SLACK_MS;
  await new Promise((r) => setTimeout(r, settle));
  const filters = everything ? [] : sourceIPs.flatMap((ip) => [{ sourceIp: [ip] }, { destinationIp: [ip] }]);
  return source.query({ since: new Date(since - slack), until: new Date(Date.now() + slack), filters });
}

async function runExpect(step: PlannedStep & { kind: "expect" }, ctx: StepContext, sink: StepSink): Promise<void> {
  if (sink.cells.length === 0 && sink.checks.length === 0) return;
  const stepStart = Date.now();
  const targets = new Set([...sink.cells.map((c) => c.target.kind), ...sink.checks.flatMap((f) => (f.to ? [f.to.kind] : []))]);
  const live = await readLiveObjects(ctx.handle.kubeConfig, ctx.namespaces, targets);
  const book = addressBook(live, ctx.handle);
  const batches = batchBySource(sink.cells);
  const sourceIPs = [...new Set(batches.map((b) => book.podIP(b.source.namespace, b.source.name)).filter((ip): ip is string => ip !== undefined))];
  const feeds = new DropFeeds();
  const stopFollowing = followDrops(ctx.handle.flowSource, new Date(stepStart), sourceIPs, feeds);
  let perBatch: ProbeResult[][];
  try {
    perBatch = await Promise.all(
      batches.map((b) => {
        const ip = book.podIP(b.source.namespace, b.source.name);
        return runBatch(b, live, book, ctx, ip ? feeds.feedFor(ip) : undefined);
      }),
    );
  } finally {
    stopFollowing();
  }
  const results = new Map<string, ProbeResult>();
  batches.forEach((b, i) => b.cells.forEach((c, j) => results.set(c.id, perBatch[i]![j]!)));

  let flows: FlowRecord[] | undefined;
  let flowError: string | undefined;
  if (ctx.handle.flowSource) {
    try {
      flows = await queryFlows(ctx, stepStart, sourceIPs, sink.checks.length > 0);
    } catch (err) {
      flowError = `the flow source failed: ${errorText(err)}`;
    }
  }
  const slack = ctx.options.flowSlackMs ?? DEFAULT_FLOW_SLACK_MS;
  for (const cell of sink.cells) {
    const probe = results.get(cell.id)!;
    let cellFlows: FlowRecord[] | undefined;
    if (flows) {
      const tuple = probeTuple(probe, cell.target.kind === "service");
      cellFlows = tuple ? flowsForProbe(flows, tuple, slack) : [];
    }
    const loopback = cell.target.kind === "pod" && cell.target.namespace === cell.source.namespace && cell.target.name === cell.source.name;
    const verdict = judgeCell({ expected: cell.expected, probe, ...(cellFlows ? { flows: cellFlows } : {}), audit: ctx.handle.audit, loopback });
    sink.addCell(cellReport(cell, verdict));
  }
  for (const check of sink.checks) sink.addCheck(judgeFlowCheck(check, flows, book, Date.now() - stepStart, ctx.handle.audit));
  if (flowError) throw new Error(flowError);
}

async function cleanup(ctx: StepContext, timeoutMs: number): Promise<void> {
  const objects = ctx.applied.list().reverse();
  if (objects.length === 0) return;
  const problems: string[] = [];
  for (const object of objects) {
    try {
      await deleteTracked(ctx.handle.kubeConfig, [{ object }], ctx.applied);
    } catch (err) {
      problems.push(errorText(err));
    }
  }
  // Deletion is real (the controller-manager empties namespaces); wait so the next scenario, or
  // the next run on a kept cluster, starts from a clean slate.
  try {
    const deferred = ctx.options.deferNamespaceWait;
    const namespaces = objects.filter((o) => o.apiVersion === "v1" && o.kind === "Namespace");
    if (deferred && namespaces.length > 0) deferred(namespaces);
    await waitGone(ctx.handle.kubeConfig, deferred ? objects.filter((o) => !namespaces.includes(o)) : objects, timeoutMs);
  } catch (err) {
    problems.push(errorText(err));
  }
  if (problems.length > 0) throw new Error(problems.join("; "));
}
