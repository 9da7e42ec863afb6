// tc clsact attachment (libbpf bpf_tc_*; no tcx on this kernel line). The optional netns
// runs the netlink calls inside that namespace, on this thread only, and switches back.
import { nativeAddon } from "./addon.js";
import type { BpfProgram } from "./bpf-object.js";
import { nativeCall } from "./errors.js";
import { netnsPath } from "./netns.js";

export type TcHook = "ingress" | "egress";

/** Where a filter sits: the pair (priority, handle) identifies it on a device's hook. */
export interface TcFilterRef {
  ifindex: number;
  hook: TcHook;
  priority: number;
  handle: number;
  /** netns name or path; default: the calling thread's namespace. */
  netns?: string;
}

export interface TcAttachOptions {
  ifindex: number;
  hook: TcHook;
  program: BpfProgram | number;
  /** Default 1. Use a fixed (priority, handle) so a re-attach replaces in place. */
  priority?: number;
  /** Default 1. */
  handle?: number;
  /** Replace a filter at the same (priority, handle) atomically. Default true. */
  replace?: boolean;
  netns?: string;
}

export interface TcAttachment extends TcFilterRef {
  progId: number;
}

/** Attach a sched_cls program with direct-action on a clsact hook (created if missing). */
export function tcAttach(o: TcAttachOptions): TcAttachment {
  const fd = typeof o.program === "number" ? o.program : o.program.fd;
  const ns = o.netns ? netnsPath(o.netns) : null;
  const r = nativeCall(
    () => nativeAddon().tcAttach(o.ifindex, o.hook, fd, o.priority ?? 1, o.handle ?? 1, o.replace ?? true, ns),
    "tc clsact attach",
  );
  return { ifindex: o.ifindex, hook: o.hook, priority: r.priority, handle: r.handle, progId: r.progId, ...(o.netns ? { netns: o.netns } : {}) };
}

/** Detach one filter; false when it was not there (or the device/qdisc is gone). */
export function tcDetach(ref: TcFilterRef): boolean {
  return nativeCall(() => nativeAddon().tcDetach(ref.ifindex, ref.hook, ref.priority, ref.handle, ref.netns ? netnsPath(ref.netns) : null));
}

/** Program id attached at a filter position, or undefined. */
export function tcQuery(ref: TcFilterRef): number | undefined {
  return nativeCall(() => nativeAddon().tcQuery(ref.ifindex, ref.hook, ref.priority, ref.handle, ref.netns ? netnsPath(ref.netns) : null)) ?? undefined;
}

/** Remove the clsact qdisc of a device, and with it every tc filter on both hooks. */
export function tcRemoveClsact(ifindex: number, netns?: string): boolean {
  return nativeCall(() => nativeAddon().tcHookDestroy(ifindex, netns ? netnsPath(netns) : null));
}

/** if_nametoindex, optionally inside a netns. */
export function ifIndex(name: string, netns?: string): number {
  return nativeCall(() => nativeAddon().ifNameToIndex(name, netns ? netnsPath(netns) : null));
}
