// Every reporter shows the same testcases: one per cell, one per check, one per scenario-level
// error, and one for a skipped scenario that has nothing else to show. This module flattens a
// scenario report into those, with the text a failure carries.
import { renderFlowLine } from "./flow-line.js";
import type { CellReport, CellStatus, CheckReport, FlowRecord, ScenarioReport } from "./model.js";

export interface TestCaseView {
  id: string;
  /** Testcase name inside its scenario, e.g. `after-policy: other/stranger -> shop/backend:8080/tcp`. */
  name: string;
  kind: "cell" | "check" | "error" | "scenario";
  status: CellStatus;
  /** mismatch | observability-disagrees | probe-error | flow-check | error */
  failureKind?: string;
  /** One line: what went wrong (or why it was skipped). */
  message?: string;
  /** Multi-line failure text: expected vs observed, drop reason, policies, flow lines. */
  detail?: string;
  durationMs?: number;
  flows: FlowRecord[];
}

/** Control characters (from probe output or flows) shown as \xHH so they cannot drive a terminal. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function formatExpected(expected: CellReport["expected"]): string {
  const extra = [expected.reason ? `reason ${expected.reason}` : "", expected.by ? `by ${expected.by}` : ""].filter(Boolean);
  return extra.length > 0 ? `${expected.outcome} (${extra.join(", ")})` : expected.outcome;
}

export function formatObserved(observed: CellReport["observed"]): string {
  if (!observed) return "not run";
  const extra = [observed.reason ? `reason ${observed.reason}` : "", observed.policies.length > 0 ? `by ${observed.policies.join(", ")}` : ""].filter(Boolean);
  return extra.length > 0 ? `${observed.outcome} (${extra.join(", ")})` : observed.outcome;
}

export function cellCase(cell: CellReport): TestCaseView {
  const view: TestCaseView = {
    id: cell.id,
    name: `${cell.step}: ${cell.from} -> ${cell.to}`,
    kind: "cell",
    status: cell.status,
    flows: cell.flows,
    ...(cell.observed?.durationMs !== undefined ? { durationMs: cell.observed.durationMs } : {}),
  };
  if (cell.status === "skipped") return { ...view, message: cell.skipReason ?? "skipped" };
  if (cell.status === "pass") return view;
  const failureKind = cell.failureKind ?? (cell.status === "inconclusive" ? "probe-error" : "mismatch");
  const lines = [
    `cell:     ${cell.from} -> ${cell.to} (step ${cell.step})`,
    `expected: ${formatExpected(cell.expected)}`,
    `observed: ${formatObserved(cell.observed)}`,
  ];
  if (cell.observed?.detail) lines.push(`probe:    ${cell.observed.detail}`);
  lines.push(`failure:  ${failureKind}${cell.message ? `: ${cell.message}` : ""}`);
  lines.push(...flowLines(cell.flows));
  return {
    ...view,
    failureKind,
    message: `expected ${formatExpected(cell.expected)}, observed ${formatObserved(cell.observed)}${cell.message ? `: ${cell.message}` : ""}`,
    detail: lines.join("\n"),
  };
}

export function checkCase(check: CheckReport): TestCaseView {
  const view: TestCaseView = {
    id: check.id,
    name: `${check.step}: ${check.kind} ${check.name}`,
    kind: "check",
    status: check.status,
    flows: check.flows,
    ...(check.durationMs !== undefined ? { durationMs: check.durationMs } : {}),
  };
  if (check.status === "skipped") return { ...view, message: check.skipReason ?? "skipped" };
  if (check.status === "pass") return view;
  const summary = [check.expected ? `expected ${check.expected}` : "", check.observed ? `observed ${check.observed}` : "", check.message ?? ""].filter(Boolean).join(", ");
  const lines = [`check:    ${check.kind} ${check.name} (step ${check.step})`];
  if (check.expected) lines.push(`expected: ${check.expected}`);
  if (check.observed) lines.push(`observed: ${check.observed}`);
  if (check.message) lines.push(`failure:  ${check.message}`);
  lines.push(...flowLines(check.flows));
  return { ...view, failureKind: check.status === "inconclusive" ? "error" : "flow-check", message: summary || check.status, detail: lines.join("\n") };
}

export function scenarioCases(scenario: ScenarioReport): TestCaseView[] {
  const cases = [...scenario.cells.map(cellCase), ...scenario.checks.map(checkCase)];
  scenario.errors.forEach((error, i) => {
    const where = error.step ?? "scenario";
    const suffix = scenario.errors.length > 1 ? ` #${i + 1}` : "";
    cases.push({
      id: `${scenario.name}/${where}: error${suffix}`,
      name: `${where}: error${suffix}`,
      kind: "error",
      status: "inconclusive",
      failureKind: "error",
      message: error.message,
      detail: error.message,
      flows: [],
    });
  });
  if (cases.length === 0 && scenario.status === "skipped") {
    cases.push({ id: `${scenario.name}: skipped`, name: scenario.name, kind: "scenario", status: "skipped", message: scenario.skipReason ?? "skipped", flows: [] });
  }
  // A skipped scenario's cells carry the scenario's reason unless they have their own.
  if (scenario.status === "skipped") for (const c of cases) if (c.status === "skipped" && (!c.message || c.message === "skipped")) c.message = scenario.skipReason ?? "skipped";
  return cases;
}

function flowLines(flows: readonly FlowRecord[]): string[] {
  if (flows.length === 0) return ["flows:    none matched"];
  return ["flows:", ...flows.map((f) => `  ${renderFlowLine(f)}`)];
}
