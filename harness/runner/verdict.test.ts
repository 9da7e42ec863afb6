import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { OUTCOMES } from "../probe/outcome.js";
import type { Outcome } from "../probe/outcome.js";
import type { Expected } from "../spec/cells.js";
import { flow, probeResult } from "./testdata/fixtures.js";
import { judgeCell, LOOPBACK_NOTE, NO_FLOW_SOURCE_NOTE } from "./verdict.js";

const EXPECTABLE = OUTCOMES.filter((o) => o !== "PROBE_ERROR");
/** What the probe client can report: everything but DROPPED. */
const PROBE_OUTCOMES = OUTCOMES.filter((o) => o !== "DROPPED");

describe("cell verdicts without a flow source", () => {
  test("every expected × observed combination", () => {
    for (const expected of EXPECTABLE) {
      for (const observed of PROBE_OUTCOMES) {
        const v = judgeCell({ expected: { outcome: expected }, probe: probeResult({ outcome: observed }) });
        const label = `expected ${expected}, probe ${observed}`;
        if (observed === "PROBE_ERROR") {
          assert.equal(v.status, "inconclusive", label);
          assert.equal(v.failureKind, "probe-error", label);
        } else if (expected === observed) {
          assert.equal(v.status, "pass", label);
          assert.equal(v.observed?.outcome, observed, label);
          assert.equal(v.message, undefined, label);
        } else if (expected === "DROPPED" && observed === "TIMEOUT") {
          assert.equal(v.status, "pass", label);
          assert.equal(v.observed?.outcome, "DROPPED", label);
          assert.equal(v.message, NO_FLOW_SOURCE_NOTE, label);
          assert.match(v.observed?.detail ?? "", /no flow source: DROPPED inferred from TIMEOUT/, label);
        } else {
          assert.equal(v.status, "fail", label);
          assert.equal(v.failureKind, "mismatch", label);
          assert.equal(v.observed?.outcome, observed, label);
        }
        assert.deepEqual(v.flows, [], label);
      }
    }
  });

  test("by/reason expectations fail as unverifiable, even when the outcome agrees", () => {
    const cases: Expected[] = [
      { outcome: "DROPPED", reason: "POLICY_DENIED" },
      { outcome: "DROPPED", by: "shop/backend-ingress" },
      { outcome: "ALLOWED", by: "shop/allow-frontend" },
      { outcome: "REJECTED", by: "shop/reject" },
    ];
    for (const expected of cases) {
      const probe = probeResult({ outcome: expected.outcome === "DROPPED" ? "TIMEOUT" : expected.outcome });
      const v = judgeCell({ expected, probe });
      assert.equal(v.status, "fail", JSON.stringify(expected));
      assert.equal(v.failureKind, "mismatch");
      assert.match(v.message ?? "", /^unverifiable: .*no flow source/);
      // Nothing is inferred when the cell cannot be verified.
      assert.equal(v.observed?.outcome, probe.outcome);
    }
  });

  test("a plain TIMEOUT expectation passes without the inference note", () => {
    const v = judgeCell({ expected: { outcome: "TIMEOUT" }, probe: probeResult({ outcome: "TIMEOUT" }) });
    assert.equal(v.status, "pass");
    assert.equal(v.observed?.outcome, "TIMEOUT");
    assert.equal(v.message, undefined);
  });
});

