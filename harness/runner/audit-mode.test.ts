import { test } from "node:test";
import assert from "node:assert/strict";
import { AUDIT_MODE_ANNOTATION, forRunMode, withAuditMode } from "./audit-mode.js";
import type { KubeObject } from "../spec/manifests.js";

const cnp: KubeObject = {
  apiVersion: "cilium.io/v2",
  kind: "CiliumNetworkPolicy",
  metadata: { name: "p", namespace: "shop", annotations: { owner: "team-a" } },
  spec: { endpointSelector: {} },
};
const pod: KubeObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "x", namespace: "shop" } };

test("policies get the audit annotation, other objects and the original are untouched", () => {
  const audited = withAuditMode(cnp);
  assert.deepEqual(audited.metadata.annotations, { owner: "team-a", [AUDIT_MODE_ANNOTATION]: "true" });
  assert.deepEqual(cnp.metadata.annotations, { owner: "team-a" });
  assert.equal(withAuditMode(pod), pod);
  const knp = withAuditMode({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "n", namespace: "shop" } });
  assert.equal((knp.metadata.annotations as Record<string, string>)[AUDIT_MODE_ANNOTATION], "true");
});

test("forRunMode changes nothing unless the run is in audit mode, and keeps sources", () => {
  const items = [{ object: cnp, source: { file: "p.yaml", line: 3 } }, { object: pod }];
  assert.deepEqual(forRunMode(items, false), items);
  const audited = forRunMode(items, true);
  assert.deepEqual(audited[0]!.source, { file: "p.yaml", line: 3 });
  assert.equal((audited[0]!.object.metadata.annotations as Record<string, string>)[AUDIT_MODE_ANNOTATION], "true");
  assert.equal(audited[1]!.object, pod);
});
