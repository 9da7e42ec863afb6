/**
 * Reserved security identities, numbered as Cilium numbers them (policy-semantics.md §12), so
 * flows read the same as Hubble's.
 */
import type { Labels } from "./labels.js";

export const RESERVED_IDENTITY = {
  unknown: 0,
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  remoteNode: 6,
  kubeApiserver: 7,
  ingress: 8,
  worldIpv4: 9,
  worldIpv6: 10,
} as const;

/** First cluster-wide allocated identity. */
export const FIRST_ALLOCATED_IDENTITY = 256;
export const MAX_CLUSTER_IDENTITY = 65535;
/** Node-local identities (CIDR, FQDN) live at `1 << 24 | n`. */
export const LOCAL_IDENTITY_SCOPE = 1 << 24;

export const RESERVED_LABEL = {
  host: "reserved:host",
  world: "reserved:world",
  worldIpv4: "reserved:world-ipv4",
  worldIpv6: "reserved:world-ipv6",
  unmanaged: "reserved:unmanaged",
  health: "reserved:health",
  init: "reserved:init",
  remoteNode: "reserved:remote-node",
  kubeApiserver: "reserved:kube-apiserver",
  ingress: "reserved:ingress",
} as const;

export interface ReservedIdentity {
  readonly id: number;
  readonly name: string;
  readonly labels: Labels;
}

/**
 * The reserved identities the engine always knows. `world-ipv4`/`world-ipv6` exist only in
 * dual-stack clusters, so they are added on request. Identity 7 also carries `remote-node`
 * because kube-apiserver backends on other nodes are nodes too.
 */
export function reservedIdentities(options: { dualStack?: boolean } = {}): ReservedIdentity[] {
  const list: ReservedIdentity[] = [
    { id: RESERVED_IDENTITY.host, name: "host", labels: { [RESERVED_LABEL.host]: "" } },
    { id: RESERVED_IDENTITY.world, name: "world", labels: { [RESERVED_LABEL.world]: "" } },
    { id: RESERVED_IDENTITY.unmanaged, name: "unmanaged", labels: { [RESERVED_LABEL.unmanaged]: "" } },
    { id: RESERVED_IDENTITY.health, name: "health", labels: { [RESERVED_LABEL.health]: "" } },
    { id: RESERVED_IDENTITY.init, name: "init", labels: { [RESERVED_LABEL.init]: "" } },
    { id: RESERVED_IDENTITY.remoteNode, name: "remote-node", labels: { [RESERVED_LABEL.remoteNode]: "" } },
    {
      id: RESERVED_IDENTITY.kubeApiserver,
      name: "kube-apiserver",
      labels: { [RESERVED_LABEL.kubeApiserver]: "", [RESERVED_LABEL.remoteNode]: "" },
    },
    { id: RESERVED_IDENTITY.ingress, name: "ingress", labels: { [RESERVED_LABEL.ingress]: "" } },
  ];
  if (options.dualStack) {
    list.push(
      { id: RESERVED_IDENTITY.worldIpv4, name: "world-ipv4", labels: { [RESERVED_LABEL.worldIpv4]: "" } },
      { id: RESERVED_IDENTITY.worldIpv6, name: "world-ipv6", labels: { [RESERVED_LABEL.worldIpv6]: "" } },
    );
  }
  return list;
}

export function isReservedIdentity(id: number): boolean {
  return id > 0 && id < FIRST_ALLOCATED_IDENTITY;
}

export function isLocalScopeIdentity(id: number): boolean {
  return (id & 0xff000000) >>> 0 === LOCAL_IDENTITY_SCOPE;
}
