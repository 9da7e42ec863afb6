// The kernel side of a local cluster. Every name carries the cluster name (netns) or its tag
// (links), so clusters coexist and leftovers can be swept.
//
//   root netns ── cf<tag>h (198.19.<slot>.1/30) ═ veth ═ "host" (198.19.<slot>.2/30) ─┐
//                                                                                      │
//   cf-<c>_cp netns: br0 198.18.0.1/24 (control plane) ── n1 … nN, w0 (bridge ports) ──┘
//      ├═ veth ═ cf-<c>_node<i> netns: eth0 198.18.0.(10+i)/24, pods' veths, kubelet, agent
//      └═ veth ═ cf-<c>_world netns:   eth0 198.18.0.254/24, 203.0.113.0/24 services
//
// The control plane lives in its own netns so two clusters can both use the fixed address plan;
// the root namespace gets exactly one veth and one /30 per cluster.
import { existsSync, readdirSync } from "node:fs";
import { ip, ipBatch, run } from "../../util/exec.js";
import { linkNames, netnsNames } from "./names.js";

export const CONTROL_PLANE_IP = "198.18.0.1";
export const WORLD_UNDERLAY_IP = "198.18.0.254";
/** World services: a web/echo host and a DNS server for the test zone. */
export const WORLD_HOSTS = { web: "203.0.113.10", dns: "203.0.113.53", extra: "203.0.113.20" } as const;
export const WORLD_CIDR = "203.0.113.0/24";
export const nodeIP = (index: number): string => `198.18.0.${10 + index}`;
export const hostSideIP = (slot: number): string => `198.19.${slot}.1`;
export const apiserverRootIP = (slot: number): string => `198.19.${slot}.2`;
export const cpNetns = netnsNames.controlPlane;

export function listNetns(): string[] {
  return existsSync("/var/run/netns") ? readdirSync("/var/run/netns").sort() : [];
}

async function addNetns(name: string): Promise<void> {
  await ip(["netns", "add", name]);
  await ip(["link", "set", "lo", "up"], name);
}

async function sysctl(netns: string, key: string, value: string): Promise<void> {
  await run("ip", ["netns", "exec", netns, "sysctl", "-qw", `${key}=${value}`]);
}

/** Picks a slot (third octet of 198.19.x.0/30) no live cluster uses. */
export async function freeSlot(taken: ReadonlySet<number>): Promise<number> {
  const addrs = await ip(["-4", "-o", "addr", "show"]);
  for (let slot = 0; slot < 256; slot++) {
    if (!taken.has(slot) && !addrs.includes(` ${hostSideIP(slot)}/`)) return slot;
  }
  throw new Error("no free 198.19.x.0/30 slot for another local cluster (256 in use?)");
}

export async function createControlPlaneNetwork(cluster: string, slot: number): Promise<void> {
  const cp = cpNetns(cluster);
  await addNetns(cp);
  await ipBatch([`link add br0 type bridge`, `addr add ${CONTROL_PLANE_IP}/24 dev br0`, `link set br0 up`], cp);
  const rootEnd = linkNames.host(cluster);
  await ip(["link", "add", rootEnd, "type", "veth", "peer", "name", "host", "netns", cp]);
  await ipBatch([`addr add ${hostSideIP(slot)}/30 dev ${rootEnd}`, `link set ${rootEnd} up`]);
  await ipBatch([`addr add ${apiserverRootIP(slot)}/30 dev host`, `link set host up`], cp);
}

/** A netns joined to the cluster bridge through `eth0` with `address`/24. */
async function attachToBridge(cluster: string, netns: string, port: string, address: string): Promise<void> {
  const cp = cpNetns(cluster);
  await addNetns(netns);
  await ip(["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns], cp);
  await ipBatch([`link set ${port} master br0`, `link set ${port} up`], cp);
  await ipBatch([`addr add ${address}/24 dev eth0`, `link set eth0 up`], netns);
}

export async function createNode(cluster: string, node: string, index: number): Promise<void> {
  const ns = netnsNames.node(cluster, node);
  await attachToBridge(cluster, ns, `n${index}`, nodeIP(index));
  await sysctl(ns, "net.ipv4.ip_forward", "1");
  // A node's "internet" never answers: anything not routed inside the test network is dropped
  // silently, so an unrouted destination times out as it would on a real node.
  await ipBatch([`route add ${WORLD_CIDR} via ${WORLD_UNDERLAY_IP}`, `route add blackhole default`], ns);
}

export async function createWorld(cluster: string): Promise<void> {
  const ns = netnsNames.world(cluster);
  await attachToBridge(cluster, ns, "w0", WORLD_UNDERLAY_IP);
  await ipBatch(Object.values(WORLD_HOSTS).map((a) => `addr add ${a}/32 dev lo`), ns);
}

/**
 * Routes every node's pod CIDR via that node's underlay address, like the underlay's router:
 * in the control plane and world netns always (traffic between pods and the outside is not
 * tunnelled, nor masqueraded, in either mode), and in the other nodes only with native routing —
 * in tunnel mode nodes reach each other's pods through the agents' VXLAN devices alone.
 */
export async function routePodCidrs(
  cluster: string,
  nodes: readonly { name: string; index: number; podCIDR: string }[],
  opts: { readonly world: boolean; readonly betweenNodes: boolean },
): Promise<void> {
  const targets = [cpNetns(cluster), ...(opts.world ? [netnsNames.world(cluster)] : []), ...(opts.betweenNodes ? nodes.map((n) => netnsNames.node(cluster, n.name)) : [])];
  for (const ns of targets) {
    const lines = nodes.filter((n) => netnsNames.node(cluster, n.name) !== ns).map((n) => `route replace ${n.podCIDR} via ${nodeIP(n.index)}`);
    await ipBatch(lines, ns);
  }
}

/** PIDs of the processes inside a netns (everything we started there). */
export async function netnsPids(netns: string): Promise<number[]> {
  const out = await ip(["netns", "pids", netns]).catch(() => "");
  return out.split(/\s+/).filter(Boolean).map(Number);
}

export async function deleteNetns(name: string): Promise<void> {
  await ip(["netns", "delete", name]).catch(() => undefined);
}

/** Root-netns links of a cluster (its host veth end), by tag prefix. */
export async function rootLinks(prefix: string): Promise<string[]> {
  const out = await ip(["-o", "link", "show"]);
  return [...out.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1] ?? "").filter((n) => n.startsWith(prefix));
}

export async function deleteLink(name: string): Promise<void> {
  await ip(["link", "delete", name]).catch(() => undefined);
}
