// Cluster requirements: a scenario whose requirements the cluster does not meet is skipped with
// a reason (a JUnit <skipped>), never failed.
import { z } from "zod";
import type { Requirements } from "./schema.js";

export const clusterCapabilitiesSchema = z.strictObject({
  nodes: z.int().min(0),
  routingMode: z.enum(["tunnel", "native"]),
  encryption: z.enum(["none", "wireguard"]),
  kubeProxyReplacement: z.boolean(),
});
export type ClusterCapabilities = z.infer<typeof clusterCapabilitiesSchema>;

/** The spec's requirements with `nodes` raised to the highest node index the scenario uses. */
export interface EffectiveRequirements extends Requirements {
  nodes: number;
}

export type RequirementsCheck = { ok: true } | { ok: false; skip: string };

export function effectiveRequirements(declared: Requirements | undefined, usedNodeIndexes: readonly number[]): EffectiveRequirements {
  return { ...(declared ?? {}), nodes: Math.max(declared?.nodes ?? 1, ...usedNodeIndexes) };
}

/** `{ok: true}` when the cluster can run the scenario, otherwise the reason to skip it. */
export function checkRequirements(scenario: { requirements: EffectiveRequirements }, cluster: ClusterCapabilities): RequirementsCheck {
  const req = scenario.requirements;
  const unmet: string[] = [];
  if (cluster.nodes < req.nodes) unmet.push(`needs ${req.nodes} nodes, the cluster has ${cluster.nodes}`);
  if (req.routingMode !== undefined && req.routingMode !== cluster.routingMode) {
    unmet.push(`needs ${req.routingMode} routing, the cluster uses ${cluster.routingMode}`);
  }
  if (req.encryption !== undefined && req.encryption !== cluster.encryption) {
    unmet.push(`needs ${req.encryption} encryption, the cluster has ${cluster.encryption === "none" ? "none" : cluster.encryption}`);
  }
  if (req.kubeProxyReplacement !== undefined && req.kubeProxyReplacement !== cluster.kubeProxyReplacement) {
    unmet.push(req.kubeProxyReplacement ? "needs kube-proxy replacement, the cluster runs kube-proxy" : "needs kube-proxy, the cluster runs kube-proxy replacement");
  }
  return unmet.length === 0 ? { ok: true } : { ok: false, skip: unmet.join("; ") };
}