describe("a pod probing itself (loopback)", () => {
  test("passes on the probe alone, even with a flow source that saw nothing", () => {
    const v = judgeCell({ expected: { outcome: "ALLOWED" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [], loopback: true });
    assert.equal(v.status, "pass");
    assert.equal(v.message, LOOPBACK_NOTE);
  });

  test("a wrong outcome still fails, and a TIMEOUT is never turned into DROPPED", () => {
    const wrong = judgeCell({ expected: { outcome: "ALLOWED" }, probe: probeResult({ outcome: "REJECTED" }), flows: [], loopback: true });
    assert.equal(wrong.status, "fail");
    assert.equal(wrong.failureKind, "mismatch");
    const timeout = judgeCell({ expected: { outcome: "DROPPED" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [], loopback: true });
    assert.equal(timeout.status, "fail");
    assert.equal(timeout.observed?.outcome, "TIMEOUT");
  });

  test("a policy name cannot be checked on loopback and fails as unverifiable", () => {
    const v = judgeCell({ expected: { outcome: "ALLOWED", by: "ns/p" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [], loopback: true });
    assert.equal(v.status, "fail");
    assert.match(v.message ?? "", /^unverifiable: .*loopback/);
  });
});

describe("cell verdicts with flows", () => {
  const policy = { name: "backend-ingress", namespace: "shop", kind: "CiliumNetworkPolicy" };
  const dropped = flow({ verdict: "DROPPED", reason: "POLICY_DENIED", deniedBy: [policy] });
  const forwarded = flow({ verdict: "FORWARDED", isReply: false, allowedBy: [{ name: "allow-frontend", namespace: "shop" }] });
  const reply = flow({ verdict: "FORWARDED", isReply: true, src: "10.244.1.7", dst: "10.244.0.5", sport: 8080, dport: 40412 });

  test("TIMEOUT with a DROPPED flow becomes DROPPED, with the flow's reason and policy", () => {
    const v = judgeCell({ expected: { outcome: "DROPPED", reason: "POLICY_DENIED", by: "shop/backend-ingress" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [dropped] });
    assert.equal(v.status, "pass");
    assert.deepEqual(v.observed && { outcome: v.observed.outcome, reason: v.observed.reason, policies: v.observed.policies }, {
      outcome: "DROPPED",
      reason: "POLICY_DENIED",
      policies: ["shop/backend-ingress"],
    });
    assert.equal(v.message, undefined, "no inference note when the flow log shows the drop");
    assert.deepEqual(v.flows, [dropped]);
  });

  test("a default-deny drop is attributed to the policies that put the endpoint into default deny", () => {
    const defaultDeny = { ...flow({ verdict: "DROPPED", reason: "POLICY_DENIED" }), ingress_default_deny_by: [{ name: "db-deny-all", namespace: "shop", kind: "CiliumNetworkPolicy" }] };
    const v = judgeCell({ expected: { outcome: "DROPPED", by: "shop/db-deny-all" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [{ flow: defaultDeny }] });
    assert.equal(v.status, "pass", v.message);
    assert.deepEqual(v.observed?.policies, ["shop/db-deny-all"]);
  });

  test("a DROPPED flow in a {flow: …} envelope counts the same", () => {
    const v = judgeCell({ expected: { outcome: "DROPPED" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [flow({ verdict: "DROPPED", reason: "POLICY_DENIED", envelope: true })] });
    assert.equal(v.status, "pass");
    assert.equal(v.observed?.outcome, "DROPPED");
  });

  test("the wrong policy or drop reason fails as a mismatch naming both", () => {
    const byWrong = judgeCell({ expected: { outcome: "DROPPED", by: "shop/other" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [dropped] });
    assert.equal(byWrong.status, "fail");
    assert.equal(byWrong.failureKind, "mismatch");
    assert.match(byWrong.message ?? "", /the flows name shop\/backend-ingress, not shop\/other/);
    const reasonWrong = judgeCell({ expected: { outcome: "DROPPED", reason: "POLICY_DENY" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [dropped] });
    assert.equal(reasonWrong.status, "fail");
    assert.match(reasonWrong.message ?? "", /drop reason POLICY_DENIED where POLICY_DENY was expected/);
  });

  test("TIMEOUT with no flow at all: observability disagrees", () => {
    const v = judgeCell({ expected: { outcome: "DROPPED" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [] });
    assert.equal(v.status, "fail");
    assert.equal(v.failureKind, "observability-disagrees");
    assert.match(v.message ?? "", /no flow for this connection/);
  });

  test("ALLOWED but the flow log shows the connection DROPPED: observability disagrees, whatever was expected", () => {
    for (const expected of ["ALLOWED", "DROPPED"] as const) {
      const v = judgeCell({ expected: { outcome: expected }, probe: probeResult({ outcome: "ALLOWED" }), flows: [forwarded, dropped] });
      assert.equal(v.status, "fail", expected);
      assert.equal(v.failureKind, "observability-disagrees", expected);
      assert.match(v.message ?? "", /got through, but the flow log shows this connection DROPPED/);
    }
  });

  test("a dropped reply does not contradict an allowed connection", () => {
    const droppedReply = flow({ verdict: "DROPPED", isReply: true, src: "10.244.1.7", dst: "10.244.0.5", sport: 8080, dport: 40412 });
    const v = judgeCell({ expected: { outcome: "ALLOWED" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [forwarded, droppedReply] });
    assert.equal(v.status, "pass");
  });

  test("ALLOWED with forwarded flows checks `by` against the allowing policies", () => {
    const ok = judgeCell({ expected: { outcome: "ALLOWED", by: "shop/allow-frontend" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [forwarded, reply] });
    assert.equal(ok.status, "pass");
    assert.deepEqual(ok.observed?.policies, ["shop/allow-frontend"]);
    const wrong = judgeCell({ expected: { outcome: "ALLOWED", by: "shop/nope" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [forwarded] });
    assert.equal(wrong.status, "fail");
    assert.equal(wrong.failureKind, "mismatch");
  });

  test("TIMEOUT with only forwarded flows stays TIMEOUT: the loss happened outside the datapath", () => {
    const v = judgeCell({ expected: { outcome: "DROPPED" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [forwarded] });
    assert.equal(v.status, "fail");
    assert.equal(v.failureKind, "mismatch");
    assert.equal(v.observed?.outcome, "TIMEOUT");
    const expectedTimeout = judgeCell({ expected: { outcome: "TIMEOUT" }, probe: probeResult({ outcome: "TIMEOUT" }), flows: [forwarded] });
    assert.equal(expectedTimeout.status, "pass");
  });

  test("REJECTED with a DROPPED flow keeps REJECTED and names the policy", () => {
    const v = judgeCell({ expected: { outcome: "REJECTED", by: "shop/backend-ingress" }, probe: probeResult({ outcome: "REJECTED", error: { code: "ECONNREFUSED" } }), flows: [dropped] });
    assert.equal(v.status, "pass");
    assert.equal(v.observed?.outcome, "REJECTED");
    assert.equal(v.observed?.reason, "POLICY_DENIED");
  });

  test("PROBE_ERROR is inconclusive even when flows exist", () => {
    const v = judgeCell({ expected: { outcome: "DROPPED" }, probe: probeResult({ outcome: "PROBE_ERROR", detail: "exec refused" }), flows: [dropped] });
    assert.equal(v.status, "inconclusive");
    assert.equal(v.failureKind, "probe-error");
    assert.equal(v.observed?.outcome, "PROBE_ERROR");
  });

  test("every expected × observed combination with a consistent flow log", () => {
    // The flow log agrees with the probe: a drop for silent losses, forwarded flows otherwise.
    const flowsFor = (o: Outcome) => (o === "TIMEOUT" ? [dropped] : [forwarded]);
    for (const expected of EXPECTABLE) {
      for (const observed of PROBE_OUTCOMES) {
        const v = judgeCell({ expected: { outcome: expected }, probe: probeResult({ outcome: observed }), flows: flowsFor(observed) });
        const effective = observed === "TIMEOUT" ? "DROPPED" : observed;
        const label = `expected ${expected}, probe ${observed}`;
        if (observed === "PROBE_ERROR") assert.equal(v.status, "inconclusive", label);
        else if (expected === effective) assert.equal(v.status, "pass", label);
        else {
          assert.equal(v.status, "fail", label);
          assert.equal(v.failureKind, "mismatch", label);
        }
      }
    }
  });

  test("audit mode: an AUDIT flow for an allowed connection satisfies DROPPED, and only in audit mode", () => {
    const audited = flow({ verdict: "AUDIT", reason: "POLICY_DENIED", deniedBy: [policy] });
    const inAudit = judgeCell({ expected: { outcome: "DROPPED", by: "shop/backend-ingress" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [forwarded, audited], audit: true });
    assert.equal(inAudit.status, "pass");
    assert.match(inAudit.message ?? "", /audit mode/);
    assert.equal(inAudit.observed?.outcome, "ALLOWED");
    const enforcing = judgeCell({ expected: { outcome: "DROPPED" }, probe: probeResult({ outcome: "ALLOWED" }), flows: [forwarded, audited], audit: false });
    assert.equal(enforcing.status, "fail");
    assert.equal(enforcing.failureKind, "mismatch");
  });
});
