/**
 * The agent's ObserverContext: answers the flow decoder's lookups from the live agent state —
 * this node's endpoints, the CiliumEndpoints of every pod, cluster identities (+ reserved and
 * CIDR ones) and the policy compile currently in the datapath.
 *
 * Lookups run once per event, so they are map hits: the address index is rebuilt only after
 * `invalidate()` (the agent calls it on endpoint and CiliumEndpoint changes), the rule-origin
 * index only when a new compile is in force.
 */
import type { Endpoint } from "../endpoint/types.js";
import type { Labels } from "../identity/labels.js";
import { RESERVED_IDENTITY, reservedIdentities } from "../identity/reserved.js";
import type { CiliumEndpoint } from "../k8s/cilium-types.js";
import type { ObservedEndpoint, ObservedPolicy, ObservedRule, ObserverContext, PolicyDirectionName } from "../observer/context.js";
import { HOST_ENDPOINT_ID, policyRefKey } from "../policy/index.js";
import type { PolicyStore } from "../policy/index.js";
import type { CidrIdentity } from "../sync/cidr-identities.js";
import type { CompiledPolicy } from "../sync/policy-sync.js";

export interface AgentStateSources {
  readonly clusterName: string;
  readonly nodeName: string;
  /** This node's endpoints. */
  readonly localEndpoints: () => readonly Endpoint[];
  /** Every pod's CiliumEndpoint (other nodes' pods included). */
  readonly ciliumEndpoints: () => readonly CiliumEndpoint[];
  /** Labels of a cluster-wide identity (CiliumIdentity `security-labels`). */
  readonly clusterIdentity: (id: number) => Labels | undefined;
  readonly cidrIdentities: () => readonly CidrIdentity[];
  readonly compiled: () => CompiledPolicy | undefined;
  readonly policies: () => PolicyStore;
  readonly revision: () => number;
}

const RESERVED: ReadonlyMap<number, Labels> = new Map(reservedIdentities({ dualStack: true }).map((r) => [r.id, r.labels]));

/** Hubble prints the node as `<cluster>/<node>` except in the cluster named `default`. */
export function flowNodeName(clusterName: string, nodeName: string): string {
  return clusterName === "default" ? nodeName : `${clusterName}/${nodeName}`;
}

