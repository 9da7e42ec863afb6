// The verdict of one cell: what the probe saw, read together with what the flow log recorded for
// that exact connection, against what the scenario expects. Pure.
//
// - The probe client never reports DROPPED. A TIMEOUT becomes DROPPED (with the flow's drop
//   reason and policies) when the flow log shows a DROPPED flow for the connection.
// - When the probe and the flow log tell different stories (the probe got through but the flow
//   was dropped; the flow log has no flow at all for a connection the probe made), the cell fails
//   as `observability-disagrees`: a flow log that lies is a bug of its own.
// - PROBE_ERROR is inconclusive, never "blocked".
// - Without a flow source, DROPPED can only be inferred from TIMEOUT, and the cell says so; an
//   expectation that names a drop reason or a policy cannot be checked and fails as unverifiable.
import type { ProbeResult } from "../probe/schema.js";
import { attributedPolicies } from "../report/flow-line.js";
import type { CellReport, FlowRecord } from "../report/model.js";
import type { Expected } from "../spec/cells.js";
import { flowFacts } from "./flow-match.js";

export const NO_FLOW_SOURCE_NOTE = "no flow source: DROPPED inferred from TIMEOUT";
export const UNVERIFIABLE_PREFIX = "unverifiable";

export type CellVerdict = Pick<CellReport, "observed" | "status" | "failureKind" | "message" | "flows">;

export interface CellVerdictInput {
  expected: Expected;
  probe: ProbeResult;
  /** Flows of this probe's connection; undefined when the cluster has no flow source. */
  flows?: readonly FlowRecord[];
  /** Policies run in audit mode: would-be drops show as AUDIT flows and the traffic passes. */
  audit?: boolean;
  /**
   * The destination is the source pod itself: the connection stays on the pod's loopback and no
   * datapath ever sees it, so the flow log cannot confirm or contradict the probe.
   */
  loopback?: boolean;
}

export const LOOPBACK_NOTE = "a pod's connection to itself stays on its loopback: no datapath sees it, so only the probe was observed";

type Observed = NonNullable<CellReport["observed"]>;

const DENIALS: readonly string[] = ["DROPPED", "REJECTED", "L7_DENIED", "DNS_FAILED"];

function unique(items: readonly string[]): string[] {
  return [...new Set(items.filter((i) => i !== ""))];
}

function policiesOf(flows: readonly FlowRecord[]): string[] {
  return unique(flows.flatMap((f) => attributedPolicies(f)));
}

export function judgeCell(input: CellVerdictInput): CellVerdict {
  const { expected, probe } = input;
  const flows = [...(input.flows ?? [])];
  const observed: Observed = {
    outcome: probe.outcome,
    policies: [],
    detail: probe.detail,
    durationMs: probe.timings.totalMs,
    ...(probe.error?.code ? { reason: probe.error.code } : {}),
  };

  if (probe.outcome === "PROBE_ERROR") {
    return { observed, status: "inconclusive", failureKind: "probe-error", message: "the probe could not run; inconclusive, not counted as blocked", flows };
  }
  if (input.loopback === true) return withoutFlowSource(expected, observed, LOOPBACK_NOTE);
  return input.flows === undefined ? withoutFlowSource(expected, observed) : withFlows(expected, observed, flows, input.audit ?? false);
}

function withoutFlowSource(expected: Expected, observed: Observed, why?: string): CellVerdict {
  const flows: FlowRecord[] = [];
  if (expected.reason !== undefined || expected.by !== undefined) {
    const what = [expected.reason !== undefined ? `drop reason ${expected.reason}` : "", expected.by !== undefined ? `policy ${expected.by}` : ""].filter(Boolean).join(" and ");
    return {
      observed,
      status: "fail",
      failureKind: "mismatch",
      message: `${UNVERIFIABLE_PREFIX}: the expectation names the ${what}, which only a flow log can show, and ${why ?? "this cluster has no flow source"}`,
      flows,
    };
  }
  if (expected.outcome === "DROPPED" && observed.outcome === "TIMEOUT" && why === undefined) {
    return {
      observed: { ...observed, outcome: "DROPPED", detail: `${observed.detail ?? ""} (${NO_FLOW_SOURCE_NOTE})`.trim() },
      status: "pass",
      message: NO_FLOW_SOURCE_NOTE,
      flows,
    };
  }
  const verdict = compareOutcome(expected, observed, flows);
  if (why !== undefined) return { ...verdict, message: why };
  return verdict.status === "fail" ? { ...verdict, message: "only the probe was observed: this cluster has no flow source" } : verdict;
}

