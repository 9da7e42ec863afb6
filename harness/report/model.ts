// The run report: what every reporter renders and what the JSON report stores (versioned, for
// trend dashboards). Defined once as zod schemas; types are inferred.
import { z } from "zod";
import { OUTCOMES } from "../probe/outcome.js";
import { PROTOCOLS } from "../spec/schema.js";

export const REPORT_SCHEMA_VERSION = 1;

export const CELL_STATUSES = ["pass", "fail", "inconclusive", "skipped"] as const;
export type CellStatus = (typeof CELL_STATUSES)[number];

/**
 * Why a cell failed: the probe saw another outcome than expected (`mismatch`), the probe and the
 * flow log disagree about what happened (`observability-disagrees`), or the probe could not run
 * (`probe-error`, inconclusive: never counted as blocked).
 */
export const FAILURE_KINDS = ["mismatch", "observability-disagrees", "probe-error"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export const SCENARIO_STATUSES = ["passed", "failed", "skipped"] as const;
export type ScenarioStatus = (typeof SCENARIO_STATUSES)[number];

/** A Hubble-shaped flow record (bare Flow or `{flow: ...}` envelope), kept as it came. */
export const flowRecordSchema = z.record(z.string(), z.unknown());
export type FlowRecord = z.infer<typeof flowRecordSchema>;

export const expectedSchema = z.strictObject({
  outcome: z.enum(OUTCOMES),
  reason: z.string().optional(),
  by: z.string().optional(),
});

export const observedSchema = z.strictObject({
  outcome: z.enum(OUTCOMES),
  /** Drop reason from the flow log (e.g. POLICY_DENIED) or the probe's error class. */
  reason: z.string().optional(),
  /** Policies the matching flows name (`ns/name`, or `name` for clusterwide ones). */
  policies: z.array(z.string()),
  /** What the probe itself reported, e.g. "connect: timeout after 3s", "HTTP 403". */
  detail: z.string().optional(),
  durationMs: z.number().min(0).optional(),
  attempts: z.int().min(1).optional(),
});

export const cellReportSchema = z.strictObject({
  id: z.string(),
  step: z.string(),
  from: z.string(),
  to: z.string(),
  port: z.int().optional(),
  protocol: z.enum(PROTOCOLS),
  expected: expectedSchema,
  /** Absent when the cell never ran (skipped). */
  observed: observedSchema.optional(),
  status: z.enum(CELL_STATUSES),
  failureKind: z.enum(FAILURE_KINDS).optional(),
  /** One line explaining a failure beyond expected/observed (e.g. which side the flow log took). */
  message: z.string().optional(),
  skipReason: z.string().optional(),
  flows: z.array(flowRecordSchema),
});
export type CellReport = z.infer<typeof cellReportSchema>;

/** Non-probe assertions of a step (flow expectations today); one testcase each. */
export const checkReportSchema = z.strictObject({
  id: z.string(),
  step: z.string(),
  kind: z.string(),
  name: z.string(),
  status: z.enum(CELL_STATUSES),
  expected: z.string().optional(),
  observed: z.string().optional(),
  message: z.string().optional(),
  skipReason: z.string().optional(),
  durationMs: z.number().min(0).optional(),
  flows: z.array(flowRecordSchema),
});
export type CheckReport = z.infer<typeof checkReportSchema>;

/** A scenario-level error outside any cell: an apply the API server refused, a wait that timed out. */
export const scenarioErrorSchema = z.strictObject({
  step: z.string().optional(),
  message: z.string(),
});
export type ScenarioError = z.infer<typeof scenarioErrorSchema>;

export const scenarioReportSchema = z.strictObject({
  name: z.string(),
  file: z.string(),
  status: z.enum(SCENARIO_STATUSES),
  skipReason: z.string().optional(),
  durationMs: z.number().min(0),
  manifestDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
  errors: z.array(scenarioErrorSchema),
  cells: z.array(cellReportSchema),
  checks: z.array(checkReportSchema),
});
export type ScenarioReport = z.infer<typeof scenarioReportSchema>;

export const runMetaSchema = z.strictObject({
  conformVersion: z.string(),
  agentVersion: z.string(),
  kernel: z.string(),
  kubernetesVersion: z.string(),
  clusterName: z.string(),
  /** The run evaluated policies in audit mode (would-be drops reported, never applied). */
  audit: z.boolean(),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
});
export type RunMeta = z.infer<typeof runMetaSchema>;

const countsSchema = z.strictObject({
  total: z.int(),
  pass: z.int(),
  fail: z.int(),
  inconclusive: z.int(),
  skipped: z.int(),
});

export const summarySchema = z.strictObject({
  scenarios: z.strictObject({ total: z.int(), passed: z.int(), failed: z.int(), skipped: z.int() }),
  cells: countsSchema,
  checks: countsSchema,
  durationMs: z.number().min(0),
});
export type ReportSummary = z.infer<typeof summarySchema>;

export const runReportSchema = z.strictObject({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  run: runMetaSchema,
  scenarios: z.array(scenarioReportSchema),
  summary: summarySchema,
});
export type RunReport = z.infer<typeof runReportSchema>;

function count<T extends { status: CellStatus }>(items: readonly T[]) {
  const by = (s: CellStatus) => items.filter((i) => i.status === s).length;
  return { total: items.length, pass: by("pass"), fail: by("fail"), inconclusive: by("inconclusive"), skipped: by("skipped") };
}

export function summarize(run: RunMeta, scenarios: readonly ScenarioReport[]): ReportSummary {
  const by = (s: ScenarioStatus) => scenarios.filter((x) => x.status === s).length;
  return {
    scenarios: { total: scenarios.length, passed: by("passed"), failed: by("failed"), skipped: by("skipped") },
    cells: count(scenarios.flatMap((s) => s.cells)),
    checks: count(scenarios.flatMap((s) => s.checks)),
    durationMs: Math.max(0, Date.parse(run.endedAt) - Date.parse(run.startedAt)),
  };
}

/** Assembles (and validates) the report the reporters receive at the end of a run. */
export function buildRunReport(run: RunMeta, scenarios: readonly ScenarioReport[]): RunReport {
  return runReportSchema.parse({ schemaVersion: REPORT_SCHEMA_VERSION, run, scenarios, summary: summarize(run, scenarios) });
}

/** A scenario fails when any cell or check fails or is inconclusive, or it recorded an error. */
export function scenarioStatus(scenario: Pick<ScenarioReport, "errors" | "cells" | "checks" | "skipReason">): ScenarioStatus {
  if (scenario.skipReason !== undefined) return "skipped";
  const bad = [...scenario.cells, ...scenario.checks].some((c) => c.status === "fail" || c.status === "inconclusive");
  return bad || scenario.errors.length > 0 ? "failed" : "passed";
}

/** The run passed: no scenario failed (skipped ones do not fail a run). */
export function runPassed(report: RunReport): boolean {
  return report.scenarios.every((s) => s.status !== "failed");
}
