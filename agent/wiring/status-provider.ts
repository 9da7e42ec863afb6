/**
 * The agent API's AgentStatusProvider over the live agent: readiness and revision from policy
 * sync, endpoints from the tracker with their modes from the compile in force and their
 * realized revision read back from the datapath, identities (reserved, cluster, CIDR).
 */
import type { AgentStatus, AgentStatusProvider, EndpointStatus, IdentityStatus, PolicyStatus } from "../api/provider.js";
import type { Endpoint } from "../endpoint/types.js";
import type { Labels } from "../identity/labels.js";
import { reservedIdentities } from "../identity/reserved.js";
import { formatLabels } from "../observer/decode.js";
import { POLICY_KINDS } from "../policy/index.js";
import type { EndpointMode, PolicyRef, PolicyStore } from "../policy/index.js";
import type { CidrIdentity } from "../sync/cidr-identities.js";
import type { CompiledPolicy } from "../sync/policy-sync.js";

export interface StatusSources {
  readonly nodeName: string;
  readonly version: string;
  /** The first full policy state is in the datapath. */
  readonly ready: () => boolean;
  readonly revision: () => number;
  readonly localEndpoints: () => readonly Endpoint[];
  readonly realizedRevision: (epId: number) => number | undefined;
  readonly compiled: () => CompiledPolicy | undefined;
  readonly policies: () => PolicyStore;
  /** policyRefKey → the last rejected update's first error. */
  readonly rejected: () => ReadonlyMap<string, { error: string }>;
  readonly clusterIdentities: () => ReadonlyArray<{ id: number; labels: Labels }>;
  readonly cidrIdentities: () => readonly CidrIdentity[];
}

const MODE_NAMES = { 0: "none", 1: "enforce", 2: "audit" } as const satisfies Record<EndpointMode, string>;

/** Inverse of policyRefKey (`Kind/ns/name`, or `Kind/name` for cluster-wide policies). */
export function policyRefFromKey(key: string): PolicyRef | undefined {
  const [kind, a, b] = key.split("/");
  const k = POLICY_KINDS.find((x) => x === kind);
  if (!k || a === undefined) return undefined;
  return b === undefined ? { kind: k, namespace: "", name: a } : { kind: k, namespace: a, name: b };
}

const plainRef = (r: PolicyRef): { kind: string; namespace: string; name: string } => ({ kind: r.kind, namespace: r.namespace, name: r.name });

export class AgentStatusSource implements AgentStatusProvider {
  constructor(private readonly src: StatusSources) {}

  status(): AgentStatus {
    const ready = this.src.ready();
    return {
      nodeName: this.src.nodeName,
      version: this.src.version,
      ready,
      policyRevision: this.src.revision(),
      pid: process.pid,
      ...(ready ? {} : { message: "waiting for the first policy state" }),
    };
  }

  endpoints(): EndpointStatus[] {
    const state = this.src.compiled()?.state;
    return this.#sorted().map((ep) => {
      const pol = state?.get(ep.id);
      return {
        id: ep.id,
        namespace: ep.pod.namespace,
        podName: ep.pod.name,
        identity: ep.identity.id,
        ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
        labels: formatLabels(ep.identity.labels) ?? [],
        ingressEnforcement: MODE_NAMES[pol?.ingressMode ?? 0],
        egressEnforcement: MODE_NAMES[pol?.egressMode ?? 0],
        policyRevision: this.src.realizedRevision(ep.id) ?? 0,
      };
    });
  }

  identities(): IdentityStatus[] {
    const byId = new Map<number, Labels>();
    for (const r of reservedIdentities()) byId.set(r.id, r.labels);
    for (const i of this.src.clusterIdentities()) byId.set(i.id, i.labels);
    for (const c of this.src.cidrIdentities()) byId.set(c.id, c.labels);
    return [...byId.entries()].sort((a, b) => a[0] - b[0]).map(([id, labels]) => ({ id, labels: formatLabels(labels) ?? [] }));
  }

  policy(): PolicyStatus {
    const store = this.src.policies();
    const rejected = this.src.rejected();
    const policies: PolicyStatus["policies"] = [];
    for (const [key, p] of store) {
      const problems = [...p.warnings.map((w) => `${w.path}: ${w.message}`), ...(rejected.has(key) ? [`update rejected: ${rejected.get(key)!.error}`] : [])];
      policies.push({ ...plainRef(p.ref), ...(p.uid ? { uid: p.uid } : {}), ...(problems.length ? { problems } : {}) });
    }
    // Rejected with no earlier form in force: not enforced at all, still worth showing.
    for (const [key, r] of rejected) {
      if (store.has(key)) continue;
      const ref = policyRefFromKey(key);
      if (ref) policies.push({ ...ref, problems: [`rejected: ${r.error}`] });
    }
    const compiled = this.src.compiled();
    const state = compiled?.state;
    return {
      revision: this.src.revision(),
      policies,
      ...(compiled ? { realized: { revision: compiled.revision, policies: Object.fromEntries(compiled.policies) } } : {}),
      endpoints: this.#sorted().map((ep) => {
        const pol = state?.get(ep.id);
        return {
          id: ep.id,
          namespace: ep.pod.namespace,
          podName: ep.pod.name,
          realizedRevision: this.src.realizedRevision(ep.id) ?? 0,
          ingress: { mode: MODE_NAMES[pol?.ingressMode ?? 0], defaultDenyBy: (pol?.defaultDenyBy.ingress ?? []).map(plainRef) },
          egress: { mode: MODE_NAMES[pol?.egressMode ?? 0], defaultDenyBy: (pol?.defaultDenyBy.egress ?? []).map(plainRef) },
          entries: pol?.entries.size ?? 0,
        };
      }),
    };
  }

  #sorted(): Endpoint[] {
    return [...this.src.localEndpoints()].sort((a, b) => a.id - b.id);
  }
}
