// A container's volumeMounts resolved to bind mounts: what (a path of this machine) goes where
// (the mountPath, seen by that container only). A hostPath whose mapped path is its own
// mountPath needs no bind: the container sees the machine's mount itself (and mounts it makes
// there, e.g. netns under /run/netns, are seen by everyone, as with Bidirectional propagation).
import { posix } from "node:path";
import type { V1Container } from "@kubernetes/client-node";
import { normalizeNodePath } from "./host-path.js";
import { checkRelativePath } from "./files.js";

export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export type MountResolution = { readonly ok: true; readonly mounts: BindMount[] } | { readonly ok: false; readonly message: string };

export function containerMounts(container: V1Container, pathOf: (volume: string) => string | undefined): MountResolution {
  const mounts: BindMount[] = [];
  for (const m of container.volumeMounts ?? []) {
    const base = pathOf(m.name);
    if (base === undefined) return { ok: false, message: `container "${container.name}": volumeMount "${m.name}" names no prepared volume of the pod` };
    if (!posix.isAbsolute(m.mountPath)) return { ok: false, message: `container "${container.name}": mountPath ${JSON.stringify(m.mountPath)} must be absolute` };
    if (m.subPathExpr) return { ok: false, message: `container "${container.name}": subPathExpr is not supported on the local cluster` };
    let source = base;
    try {
      if (m.subPath) source = posix.join(base, checkRelativePath(m.subPath));
    } catch (err) {
      return { ok: false, message: `container "${container.name}": volumeMount "${m.name}" subPath: ${err instanceof Error ? err.message : String(err)}` };
    }
    const target = normalizeNodePath(m.mountPath);
    const readOnly = m.readOnly === true;
    if (!readOnly && normalizeNodePath(source) === target) continue;
    mounts.push({ source, target, readOnly });
  }
  // Parents before children, so a mount inside another volume's mountPath lands on top of it.
  mounts.sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  return { ok: true, mounts };
}
