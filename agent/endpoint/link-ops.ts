/**
 * The kernel side of an endpoint, through iproute2. The agent runs inside the node's network
 * namespace, so plain `ip` acts on the node; pod-side commands run through
 * `nsenter --net=<CNI_NETNS>` because CNI hands us a netns *path*, which `ip -n` does not take.
 * Sysctls of the node are written under /proc/sys, which always reflects the caller's netns
 * (unlike /sys/class/net, which reflects the netns /sys was mounted in).
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { EndpointError } from "./errors.js";

function exec(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new EndpointError("io", `${[file, ...args].join(" ")} failed: ${String(stderr).trim() || err.message}`));
      } else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `ip` in the node netns, or in the pod netns at `netnsPath`. */
export function ip(args: readonly string[], netnsPath?: string): Promise<string> {
  return netnsPath ? exec("nsenter", [`--net=${netnsPath}`, "ip", ...args]) : exec("ip", args);
}

/** Several `ip` commands in one process; stops at the first failure. */
export function ipBatch(lines: readonly string[], netnsPath?: string): Promise<string> {
  if (lines.length === 0) return Promise.resolve("");
  const input = lines.join("\n") + "\n";
  return netnsPath ? exec("nsenter", [`--net=${netnsPath}`, "ip", "-batch", "-"], input) : exec("ip", ["-batch", "-"], input);
}

async function ipJson<T>(args: readonly string[], netnsPath?: string): Promise<T[]> {
  const out = (await ip(["-j", ...args], netnsPath)).trim();
  return out ? (JSON.parse(out) as T[]) : [];
}

/** Node-side veth name: "lxc" + 12 hex of the attachment's hash (15 bytes, IFNAMSIZ - 1). */
export function hostVethName(containerId: string, ifName: string): string {
  return `lxc${createHash("sha256").update(`${containerId}/${ifName}`).digest("hex").slice(0, 12)}`;
}