function withFlows(expected: Expected, observed: Observed, flows: FlowRecord[], audit: boolean): CellVerdict {
  const facts = flows.map((f) => ({ record: f, ...flowFacts(f) }));
  // A dropped reply says nothing about whether the connection was allowed out; only the
  // original direction (or a drop whose direction the datapath could not tell) counts.
  const drops = facts.filter((f) => f.verdict === "DROPPED" && f.isReply !== true);
  const audits = facts.filter((f) => f.verdict === "AUDIT" && f.isReply !== true);
  const passed = facts.filter((f) => f.verdict !== "DROPPED" && f.verdict !== "AUDIT");
  const disagree = (message: string): CellVerdict => ({ observed, status: "fail", failureKind: "observability-disagrees", message, flows });

  if (flows.length === 0) {
    return disagree(`the probe ended ${observed.outcome} but the flow log has no flow for this connection`);
  }
  if (observed.outcome === "TIMEOUT" && drops.length > 0) {
    observed.outcome = "DROPPED";
    observed.reason = drops[0]!.dropReason || undefined;
    if (observed.reason === undefined) delete observed.reason;
    observed.policies = policiesOf(drops.map((d) => d.record));
  } else if (DENIALS.includes(observed.outcome)) {
    if (drops.length > 0) {
      observed.reason = drops[0]!.dropReason || observed.reason;
      observed.policies = policiesOf(drops.map((d) => d.record));
    }
  } else if (observed.outcome === "ALLOWED") {
    if (drops.length > 0) {
      observed.policies = policiesOf(drops.map((d) => d.record));
      observed.reason = drops[0]!.dropReason || observed.reason;
      return disagree("the probe got through, but the flow log shows this connection DROPPED");
    }
    if (audit && audits.length > 0) {
      observed.reason = audits[0]!.dropReason || observed.reason;
      observed.policies = policiesOf(audits.map((a) => a.record));
      // Audit mode evaluates without enforcing: a logged would-be drop is what DROPPED means here.
      if (expected.outcome === "DROPPED") return checkAttribution(expected, observed, flows, "audit mode: the flow log records the would-be drop (AUDIT); the traffic was allowed");
    }
    if (observed.policies.length === 0) observed.policies = policiesOf(passed.map((p) => p.record));
  } else {
    observed.policies = policiesOf(passed.map((p) => p.record));
  }
  if (observed.reason === undefined) delete observed.reason;
  return compareOutcome(expected, observed, flows);
}

function compareOutcome(expected: Expected, observed: Observed, flows: FlowRecord[]): CellVerdict {
  if (observed.outcome !== expected.outcome) {
    return { observed, status: "fail", failureKind: "mismatch", flows };
  }
  return checkAttribution(expected, observed, flows);
}

/** Outcome already agrees; the drop reason and the policy the flows name must agree too. */
function checkAttribution(expected: Expected, observed: Observed, flows: FlowRecord[], note?: string): CellVerdict {
  if (expected.reason !== undefined && observed.reason !== expected.reason) {
    return { observed, status: "fail", failureKind: "mismatch", message: `drop reason ${observed.reason ?? "(none)"} where ${expected.reason} was expected`, flows };
  }
  if (expected.by !== undefined && !observed.policies.includes(expected.by)) {
    const named = observed.policies.length > 0 ? `the flows name ${observed.policies.join(", ")}` : "no flow names a policy";
    return { observed, status: "fail", failureKind: "mismatch", message: `${named}, not ${expected.by}`, flows };
  }
  return { observed, status: "pass", ...(note ? { message: note } : {}), flows };
}
