import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema } from "./agent.js";
import { agentApiSocketPath } from "./api/paths.js";
import { inClusterAgentConfig } from "./in-cluster.js";
import { inClusterKubeConfig } from "./k8s/in-cluster-kubeconfig.js";

const withSettings = (text: string | undefined, fn: (file: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), "cft-incluster-"));
  try {
    const file = join(dir, "config.yaml");
    if (text !== undefined) writeFileSync(file, text);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test("in a pod: node from the downward API, settings from the ConfigMap file, sockets where the harness looks", () => {
  withSettings("clusterName: dev\npolicy:\n  auditMode: true\napi:\n  flowCapacity: 500\n", (file) => {
    const raw = inClusterAgentConfig({ NODE_NAME: "node2", NODE_IP: "198.18.0.12" }, file);
    const cfg = agentConfigSchema.parse(raw);
    assert.equal(cfg.nodeName, "node2");
    assert.equal(cfg.nodeIP, "198.18.0.12");
    assert.equal(cfg.clusterName, "dev");
    assert.equal(cfg.kubeconfig, undefined, "in-cluster API config");
    assert.equal(cfg.socketPath, join(agentApiSocketPath("dev", "node2"), "..", "cni.sock"));
    assert.equal(cfg.stateDir, "/var/lib/conform");
    assert.equal(cfg.cniBinDir, "/opt/cni/bin");
    assert.equal(cfg.cniConfDir, "/etc/cni/net.d");
    assert.equal(cfg.policy.auditMode, true, "nested settings are carried as written");
    assert.equal(cfg.api.flowCapacity, 500);
    assert.equal(cfg.api.socketPath, undefined, "the API socket keeps its default agentApiSocketPath(cluster, node)");
  });
});

test("settings override derived values; no settings file means defaults", () => {
  withSettings("stateDir: /data/agent\ncniConfDir: /host/etc/cni/net.d\n", (file) => {
    const cfg = agentConfigSchema.parse(inClusterAgentConfig({ NODE_NAME: "n1" }, file));
    assert.equal(cfg.stateDir, "/data/agent");
    assert.equal(cfg.cniConfDir, "/host/etc/cni/net.d");
    assert.equal(cfg.clusterName, "default");
    assert.equal(cfg.nodeIP, undefined);
  });
  withSettings(undefined, (file) => assert.equal(agentConfigSchema.parse(inClusterAgentConfig({ NODE_NAME: "n1" }, file)).nodeName, "n1"));
});

test("bad settings name the file, line and field; a missing node name says where it comes from", () => {
  withSettings("clusterName: dev\npolicy:\n  enforcementMode: sometimes\n", (file) => {
    assert.throws(() => inClusterAgentConfig({ NODE_NAME: "n1" }, file), (err: Error) => err.message.startsWith(`${file}:3: policy.enforcementMode:`));
  });
  withSettings("clusterNmae: dev\n", (file) => {
    assert.throws(() => inClusterAgentConfig({ NODE_NAME: "n1" }, file), (err: Error) => err.message.includes(`${file}:1:`) && /clusterNmae/.test(err.message));
  });
  withSettings(undefined, (file) => assert.throws(() => inClusterAgentConfig({}, file), /NODE_NAME is not set/));
  assert.throws(() => inClusterKubeConfig({}), /KUBERNETES_SERVICE_HOST\/PORT are not set/);
});