/** A random unicast, locally administered MAC. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Writes a sysctl of the node netns, e.g. ("net/ipv4/ip_forward", "1"). */
export function writeSysctl(key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/${key}`, value);
  } catch (err) {
    throw new EndpointError("io", `cannot set sysctl ${key.replaceAll("/", ".")}=${value}: ${(err as Error).message}`);
  }
}

export interface LinkInfo {
  readonly ifindex: number;
  readonly ifname: string;
  readonly address?: string;
  readonly flags?: readonly string[];
  readonly operstate?: string;
  readonly mtu?: number;
}

/** The link `name` (node netns, or pod netns at `netnsPath`), or undefined if absent. */
export async function linkInfo(name: string, netnsPath?: string): Promise<LinkInfo | undefined> {
  try {
    return (await ipJson<LinkInfo>(["link", "show", "dev", name], netnsPath))[0];
  } catch (err) {
    if (err instanceof EndpointError && /does not exist|Cannot find device/i.test(err.message)) return undefined;
    throw err;
  }
}

/**
 * The node's router device: a veth pair (`cf_host` ↔ `cf_net`, after Cilium's cilium_host /
 * cilium_net; dummy links are not available on every kernel) with the router address as /32 on
 * `cf_host`. Pods use that address as their gateway; being a local address of the node, it is
 * also where pods reach the node. The peer only exists to give the device a carrier.
 */
export async function ensureRouterDevice(name: string, routerIp: string, peerName = "cf_net"): Promise<void> {
  if (!(await linkInfo(name))) {
    await ip(["link", "add", name, "type", "veth", "peer", "name", peerName]).catch(async (err: unknown) => {
      // Two agents starting at once: the other one created it.
      if (!(await linkInfo(name))) throw err;
    });
  }
  await ipBatch([`addr replace ${routerIp}/32 dev ${name} scope global`, `link set ${peerName} up`, `link set ${name} up`]);
}

export interface EndpointLinkSpec {
  readonly hostIfName: string;
  readonly hostMac: string;
  readonly podIfName: string;
  readonly podMac: string;
  readonly netnsPath: string;
  readonly ip: string;
  readonly gateway: string;
  readonly mtu: number;
}

export type AddressingSpec = Omit<EndpointLinkSpec, "mtu">;

/**
 * Node side, in one `ip -batch` (process spawns dominate ADD latency): the veth pair with the
 * pod end created directly inside the pod netns under its final name, the host end up, a /32
 * route to the pod through it (source = router address, so node-originated traffic to pods comes
 * from one well-known address), a permanent neighbour entry for the pod; then the host end's
 * ifindex. A leftover veth of the same name (a crashed ADD of this attachment: the name hashes
 * it) is deleted and the batch retried once.
 */
export async function createHostSide(s: EndpointLinkSpec): Promise<LinkInfo> {
  const lines = [
    `link add ${s.hostIfName} mtu ${s.mtu} address ${s.hostMac} type veth peer name ${s.podIfName} mtu ${s.mtu} address ${s.podMac} netns ${s.netnsPath}`,
    `link set ${s.hostIfName} up`,
    `route replace ${s.ip}/32 dev ${s.hostIfName} scope link src ${s.gateway}`,
    `neigh replace ${s.ip} lladdr ${s.podMac} dev ${s.hostIfName} nud permanent`,
    `link show dev ${s.hostIfName}`,
  ];
  let out: string;
  try {
    out = await exec("ip", ["-j", "-batch", "-"], lines.join("\n") + "\n");
  } catch (err) {
    if (!(err instanceof EndpointError && /File exists/.test(err.message)) || !(await deleteLink(s.hostIfName))) throw err;
    out = await exec("ip", ["-j", "-batch", "-"], lines.join("\n") + "\n");
  }
  const info = (JSON.parse(out.trim()) as LinkInfo[])[0];
  if (!info) throw new EndpointError("io", `veth ${s.hostIfName} is missing right after it was created`);
  return info;
}

/**
 * Pod side: the address as /32 (nothing is on-link but the gateway), a host route to the gateway,
 * the default route through it, and a permanent neighbour entry for the gateway with the host
 * veth's MAC — the pod never ARPs, whatever the node's arp_ignore/proxy_arp settings are.
 */
export async function configurePodSide(s: AddressingSpec): Promise<void> {
  await ipBatch(
    [
      `link set lo up`,
      `addr replace ${s.ip}/32 dev ${s.podIfName}`,
      `link set ${s.podIfName} up`,
      `route replace ${s.gateway}/32 dev ${s.podIfName} scope link`,
      `route replace default via ${s.gateway} dev ${s.podIfName} src ${s.ip}`,
      `neigh replace ${s.gateway} lladdr ${s.hostMac} dev ${s.podIfName} nud permanent`,
    ],
    s.netnsPath,
  );
}

/** Deletes a node link; false when it did not exist. Deleting one veth end removes both. */
export async function deleteLink(name: string): Promise<boolean> {
  try {
    await ip(["link", "del", name]);
    return true;
  } catch (err) {
    if (err instanceof EndpointError && /does not exist|Cannot find device/i.test(err.message)) return false;
    throw err;
  }
}

interface AddrInfo {
  readonly ifname: string;
  readonly address?: string;
  readonly addr_info?: readonly { family: string; local: string; prefixlen: number }[];
}

interface RouteInfo {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
}

/** What CHECK looks at; each problem is a human-readable sentence. */
export async function attachmentProblems(s: AddressingSpec & { readonly hostIfIndex: number }): Promise<string[]> {
  const problems: string[] = [];
  const host = await linkInfo(s.hostIfName);
  if (!host) problems.push(`host veth ${s.hostIfName} does not exist`);
  else {
    if (s.hostIfIndex !== 0 && host.ifindex !== s.hostIfIndex) problems.push(`host veth ${s.hostIfName} has ifindex ${host.ifindex}, recorded ${s.hostIfIndex}`);
    if (!host.flags?.includes("UP")) problems.push(`host veth ${s.hostIfName} is down`);
  }
  const hostRoutes = await ipJson<RouteInfo>(["route", "show", "exact", `${s.ip}/32`]);
  if (!hostRoutes.some((r) => r.dev === s.hostIfName)) problems.push(`node has no route to ${s.ip} via ${s.hostIfName}`);
  let podAddrs: AddrInfo[] = [];
  try {
    podAddrs = await ipJson<AddrInfo>(["addr", "show", "dev", s.podIfName], s.netnsPath);
  } catch (err) {
    problems.push(`pod interface ${s.podIfName} in ${s.netnsPath}: ${(err as Error).message}`);
    return problems;
  }
  const pod = podAddrs[0];
  if (!pod) problems.push(`pod interface ${s.podIfName} does not exist in ${s.netnsPath}`);
  else {
    if (pod.address && pod.address !== s.podMac) problems.push(`pod interface ${s.podIfName} has MAC ${pod.address}, recorded ${s.podMac}`);
    if (!pod.addr_info?.some((a) => a.family === "inet" && a.local === s.ip && a.prefixlen === 32)) problems.push(`pod interface ${s.podIfName} lacks ${s.ip}/32`);
  }
  const podRoutes = await ipJson<RouteInfo>(["route", "show", "default"], s.netnsPath);
  if (!podRoutes.some((r) => r.gateway === s.gateway && r.dev === s.podIfName)) problems.push(`pod has no default route via ${s.gateway} dev ${s.podIfName}`);
  return problems;
}
