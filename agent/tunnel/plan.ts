/**
 * What the VXLAN overlay of one node should look like, and the iproute2 commands that take the
 * kernel from what it has to that (pure; tunnel-sync.ts reads the kernel and applies the plan).
 *
 * Per remote node (flannel's layout, see README.md): a route to its pod CIDR through the VXLAN
 * device with its pod CIDR's network address as on-link next hop, a permanent neighbour entry
 * giving that next hop the remote device's MAC, and an FDB entry sending that MAC to the remote
 * node's underlay address. The MAC is derived from the underlay address, so no node has to
 * publish anything and a restarted agent recomputes the same entries.
 */
import type { V1Node } from "@kubernetes/client-node";
import { cidrContains, formatCidr, ipv4ToNumber, numberToIpv4, parseIpv4Cidr } from "../ipam/ipv4.js";
import type { Ipv4Cidr } from "../ipam/ipv4.js";

export const VXLAN_DEVICE = "cf_vxlan";
/** One fixed VNI: identities are not carried in the header (the ipcache maps inner addresses). */
export const VXLAN_VNI = 2;
/** Cilium's port (not IANA's 4789), so capture filters written for Cilium match. */
export const VXLAN_PORT = 8472;
/** Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 bytes a tunnelled packet carries. */
export const VXLAN_OVERHEAD = 50;

export interface TunnelPeer {
  readonly node: string;
  readonly podCIDR: string;
  readonly underlayIP: string;
  /** On-link next hop for the peer's pod CIDR: its network address, never a pod's. */
  readonly vtepIP: string;
  readonly vtepMac: string;
}

/** `0e:cf:` + the four octets: locally administered unicast, unique per underlay address. */
export function vtepMac(underlayIP: string): string {
  const n = ipv4ToNumber(underlayIP);
  return ["0e", "cf", ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((o) => o.toString(16).padStart(2, "0"))].join(":");
}

export interface PeerPlan {
  readonly peers: TunnelPeer[];
  /** Nodes left out, with why (no pod CIDR yet, overlapping CIDRs, …) — for the log. */
  readonly skipped: { readonly node: string; readonly reason: string }[];
}

function internalIPv4(node: V1Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === "InternalIP" && !a.address.includes(":"))?.address;
}

function ipv4PodCidr(node: V1Node): string | undefined {
  const all = [...(node.spec?.podCIDRs ?? []), ...(node.spec?.podCIDR ? [node.spec.podCIDR] : [])];
  return all.find((c) => !c.includes(":"));
}

const overlaps = (a: Ipv4Cidr, b: Ipv4Cidr): boolean => cidrContains(a, b.network) || cidrContains(b, a.network);

/** The peers of node `selfName` among `nodes` (sorted by name, so plans are stable). */
export function planPeers(selfName: string, nodes: readonly V1Node[]): PeerPlan {
  const self = nodes.find((n) => n.metadata?.name === selfName);
  const selfIP = self ? internalIPv4(self) : undefined;
  const selfCidrText = self ? ipv4PodCidr(self) : undefined;
  const taken: Ipv4Cidr[] = [];
  if (selfCidrText) {
    try {
      taken.push(parseIpv4Cidr(selfCidrText));
    } catch {
      // This node's own CIDR being unparsable is the CNI's problem, not the tunnel's.
    }
  }
  const peers: TunnelPeer[] = [];
  const skipped: { node: string; reason: string }[] = [];
  const others = nodes.filter((n) => n !== self && n.metadata?.name).sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
  for (const n of others) {
    const node = n.metadata!.name!;
    const underlayIP = internalIPv4(n);
    const podCIDR = ipv4PodCidr(n);
    if (!underlayIP) {
      skipped.push({ node, reason: "no IPv4 InternalIP" });
      continue;
    }
    if (!podCIDR) {
      skipped.push({ node, reason: "no IPv4 spec.podCIDR yet" });
      continue;
    }
    if (underlayIP === selfIP) {
      skipped.push({ node, reason: `InternalIP ${underlayIP} is this node's` });
      continue;
    }
    let cidr: Ipv4Cidr;
    try {
      cidr = parseIpv4Cidr(podCIDR, `node ${node} spec.podCIDR`);
      ipv4ToNumber(underlayIP);
    } catch (err) {
      skipped.push({ node, reason: (err as Error).message });
      continue;
    }
    // Two routes for one range would send half the traffic to the wrong node: first one wins.
    if (taken.some((t) => overlaps(t, cidr))) {
      skipped.push({ node, reason: `pod CIDR ${podCIDR} overlaps another node's` });
      continue;
    }
    taken.push(cidr);
    peers.push({ node, podCIDR: formatCidr(cidr), underlayIP, vtepIP: numberToIpv4(cidr.network), vtepMac: vtepMac(underlayIP) });
  }
  return { peers, skipped };
}

