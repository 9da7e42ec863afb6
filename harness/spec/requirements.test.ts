import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkRequirements, effectiveRequirements } from "./requirements.js";
import type { ClusterCapabilities } from "./requirements.js";

const cluster: ClusterCapabilities = { nodes: 2, routingMode: "tunnel", encryption: "none", kubeProxyReplacement: true };

describe("requirements", () => {
  it("raises the node requirement to the highest node a scenario uses", () => {
    assert.deepEqual(effectiveRequirements(undefined, []), { nodes: 1 });
    assert.deepEqual(effectiveRequirements({ nodes: 2, encryption: "wireguard" }, [1, 3]), { nodes: 3, encryption: "wireguard" });
  });

  it("passes when the cluster meets every requirement", () => {
    assert.deepEqual(checkRequirements({ requirements: { nodes: 2, routingMode: "tunnel", kubeProxyReplacement: true } }, cluster), { ok: true });
  });

  it("skips with every unmet requirement in the reason", () => {
    const result = checkRequirements({ requirements: { nodes: 3, routingMode: "native", encryption: "wireguard", kubeProxyReplacement: true } }, cluster);
    assert.deepEqual(result, { ok: false, skip: "needs 3 nodes, the cluster has 2; needs native routing, the cluster uses tunnel; needs wireguard encryption, the cluster has none" });
    assert.deepEqual(checkRequirements({ requirements: { nodes: 1, kubeProxyReplacement: false } }, cluster), { ok: false, skip: "needs kube-proxy, the cluster runs kube-proxy replacement" });
    assert.deepEqual(checkRequirements({ requirements: { nodes: 1, kubeProxyReplacement: true } }, { ...cluster, kubeProxyReplacement: false }), { ok: false, skip: "needs kube-proxy replacement, the cluster runs kube-proxy" });
  });
});
