import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1NodeCondition } from "@kubernetes/client-node";
import { goArch, nodeLabels, nodeObject, nodeStatus, statusFingerprint } from "./node-status.js";
import type { NodeFacts } from "./node-status.js";

const facts: NodeFacts = {
  nodeName: "node1",
  nodeIP: "198.18.0.11",
  kubernetesVersion: "v1.36.3",
  extraLabels: { "conform.dev/node-index": "1" },
  arch: "amd64",
  cpus: 2,
  memoryBytes: 8 * 1024 * 1024 * 1024,
  ephemeralStorageBytes: 1024 * 1024,
  maxPods: 110,
  kernelVersion: "6.1.0",
  osImage: "Debian GNU/Linux 12 (bookworm)",
  machineID: "m",
  systemUUID: "u",
  bootID: "b",
};
const T0 = new Date("2026-01-01T00:00:00.500Z");
const T1 = new Date("2026-01-01T00:01:00Z");

test("labels and the registered object", () => {
  assert.equal(goArch("x64"), "amd64");
  assert.equal(goArch("arm64"), "arm64");
  const labels = nodeLabels(facts);
  assert.equal(labels["kubernetes.io/hostname"], "node1");
  assert.equal(labels["kubernetes.io/os"], "linux");
  assert.equal(labels["kubernetes.io/arch"], "amd64");
  assert.equal(labels["conform.dev/node-index"], "1");
  assert.equal(nodeObject(facts).metadata.name, "node1");
});

test("status: addresses, capacity in Kubernetes quantities, nodeInfo, Ready from the network", () => {
  const s = nodeStatus(facts, { ready: true }, undefined, T0);
  assert.deepEqual(s.addresses, [
    { type: "InternalIP", address: "198.18.0.11" },
    { type: "Hostname", address: "node1" },
  ]);
  assert.deepEqual(s.capacity, { cpu: "2", memory: "8388608Ki", pods: "110", "ephemeral-storage": "1024Ki" });
  assert.deepEqual(s.allocatable, s.capacity);
  assert.equal(s.nodeInfo["kubeletVersion"], "v1.36.3");
  assert.equal(s.nodeInfo["architecture"], "amd64");
  const ready = s.conditions.find((c) => c.type === "Ready");
  assert.deepEqual(ready, { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: "2026-01-01T00:00:00Z", lastTransitionTime: "2026-01-01T00:00:00Z" });
  assert.deepEqual(s.conditions.map((c) => `${c.type}=${c.status}`), ["MemoryPressure=False", "DiskPressure=False", "PIDPressure=False", "Ready=True"]);
  const notReady = nodeStatus(facts, { ready: false, reason: "NetworkPluginNotReady", message: "no CNI configuration in /x" }, undefined, T0).conditions.find((c) => c.type === "Ready");
  assert.equal(notReady?.status, "False");
  assert.equal(notReady?.reason, "NetworkPluginNotReady");
  assert.equal(notReady?.message, "no CNI configuration in /x");
});

test("heartbeats move, transition times hold until the status flips; the fingerprint ignores heartbeats", () => {
  const first = nodeStatus(facts, { ready: true }, undefined, T0);
  const prev = first.conditions as unknown as V1NodeCondition[];
  const later = nodeStatus(facts, { ready: true }, prev, T1);
  const ready = later.conditions.find((c) => c.type === "Ready");
  assert.equal(ready?.lastHeartbeatTime, "2026-01-01T00:01:00Z");
  assert.equal(ready?.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(statusFingerprint(later), statusFingerprint(first));
  const flipped = nodeStatus(facts, { ready: false, reason: "NetworkPluginNotReady", message: "m" }, prev, T1);
  assert.equal(flipped.conditions.find((c) => c.type === "Ready")?.lastTransitionTime, "2026-01-01T00:01:00Z");
  assert.notEqual(statusFingerprint(flipped), statusFingerprint(first));
});