/** The overlay entries the kernel holds on the VXLAN device (iproute2 `-j` output, trimmed). */
export interface TunnelKernelState {
  readonly routes: readonly { readonly dst: string; readonly gateway?: string; readonly prefsrc?: string; readonly flags?: readonly string[] }[];
  readonly neighbours: readonly { readonly dst: string; readonly lladdr?: string; readonly state?: readonly string[] }[];
  readonly fdb: readonly { readonly mac: string; readonly dst?: string; readonly state?: string }[];
}

export interface TunnelChanges {
  /** `ip -batch` lines removing stale routes and neighbours (run first). */
  readonly ipRemove: string[];
  /** `bridge -batch` lines: stale FDB entries out, missing ones in. */
  readonly bridge: string[];
  /** `ip -batch` lines adding or correcting neighbours, then routes (run last). */
  readonly ipAdd: string[];
}

export const isEmptyChange = (c: TunnelChanges): boolean => c.ipRemove.length + c.bridge.length + c.ipAdd.length === 0;

/**
 * The commands turning `current` into `peers` on `device`; nothing for entries already right, so
 * a reconcile of an unchanged cluster (or a restarted agent) touches nothing. `src` is this node's
 * router address: traffic the node itself sends to remote pods then has a pod-CIDR source and
 * its replies come back through the tunnel too.
 */
export function planTunnelChanges(peers: readonly TunnelPeer[], current: TunnelKernelState, opts: { device: string; src: string }): TunnelChanges {
  const dev = opts.device;
  const ipRemove: string[] = [];
  const bridge: string[] = [];
  const ipAdd: string[] = [];
  const wantRoute = new Map(peers.map((p) => [p.podCIDR, p]));
  const wantNeigh = new Map(peers.map((p) => [p.vtepIP, p]));
  const wantFdb = new Map(peers.map((p) => [p.vtepMac, p]));

  for (const r of current.routes) if (!wantRoute.has(r.dst)) ipRemove.push(`route del ${r.dst} dev ${dev}`);
  // Neighbour entries the kernel made itself (FAILED/STALE probes of a vanished next hop) go too.
  for (const n of current.neighbours) if (!wantNeigh.has(n.dst)) ipRemove.push(`neigh del ${n.dst} dev ${dev}`);

  // A MAC still wanted is re-pointed by `replace`; only MACs nobody uses are deleted.
  for (const f of current.fdb) if (f.dst && !wantFdb.has(f.mac)) bridge.push(`fdb del ${f.mac} dev ${dev} dst ${f.dst}`);
  for (const p of peers) {
    const have = current.fdb.filter((f) => f.mac === p.vtepMac && f.dst);
    if (have.length === 1 && have[0]!.dst === p.underlayIP && have[0]!.state === "permanent") continue;
    // Several remotes for one MAC (appended by hand?): drop the extras, keep one right one.
    for (const f of have) if (f.dst !== p.underlayIP) bridge.push(`fdb del ${p.vtepMac} dev ${dev} dst ${f.dst}`);
    bridge.push(`fdb replace ${p.vtepMac} dev ${dev} dst ${p.underlayIP} permanent`);
  }

  for (const p of peers) {
    const n = current.neighbours.find((x) => x.dst === p.vtepIP);
    if (!n || n.lladdr !== p.vtepMac || !(n.state ?? []).includes("PERMANENT")) ipAdd.push(`neigh replace ${p.vtepIP} lladdr ${p.vtepMac} dev ${dev} nud permanent`);
  }
  for (const p of peers) {
    const r = current.routes.find((x) => x.dst === p.podCIDR);
    const right = r && r.gateway === p.vtepIP && r.prefsrc === opts.src && (r.flags ?? []).includes("onlink");
    if (!right) ipAdd.push(`route replace ${p.podCIDR} via ${p.vtepIP} dev ${dev} onlink src ${opts.src}`);
  }
  return { ipRemove, bridge, ipAdd };
}
