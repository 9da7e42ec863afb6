// Gives a container its own view of the volume mountPaths: it is started through
// `unshare --mount --propagation unchanged`, and a small shell prologue bind-mounts each volume at
// its mountPath before exec'ing the container's program, in that new mount namespace only.
//
// Propagation is the subtle part. The host's mounts are shared (systemd), and a copy of a shared
// mount in a new namespace stays in the same peer group: a bind onto it would appear on the host
// too. So the mount holding each target is made a slave first (host → container still flows,
// container → host no longer does), and every bind is made a slave of its source. Mounts no bind
// touches stay shared with the host, so what the container mounts there (a netns under
// /run/netns, bpffs) is visible to everyone, as the agent needs. Containers of pods with their
// own netns start under `ip netns exec`, whose namespace is already a recursive slave.
// The namespace dies with the container's last process, and its binds with it.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { BindMount } from "../volumes/container-mounts.js";

/** `\040`-style octal escapes of /proc/self/mountinfo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points of a mountinfo text, in order. */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p)
    .map(unescapeMountPath);
}

/** The mount point holding `path` (the longest mount point that is `path` or one of its parents). */
export function containingMountPoint(path: string, mountPoints: readonly string[]): string {
  let best = "/";
  for (const mp of mountPoints) {
    if ((path === mp || path.startsWith(mp === "/" ? "/" : `${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The shell prologue for `mounts`. `slaveFirst` are the existing mount points to detach from the
 * host's peer groups before binding.
 */
export function mountScript(mounts: readonly BindMount[], slaveFirst: readonly string[]): string {
  const lines = ["set -e"];
  for (const mp of slaveFirst) lines.push(`mount --make-slave ${shellQuote(mp)}`);
  for (const m of mounts) {
    lines.push(`mount --bind ${shellQuote(m.source)} ${shellQuote(m.target)}`);
    lines.push(`mount --make-slave ${shellQuote(m.target)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${shellQuote(m.target)}`);
  }
  lines.push('exec "$@"');
  return lines.join("\n");
}

/**
 * Makes every target exist (a bind needs a mount point of the source's kind) and returns the
 * argv prefix that performs the binds. `hostNamespace` says the container would otherwise share
 * the kubelet's mount namespace (hostNetwork pods).
 */
export function mountLauncher(mounts: readonly BindMount[], hostNamespace: boolean, mountinfo = "/proc/self/mountinfo"): string[] {
  if (mounts.length === 0) return [];
  for (const m of mounts) {
    if (!existsSync(m.source)) throw new Error(`volume source ${m.source} does not exist`);
    if (existsSync(m.target)) continue;
    if (statSync(m.source).isDirectory()) mkdirSync(m.target, { recursive: true });
    else {
      mkdirSync(dirname(m.target), { recursive: true });
      writeFileSync(m.target, "");
    }
  }
  let slaveFirst: string[] = [];
  if (hostNamespace) {
    const points = parseMountPoints(readFileSync(mountinfo, "utf8"));
    const targets = new Set(mounts.map((m) => m.target));
    // A target inside an earlier bind is covered by that bind's own make-slave.
    const holders = mounts
      .filter((m) => !mounts.some((o) => o !== m && targets.has(o.target) && m.target.startsWith(`${o.target}/`)))
      .map((m) => containingMountPoint(m.target, points));
    slaveFirst = [...new Set(holders)];
  }
  return ["unshare", "--mount", "--propagation", "unchanged", "--", "sh", "-c", mountScript(mounts, slaveFirst), "sh"];
}