/** CEP identity labels (`k8s:app=x`, `reserved:host`) as a label record. */
export function labelsFromStrings(list: readonly string[]): Labels {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq < 0) out[item] = "";
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export class AgentObserverContext implements ObserverContext {
  readonly nodeName: string;
  #byId = new Map<number, ObservedEndpoint>();
  #byIp = new Map<string, ObservedEndpoint>();
  #stale = true;
  #originsOf: CompiledPolicy | undefined;
  #origins = new Map<string, number[]>();

  constructor(private readonly src: AgentStateSources) {
    this.nodeName = flowNodeName(src.clusterName, src.nodeName);
  }

  /** Endpoints or CiliumEndpoints changed: rebuild the indexes on the next lookup. */
  invalidate(): void {
    this.#stale = true;
  }

  endpointById(epId: number): ObservedEndpoint | undefined {
    // The host endpoint (host firewall events): Hubble shows it with its id, identity host and
    // the reserved:host label.
    if (epId === HOST_ENDPOINT_ID) return { epId, identity: RESERVED_IDENTITY.host, labels: RESERVED.get(RESERVED_IDENTITY.host) ?? {}, clusterName: this.src.clusterName };
    this.#refresh();
    const hit = this.#byId.get(epId);
    if (hit) return hit;
    // An endpoint attached since the last invalidate (its event can beat the notification).
    const ep = this.src.localEndpoints().find((e) => e.id === epId);
    return ep ? this.#local(ep) : undefined;
  }

  endpointByIP(ip: string): ObservedEndpoint | undefined {
    this.#refresh();
    return this.#byIp.get(ip);
  }

  identityLabels(identity: number): Labels | undefined {
    const reserved = RESERVED.get(identity);
    if (reserved) return reserved;
    const cluster = this.src.clusterIdentity(identity);
    if (cluster) return cluster;
    return this.src.cidrIdentities().find((c) => c.id === identity)?.labels;
  }

  ruleRef(id: number): ObservedRule | undefined {
    if (id === 0) return undefined;
    const info = this.src.compiled()?.ruleRefs.get(id);
    if (!info) return undefined;
    return { kind: info.kind, namespace: info.namespace, name: info.name, direction: info.direction, ruleIndex: info.ruleIndex, ...(info.uid ? { uid: info.uid } : {}) };
  }

  /**
   * The event names only the winning rule_ref, not the key it hit, so this answers the origins
   * of every entry of that endpoint and direction whose verdict came from that rule_ref (their
   * union). For one rule_ref they are nearly always the same policies.
   */
  ruleOrigins(epId: number, direction: PolicyDirectionName, ruleRef: number): readonly number[] {
    const compiled = this.src.compiled();
    if (!compiled) return [ruleRef];
    if (compiled !== this.#originsOf) {
      this.#origins = new Map();
      for (const ep of compiled.state.values()) {
        for (const entry of ep.entries.values()) {
          const key = `${ep.epId}/${entry.key.direction}/${entry.value.ruleRef}`;
          const list = this.#origins.get(key) ?? [];
          for (const o of entry.origins) if (!list.includes(o)) list.push(o);
          this.#origins.set(key, list);
        }
      }
      this.#originsOf = compiled;
    }
    const origins = this.#origins.get(`${epId}/${direction === "egress" ? 1 : 0}/${ruleRef}`);
    return origins && origins.length > 0 ? origins : [ruleRef];
  }

  defaultDenyBy(epId: number, direction: PolicyDirectionName): readonly ObservedPolicy[] {
    const refs = this.src.compiled()?.state.get(epId)?.defaultDenyBy[direction] ?? [];
    if (refs.length === 0) return [];
    const store = this.src.policies();
    return refs.map((ref) => {
      const uid = store.get(policyRefKey(ref))?.uid;
      return uid ? { ...ref, uid } : ref;
    });
  }

  policyRevision(): number {
    return this.src.revision();
  }

  #local(ep: Endpoint): ObservedEndpoint {
    return {
      epId: ep.id,
      identity: ep.identity.id,
      namespace: ep.pod.namespace,
      podName: ep.pod.name,
      labels: ep.identity.labels,
      clusterName: this.src.clusterName,
    };
  }

  #refresh(): void {
    if (!this.#stale) return;
    this.#stale = false;
    const byId = new Map<number, ObservedEndpoint>();
    const byIp = new Map<string, ObservedEndpoint>();
    for (const cep of this.src.ciliumEndpoints()) {
      const id = cep.status?.identity?.id;
      const observed: ObservedEndpoint = {
        ...(id ? { identity: id } : {}),
        ...(cep.metadata.namespace ? { namespace: cep.metadata.namespace } : {}),
        ...(cep.metadata.name ? { podName: cep.metadata.name } : {}),
        labels: (id ? this.src.clusterIdentity(id) : undefined) ?? labelsFromStrings(cep.status?.identity?.labels ?? []),
        clusterName: this.src.clusterName,
      };
      for (const a of cep.status?.networking?.addressing ?? []) {
        if (a.ipv4) byIp.set(a.ipv4, observed);
        if (a.ipv6) byIp.set(a.ipv6, observed);
      }
    }
    // Local records win over the published copy: they are what the datapath enforces.
    for (const ep of this.src.localEndpoints()) {
      const observed = this.#local(ep);
      byId.set(ep.id, observed);
      if (ep.ipv4) byIp.set(ep.ipv4, observed);
    }
    this.#byId = byId;
    this.#byIp = byIp;
  }
}
