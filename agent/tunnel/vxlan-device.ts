/**
 * The kernel side of the overlay, through iproute2: the VXLAN device, the underlay device it
 * rides on, and the overlay entries (routes, neighbours, FDB) on it. Everything acts on the
 * caller's netns (the agent runs in the node's), or on the netns at `netnsPath` (tests).
 */
import { execFile } from "node:child_process";
import { VXLAN_OVERHEAD, VXLAN_PORT, VXLAN_VNI } from "./plan.js";
import type { TunnelKernelState } from "./plan.js";

function exec(tool: "ip" | "bridge", args: readonly string[], netnsPath?: string, input?: string): Promise<string> {
  const [file, argv] = netnsPath ? ["nsenter", [`--net=${netnsPath}`, tool, ...args]] : [tool, [...args]];
  return new Promise((resolve, reject) => {
    const child = execFile(file, argv, { timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${[tool, ...args].join(" ")} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function json<T>(tool: "ip" | "bridge", args: readonly string[], netnsPath?: string): Promise<T[]> {
  const out = (await exec(tool, ["-j", ...args], netnsPath)).trim();
  return out ? (JSON.parse(out) as T[]) : [];
}

function batch(tool: "ip" | "bridge", lines: readonly string[], netnsPath?: string): Promise<unknown> {
  return lines.length === 0 ? Promise.resolve() : exec(tool, ["-batch", "-"], netnsPath, lines.join("\n") + "\n");
}

const missing = (err: unknown): boolean => /does not exist|Cannot find device/i.test((err as Error).message);

export interface UnderlayDevice {
  readonly name: string;
  readonly mtu: number;
}

/** The device holding `address` (the node's underlay address), or undefined. */
export async function underlayDevice(address: string, netnsPath?: string): Promise<UnderlayDevice | undefined> {
  const links = await json<{ ifname: string; mtu: number; addr_info?: { family: string; local: string }[] }>("ip", ["-4", "addr", "show"], netnsPath);
  const link = links.find((l) => l.addr_info?.some((a) => a.family === "inet" && a.local === address));
  return link ? { name: link.ifname, mtu: link.mtu } : undefined;
}

/** Pod MTU in tunnel mode: what the underlay carries, less the VXLAN headers. */
export async function tunnelPodMtu(nodeIP: string | undefined, netnsPath?: string): Promise<number> {
  const dev = nodeIP ? await underlayDevice(nodeIP, netnsPath) : undefined;
  return (dev?.mtu ?? 1500) - VXLAN_OVERHEAD;
}

export interface VxlanDeviceSpec {
  readonly name: string;
  readonly localIP: string;
  readonly underlay: string;
  readonly mac: string;
  readonly mtu: number;
}

interface VxlanLink {
  readonly ifname: string;
  readonly address?: string;
  readonly mtu?: number;
  readonly flags?: readonly string[];
  readonly linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean; link?: string } };
}

/** Why an existing device does not match `spec` (and must be re-created), or undefined. */
function mismatch(link: VxlanLink, spec: VxlanDeviceSpec): string | undefined {
  const d = link.linkinfo?.info_data;
  if (link.linkinfo?.info_kind !== "vxlan") return `it is a ${link.linkinfo?.info_kind ?? "plain"} link, not vxlan`;
  if (d?.id !== VXLAN_VNI) return `VNI ${d?.id}, want ${VXLAN_VNI}`;
  if (d.port !== VXLAN_PORT) return `port ${d.port}, want ${VXLAN_PORT}`;
  if (d.local !== spec.localIP) return `local ${d.local}, want ${spec.localIP}`;
  if (d.link !== undefined && d.link !== spec.underlay) return `underlay ${d.link}, want ${spec.underlay}`;
  if (d.learning !== false) return "learning is on";
  return undefined;
}

/**
 * Creates the device or keeps the one there (a restarted agent must not flush the overlay the
 * pods are using); a device made with other parameters is re-created. Returns what it did.
 */
export async function ensureVxlanDevice(spec: VxlanDeviceSpec, netnsPath?: string): Promise<"created" | "kept" | `re-created: ${string}`> {
  let current: VxlanLink | undefined;
  try {
    current = (await json<VxlanLink>("ip", ["-d", "link", "show", "dev", spec.name], netnsPath))[0];
  } catch (err) {
    if (!missing(err)) throw err;
  }
  const why = current ? mismatch(current, spec) : undefined;
  if (current && why) await exec("ip", ["link", "del", spec.name], netnsPath);
  if (!current || why) {
    await batch(
      "ip",
      [
        `link add ${spec.name} address ${spec.mac} mtu ${spec.mtu} type vxlan id ${VXLAN_VNI} dstport ${VXLAN_PORT} local ${spec.localIP} dev ${spec.underlay} nolearning`,
        // No IPv6 link-local: the device would otherwise send MLD/RS frames nobody is there to get.
        `link set dev ${spec.name} addrgenmode none`,
        `link set dev ${spec.name} up`,
      ],
      netnsPath,
    );
    return current ? `re-created: ${why}` : "created";
  }
  const fix: string[] = [];
  if (current.address !== spec.mac) fix.push(`link set dev ${spec.name} address ${spec.mac}`);
  if (current.mtu !== spec.mtu) fix.push(`link set dev ${spec.name} mtu ${spec.mtu}`);
  if (!current.flags?.includes("UP")) fix.push(`link set dev ${spec.name} up`);
  await batch("ip", fix, netnsPath);
  return "kept";
}

/** Removes the device (and with it every overlay entry); false when there was none. */
export async function removeVxlanDevice(name: string, netnsPath?: string): Promise<boolean> {
  try {
    await exec("ip", ["link", "del", name], netnsPath);
    return true;
  } catch (err) {
    if (missing(err)) return false;
    throw err;
  }
}

export async function readTunnelState(device: string, netnsPath?: string): Promise<TunnelKernelState> {
  const [routes, neighbours, fdb] = await Promise.all([
    json<TunnelKernelState["routes"][number]>("ip", ["-4", "route", "show", "dev", device], netnsPath),
    json<TunnelKernelState["neighbours"][number]>("ip", ["-4", "neigh", "show", "dev", device], netnsPath),
    json<TunnelKernelState["fdb"][number]>("bridge", ["fdb", "show", "dev", device], netnsPath),
  ]);
  return { routes, neighbours, fdb };
}

/** Applies a plan in its three phases (see TunnelChanges). */
export async function applyTunnelChanges(c: { ipRemove: readonly string[]; bridge: readonly string[]; ipAdd: readonly string[] }, netnsPath?: string): Promise<void> {
  await batch("ip", c.ipRemove, netnsPath);
  await batch("bridge", c.bridge, netnsPath);
  await batch("ip", c.ipAdd, netnsPath);
}
