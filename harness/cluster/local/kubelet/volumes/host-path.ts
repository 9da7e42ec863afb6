// Where a hostPath volume lives on this machine. The nodes of a local cluster share one
// filesystem, so a path a real node would keep to itself (its CNI dirs, /var/lib, /var/log) is
// given a per-node home under the kubelet's state dir, while kernel-backed and machine-wide paths
// (/sys, /proc, /dev, /run, …) are the real ones, which is what pods mounting them want: bpffs
// pins, /run/netns and the agent's sockets must be the same objects everyone else sees.
import { posix } from "node:path";

/** Prefixes a real node keeps to itself; unless mapped explicitly they go under `<nodeRoot>`. */
export const NODE_LOCAL_PREFIXES: readonly string[] = ["/etc/cni", "/opt/cni", "/var/lib", "/var/log"];

export interface HostPathTable {
  /** Explicit mappings (node path prefix → directory of this machine); the longest prefix wins. */
  readonly mapped: Readonly<Record<string, string>>;
  /** Per-node root for NODE_LOCAL_PREFIXES paths that no explicit mapping covers. */
  readonly nodeRoot: string;
}

export interface MappedHostPath {
  readonly path: string;
  /** "mapped" (explicit table entry), "node-local" (under nodeRoot) or "host" (the real path). */
  readonly kind: "mapped" | "node-local" | "host";
}

/** Normalises a node path: absolute, no `..` escapes, `/var/run` spelled `/run` (a symlink on every distribution we run on). */
export function normalizeNodePath(path: string): string {
  if (!posix.isAbsolute(path)) throw new Error(`hostPath ${JSON.stringify(path)} is not an absolute path`);
  const n = posix.normalize(path).replace(/\/+$/, "") || "/";
  if (n === "/var/run" || n.startsWith("/var/run/")) return n.slice("/var".length);
  return n;
}

const under = (path: string, prefix: string): boolean => prefix === "/" || path === prefix || path.startsWith(`${prefix}/`);

export function mapHostPath(path: string, table: HostPathTable): MappedHostPath {
  const p = normalizeNodePath(path);
  const keys = Object.keys(table.mapped)
    .map((k) => [normalizeNodePath(k), table.mapped[k] ?? ""] as const)
    .filter(([k]) => under(p, k))
    .sort((a, b) => b[0].length - a[0].length);
  const best = keys[0];
  if (best) return { path: posix.join(best[1], p.slice(best[0].length)), kind: "mapped" };
  if (NODE_LOCAL_PREFIXES.some((prefix) => under(p, prefix))) return { path: posix.join(table.nodeRoot, p), kind: "node-local" };
  return { path: p, kind: "host" };
}
