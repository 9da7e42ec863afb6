import { test } from "node:test";
import assert from "node:assert/strict";
import { identityLabels, isIdentityRelevantPodLabel } from "./pod-identity.js";
import { canonicalKey } from "./labels.js";

const ns = { metadata: { name: "prod", labels: { team: "a", "kubernetes.io/metadata.name": "prod" } } };

test("identityLabels carries pod labels, namespace, namespace labels, service account and cluster", () => {
  const labels = identityLabels(
    { metadata: { name: "db-0", namespace: "prod", labels: { app: "db", "app.kubernetes.io/name": "db" } }, spec: { serviceAccountName: "leia" } },
    ns,
    { clusterName: "c1" },
  );
  assert.deepEqual(labels, {
    "k8s:app": "db",
    "k8s:app.kubernetes.io/name": "db",
    "k8s:io.kubernetes.pod.namespace": "prod",
    "k8s:io.cilium.k8s.policy.serviceaccount": "leia",
    "k8s:io.cilium.k8s.policy.cluster": "c1",
    "k8s:io.cilium.k8s.namespace.labels.team": "a",
    "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name": "prod",
  });
});

test("per-replica labels are filtered so replicas share one identity", () => {
  const a = identityLabels({ metadata: { namespace: "prod", labels: { app: "db", "pod-template-hash": "abc", "statefulset.kubernetes.io/pod-name": "db-0" } } }, ns);
  const b = identityLabels({ metadata: { namespace: "prod", labels: { app: "db", "pod-template-hash": "def", "statefulset.kubernetes.io/pod-name": "db-1" } } }, ns);
  assert.equal(canonicalKey(a), canonicalKey(b));
  assert.equal(a["k8s:io.cilium.k8s.policy.serviceaccount"], "default");
  assert.equal(a["k8s:io.cilium.k8s.policy.cluster"], "default");
});

test("the default label filter", () => {
  for (const k of ["io.kubernetes.foo", "kubernetes.io/x", "k8s.io/y", "beta.kubernetes.io/arch", "topology.kubernetes.io/zone", "controller-revision-hash", "annotation.x", "etcd_node"]) {
    assert.equal(isIdentityRelevantPodLabel(k), false, k);
  }
  for (const k of ["app", "app.kubernetes.io/name", "tier"]) assert.equal(isIdentityRelevantPodLabel(k), true, k);
});
