import { test } from "node:test";
import assert from "node:assert/strict";
import { patchableStatus } from "./pod-worker.js";
import type { PodStatusOut } from "./status.js";

test("status patches null out condition reasons/messages we no longer report (strategic merge keeps them otherwise)", () => {
  const status: PodStatusOut = {
    phase: "Running",
    conditions: [
      { type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: "2026-01-01T00:00:00Z" },
      { type: "ContainersReady", status: "False", lastProbeTime: null, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "ContainersNotReady", message: "m" },
    ],
    hostIP: "198.18.0.11",
    hostIPs: [{ ip: "198.18.0.11" }],
    startTime: "2026-01-01T00:00:00Z",
    containerStatuses: [],
  };
  const body = patchableStatus(status) as { conditions: Record<string, unknown>[] };
  assert.equal(body.conditions[0]?.["reason"], null);
  assert.equal(body.conditions[0]?.["message"], null);
  assert.equal(body.conditions[1]?.["reason"], "ContainersNotReady");
  assert.equal(body.conditions[1]?.["message"], "m");
});
