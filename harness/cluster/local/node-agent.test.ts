import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { V1ConfigMap, V1DaemonSet } from "@kubernetes/client-node";
import { agentDeployObjects, AGENT_CONFIGMAP, AGENT_DAEMONSET } from "./node-agent.js";
import { repoRoot, stateRoot } from "./paths.js";

const objects = agentDeployObjects({ cluster: "dev", settings: { policy: { auditMode: true } } });
const ds = objects.find((o) => o.kind === "DaemonSet" && o.metadata?.name === AGENT_DAEMONSET) as V1DaemonSet;
const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata?.name === AGENT_CONFIGMAP) as V1ConfigMap;

test("agent/deploy: ServiceAccount, RBAC, ConfigMap and a host-network DaemonSet that tolerates every taint", () => {
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`),
    ["ServiceAccount/kube-system/conform-agent", "ClusterRole//conform-agent", "ClusterRoleBinding//conform-agent", "ConfigMap/kube-system/conform-agent-config", "DaemonSet/kube-system/conform-agent"],
  );
  const pod = ds.spec!.template.spec!;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.serviceAccountName, "conform-agent");
  assert.deepEqual(pod.tolerations, [{ operator: "Exists" }]);
  assert.equal(pod.priorityClassName, "system-node-critical");
  const version = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
  assert.equal(pod.containers[0]?.image, `conform/agent:${version}`, "the image tag follows the package version");
  const env = Object.fromEntries((pod.containers[0]?.env ?? []).map((e) => [e.name, e]));
  assert.equal(env["NODE_NAME"]?.valueFrom?.fieldRef?.fieldPath, "spec.nodeName");
  assert.equal(env["NODE_IP"]?.valueFrom?.fieldRef?.fieldPath, "status.hostIP");
  assert.equal(env["KUBERNETES_SERVICE_HOST"]?.valueFrom?.configMapKeyRef?.optional, true, "overridable from the ConfigMap");
  const hostPaths = Object.fromEntries((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path]));
  assert.deepEqual(hostPaths["bpffs"], "/sys/fs/bpf");
  assert.deepEqual(hostPaths["cni-bin"], "/opt/cni/bin");
  assert.deepEqual(hostPaths["cni-conf"], "/etc/cni/net.d");
  assert.deepEqual(hostPaths["state"], "/var/lib/conform");
  assert.deepEqual(hostPaths["run"], stateRoot);
});

test("the provider patches the cluster name and extra settings into the ConfigMap, keeping the rest", () => {
  assert.deepEqual(parseYaml(cm.data?.["config.yaml"] ?? ""), { clusterName: "dev", policy: { auditMode: true } });
  const rules = (objects.find((o) => o.kind === "ClusterRole") as { rules: { resources: string[] }[] }).rules;
  assert.ok(rules.some((r) => r.resources.includes("ciliumidentities")));
});
