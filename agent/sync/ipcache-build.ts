/**
 * What cf_ipcache_v1 should hold, from the cluster's view (pure; ipcache-sync.ts feeds it).
 *
 * One identity per prefix; when sources disagree the more authoritative wins, in this order:
 * this node's own endpoints (the agent just attached them; their CiliumEndpoints may lag) →
 * this node's addresses (host) → other nodes' pods (CiliumEndpoints) → other nodes' addresses
 * (remote-node) → the API server → CIDR identities. A CIDR rule's /32 that happens to be a pod's
 * address thus never hides the pod (CIDR selectors never select pods, policy-semantics.md §4.2).
 */
import type { V1Node } from "@kubernetes/client-node";
import { NODE_ANNOTATIONS } from "../cni/cni-agent.js";
import type { IpcacheEntry } from "../datapath/index.js";
import type { Endpoint } from "../endpoint/types.js";
import { normalizePrefixText } from "../identity/ip-prefix.js";
import { RESERVED_IDENTITY } from "../identity/reserved.js";
import type { CiliumEndpoint } from "../k8s/cilium-types.js";
import type { CidrIdentity } from "./cidr-identities.js";

export interface IpcacheInputs {
  readonly nodeName: string;
  readonly nodes: readonly V1Node[];
  readonly ciliumEndpoints: readonly CiliumEndpoint[];
  /** Endpoints attached on this node (the datapath hook's view). */
  readonly localEndpoints: readonly Endpoint[];
  /** Addresses of the kube-apiserver that are not node addresses (identity kube-apiserver 7). */
  readonly apiServerAddresses: readonly string[];
  readonly cidrIdentities: readonly CidrIdentity[];
}

export function nodeInternalIp(node: V1Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
}

function hostPrefix(address: string): string | undefined {
  return normalizePrefixText(address.includes("/") ? address : address.includes(":") ? `${address}/128` : `${address}/32`) ?? undefined;
}

export function buildIpcache(input: IpcacheInputs): IpcacheEntry[] {
  const out = new Map<string, IpcacheEntry>();
  const put = (address: string | undefined, entry: Omit<IpcacheEntry, "cidr">): void => {
    const cidr = address ? hostPrefix(address) : undefined;
    if (cidr && !out.has(cidr)) out.set(cidr, { cidr, ...entry });
  };

  for (const ep of input.localEndpoints) put(ep.ipv4, { identity: ep.identity.id, local: true });

  const self = input.nodes.find((n) => n.metadata?.name === input.nodeName);
  const selfIp = self ? nodeInternalIp(self) : undefined;
  const others = input.nodes.filter((n) => n !== self);
  if (self) {
    for (const a of self.status?.addresses ?? []) if (a.type === "InternalIP" || a.type === "ExternalIP") put(a.address, { identity: RESERVED_IDENTITY.host, local: true });
    put(self.metadata?.annotations?.[NODE_ANNOTATIONS.routerIp], { identity: RESERVED_IDENTITY.host, local: true });
  }

  for (const cep of input.ciliumEndpoints) {
    const st = cep.status;
    const id = st?.identity?.id;
    const node = st?.networking?.node;
    // This node's pods come from the hook; a CEP naming this node is either the same or stale.
    if (!id || !node || node === selfIp) continue;
    const tunnel = /^\d+\.\d+\.\d+\.\d+$/.test(node) ? node : undefined;
    for (const a of st.networking?.addressing ?? []) {
      if (a.ipv4) put(a.ipv4, { identity: id, ...(tunnel ? { tunnelEndpoint: tunnel } : {}) });
    }
  }

  for (const n of others) {
    for (const a of n.status?.addresses ?? []) if (a.type === "InternalIP" || a.type === "ExternalIP") put(a.address, { identity: RESERVED_IDENTITY.remoteNode });
    put(n.metadata?.annotations?.[NODE_ANNOTATIONS.routerIp], { identity: RESERVED_IDENTITY.remoteNode });
  }

  for (const a of input.apiServerAddresses) put(a, { identity: RESERVED_IDENTITY.kubeApiserver });

  for (const c of input.cidrIdentities) {
    const cidr = normalizePrefixText(c.prefix);
    if (cidr && !out.has(cidr)) out.set(cidr, { cidr, identity: c.id });
  }
  return [...out.values()];
}
