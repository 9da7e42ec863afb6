// Builders for runner unit tests: probe results and Hubble-shaped flows with only the fields the
// runner reads, shaped like real records (notes/hubble-flow-format.md §3).
import type { ProbeResult } from "../../probe/schema.js";
import type { FlowRecord } from "../../report/model.js";
import { loadScenarioText } from "../../spec/loader.js";
import type { LoadedScenario } from "../../spec/loader.js";

export const T0 = Date.parse("2026-03-14T09:27:02.000Z");

export function probeResult(over: Partial<ProbeResult> & { outcome: ProbeResult["outcome"] }): ProbeResult {
  return {
    id: "p0",
    kind: "tcp",
    detail: over.outcome === "TIMEOUT" ? "no answer to the TCP SYN within 3000 ms" : over.outcome,
    source: { address: "10.244.0.5", port: 40412 },
    destination: { address: "10.244.1.7", port: 8080 },
    timings: { startedAt: new Date(T0).toISOString(), startMs: 0, totalMs: 3000 },
    ...over,
  };
}

export interface FlowSpec {
  verdict: string;
  atMs?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  proto?: "TCP" | "UDP";
  reason?: string;
  isReply?: boolean;
  deniedBy?: { name: string; namespace?: string; kind?: string }[];
  allowedBy?: { name: string; namespace?: string; kind?: string }[];
  envelope?: boolean;
  extra?: Record<string, unknown>;
}

export function flow(spec: FlowSpec): FlowRecord {
  const time = new Date(T0 + (spec.atMs ?? 10)).toISOString();
  const f: Record<string, unknown> = {
    time,
    verdict: spec.verdict,
    ...(spec.reason ? { drop_reason: 133, drop_reason_desc: spec.reason } : {}),
    IP: { source: spec.src ?? "10.244.0.5", destination: spec.dst ?? "10.244.1.7", ipVersion: "IPv4" },
    l4: { [spec.proto ?? "TCP"]: { source_port: spec.sport ?? 40412, destination_port: spec.dport ?? 8080 } },
    Type: "L3_L4",
    event_type: { type: spec.verdict === "DROPPED" ? 1 : 4 },
    traffic_direction: "INGRESS",
    ...(spec.isReply !== undefined ? { is_reply: spec.isReply } : {}),
    ...(spec.deniedBy ? { ingress_denied_by: spec.deniedBy } : {}),
    ...(spec.allowedBy ? { ingress_allowed_by: spec.allowedBy } : {}),
    ...(spec.extra ?? {}),
  };
  return spec.envelope ? { flow: f, node_name: "node2", time } : f;
}


/** Scenarios from YAML text (inline manifests only: no files are read). */
export function scenariosFrom(text: string): LoadedScenario[] {
  const result = loadScenarioText(text, "/nonexistent/runner-test.yaml", "runner-test.yaml");
  if (result.errors.length > 0) throw new Error(result.errors.map((e) => `${e.line}: ${e.path ?? ""} ${e.message}`).join("\n"));
  return result.scenarios;
}

/** A small scenario: namespace `ns`, pods a (node 1) and b (node 2), one expect step. */
export function scenarioYaml(name: string, extra: { namespace?: string; to?: string[]; applyKind?: string; step?: string } = {}): string {
  const ns = extra.namespace ?? "ns";
  const to = extra.to ?? [`${ns}/b:8080`];
  const apply = extra.applyKind
    ? `    - apply: {apiVersion: ${extra.applyKind === "NetworkPolicy" ? "networking.k8s.io/v1" : "cilium.io/v2"}, kind: ${extra.applyKind}, metadata: {name: p${extra.applyKind === "CiliumClusterwideNetworkPolicy" ? "" : `, namespace: ${ns}`}}, spec: {}}\n`
    : "";
  return `apiVersion: conform.dev/v1alpha1
kind: Scenario
metadata: {name: ${name}}
spec:
  fixtures:
    pods:
      - {name: a, namespace: ${ns}, node: 1, ports: [8080]}
      - {name: b, namespace: ${ns}, node: 2, ports: [8080, "9001/udp"]}
  steps:
${apply}    - name: ${extra.step ?? "check"}
      expect:
        matrix:
          from: {${ns}/a: ALLOWED}
          to: [${to.map((t) => JSON.stringify(t)).join(", ")}]
`;
}
