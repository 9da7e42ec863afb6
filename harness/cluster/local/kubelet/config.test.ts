import { test } from "node:test";
import assert from "node:assert/strict";
import { forbiddenNodeLabelReason, parseKubeletConfig } from "./config.js";

const base = {
  cluster: "dev",
  nodeName: "node1",
  nodeIP: "198.18.0.11",
  kubeconfig: "/run/conform/dev/nodes/node1/kubelet.kubeconfig",
  stateDir: "/run/conform/dev/nodes/node1",
  cniBinDir: "/root/.cache/conform/cni/v1.9.1",
  cniConfDir: "/run/conform/dev/nodes/node1/cni/net.d",
  repoRoot: "/work/main",
  kubernetesVersion: "v1.36.3",
};

test("a minimal config gets the kubelet's defaults", () => {
  const cfg = parseKubeletConfig("kubelet.json", JSON.stringify(base));
  assert.deepEqual(cfg.labels, {});
  assert.equal(cfg.nodeStatusUpdateSeconds, 10);
  assert.equal(cfg.leaseDurationSeconds, 40);
  assert.deepEqual(cfg.restartBackoff, { initialSeconds: 10, maxSeconds: 300 });
  assert.equal(cfg.maxPods, 110);
});

test("errors name the file, line and field", () => {
  const text = JSON.stringify({ ...base, nodeIP: "node-one", stateDir: "relative/dir", extra: 1 }, null, 2);
  assert.throws(
    () => parseKubeletConfig("/run/x/kubelet.json", text),
    (e: unknown) => {
      const msg = (e as Error).message;
      assert.match(msg, /\/run\/x\/kubelet\.json:4: nodeIP: /);
      assert.match(msg, /kubelet\.json:6: stateDir: must be an absolute path/);
      assert.match(msg, /kubelet\.json:\d+: extra: unknown field/);
      return true;
    },
  );
});

test("labels NodeRestriction would refuse are rejected up front", () => {
  assert.equal(forbiddenNodeLabelReason("conform.dev/node-index"), null);
  assert.equal(forbiddenNodeLabelReason("topology.kubernetes.io/zone"), null);
  assert.equal(forbiddenNodeLabelReason("node.kubernetes.io/pool"), null);
  assert.equal(forbiddenNodeLabelReason("kubelet.kubernetes.io/x"), null);
  assert.match(forbiddenNodeLabelReason("node-role.kubernetes.io/worker") ?? "", /NodeRestriction/);
  assert.match(forbiddenNodeLabelReason("node-restriction.kubernetes.io/team") ?? "", /administrators/);
  assert.match(forbiddenNodeLabelReason("example.k8s.io/x") ?? "", /NodeRestriction/);
  assert.throws(() => parseKubeletConfig("k.json", JSON.stringify({ ...base, labels: { "node-role.kubernetes.io/worker": "" } })), /labels\.node-role\.kubernetes\.io\/worker: the NodeRestriction/);
});

test("inconsistent timings are refused", () => {
  assert.throws(() => parseKubeletConfig("k.json", JSON.stringify({ ...base, leaseDurationSeconds: 5 })), /leaseDurationSeconds: must exceed nodeStatusUpdateSeconds/);
  assert.throws(() => parseKubeletConfig("k.json", JSON.stringify({ ...base, restartBackoff: { initialSeconds: 10, maxSeconds: 1 } })), /restartBackoff\.maxSeconds/);
});
