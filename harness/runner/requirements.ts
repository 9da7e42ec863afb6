// Whether a scenario can run on a cluster: the spec's declared requirements (checkRequirements),
// plus what the scenario implies and only the runner checks: it applies network policies, probes
// services, or talks to world hosts. Unmet → the scenario is skipped with every reason, not failed.
import type { RunnerCapabilities } from "../cluster/provider.js";
import type { KubeObject } from "../spec/manifests.js";
import type { LoadedScenario } from "../spec/loader.js";
import { checkRequirements, scenarioCells } from "../spec/index.js";

export const POLICY_KINDS: readonly string[] = ["NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"];

/** Every object the scenario applies or deletes: plain fixture manifests and step manifests. */
export function scenarioManifests(scenario: LoadedScenario): KubeObject[] {
  return [
    ...scenario.fixtures.manifests.map((m) => m.object),
    ...scenario.steps.flatMap((s) => (s.kind === "apply" || s.kind === "delete" ? s.manifests.map((m) => m.object) : [])),
  ];
}

function refOf(o: KubeObject): string {
  const ns = typeof o.metadata.namespace === "string" ? `${o.metadata.namespace}/` : "";
  return `${o.kind} ${ns}${o.metadata.name}`;
}

/** Reasons to skip, or an empty list when the scenario can run. */
export function skipReasons(scenario: LoadedScenario, caps: RunnerCapabilities): string[] {
  const reasons: string[] = [];
  const declared = checkRequirements(scenario, caps);
  if (!declared.ok) reasons.push(declared.skip);
  if (!caps.policyEnforcement) {
    const policies = scenarioManifests(scenario).filter((o) => POLICY_KINDS.includes(o.kind));
    if (policies.length > 0) {
      const first = refOf(policies[0]!);
      reasons.push(`applies network policy (${first}${policies.length > 1 ? ` and ${policies.length - 1} more` : ""}), and this cluster enforces none (no conform agent; the reference ptp CNI has no policy)`);
    }
  }
  const cells = scenarioCells(scenario);
  const kinds = new Set(cells.map((c) => c.target.kind));
  for (const step of scenario.steps) if (step.kind === "expect") for (const f of step.flows) if (f.to) kinds.add(f.to.kind);
  if (!caps.serviceLoadBalancing && kinds.has("service")) reasons.push("probes services, and this cluster has no service load-balancing (no kube-proxy or replacement)");
  if (!caps.world && (kinds.has("world") || kinds.has("cidr"))) reasons.push("probes world hosts (203.0.113.0/24), and this cluster has none");
  return reasons;
}
