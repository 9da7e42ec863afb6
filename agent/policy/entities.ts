/**
 * `fromEntities`/`toEntities` (policy-semantics.md §3). Entities are not namespace-scoped and
 * get no cluster injection; each becomes peers over reserved labels.
 */
import { requirement } from "../identity/selector.js";
import { RESERVED_LABEL } from "../identity/reserved.js";
import { parseLabelKey } from "../identity/labels.js";
import type { Peer } from "./types.js";

/** The names the CiliumNetworkPolicy CRD accepts (plus world-ipv4/-ipv6 from the Go API). */
export const ENTITIES = [
  "all",
  "world",
  "world-ipv4",
  "world-ipv6",
  "cluster",
  "cluster-mesh",
  "host",
  "remote-node",
  "kube-apiserver",
  "health",
  "init",
  "ingress",
  "unmanaged",
  "none",
] as const;
export type Entity = (typeof ENTITIES)[number];

export function isEntity(name: string): name is Entity {
  return (ENTITIES as readonly string[]).includes(name);
}

function reservedPeer(label: string): Peer {
  const { source, key } = parseLabelKey(label, "reserved");
  return { kind: "selector", selector: { requirements: [requirement(source, key, "Exists")] }, localCluster: false };
}

const CLUSTER_RESERVED = [
  RESERVED_LABEL.host,
  RESERVED_LABEL.remoteNode,
  RESERVED_LABEL.kubeApiserver,
  RESERVED_LABEL.init,
  RESERVED_LABEL.ingress,
  RESERVED_LABEL.health,
  RESERVED_LABEL.unmanaged,
];

/** Peers of one entity. `none` → no peer; `all` → the wildcard identity. */
export function entityPeers(entity: Entity): Peer[] {
  switch (entity) {
    case "all":
      return [{ kind: "any" }];
    case "none":
      return [];
    // World also covers CIDR and FQDN identities: they carry a reserved:world* label.
    case "world":
      return [RESERVED_LABEL.world, RESERVED_LABEL.worldIpv4, RESERVED_LABEL.worldIpv6].map(reservedPeer);
    case "world-ipv4":
      return [reservedPeer(RESERVED_LABEL.worldIpv4)];
    case "world-ipv6":
      return [reservedPeer(RESERVED_LABEL.worldIpv6)];
    case "host":
      return [reservedPeer(RESERVED_LABEL.host)];
    case "remote-node":
      return [reservedPeer(RESERVED_LABEL.remoteNode)];
    case "kube-apiserver":
      return [reservedPeer(RESERVED_LABEL.kubeApiserver)];
    case "health":
      return [reservedPeer(RESERVED_LABEL.health)];
    case "init":
      return [reservedPeer(RESERVED_LABEL.init)];
    case "ingress":
      return [reservedPeer(RESERVED_LABEL.ingress)];
    case "unmanaged":
      return [reservedPeer(RESERVED_LABEL.unmanaged)];
    // conform runs a single cluster, so cluster-mesh selects what cluster selects.
    case "cluster":
    case "cluster-mesh":
      return [...CLUSTER_RESERVED.map(reservedPeer), { kind: "local-cluster" }];
  }
}
