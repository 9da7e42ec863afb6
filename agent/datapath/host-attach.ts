/**
 * Puts bpf/host.c (the host firewall) on the node's underlay device: cf_from_netdev on tc
 * ingress (the host endpoint's ingress), cf_to_netdev on tc egress. Same fixed tc position as
 * the pod programs, so a restarted agent swaps them in place and the node's traffic never sees
 * a gap; nothing is detached on restart.
 */
import { BpfError, HOST_PROGRAMS, ifIndex, tcAttach, tcDetach, type BpfObject, type TcHook } from "../../native/index.js";
import { TC_HANDLE, TC_PRIORITY } from "./endpoint-attach.js";

const HOOKS: ReadonlyArray<{ hook: TcHook; program: string }> = [
  { hook: HOST_PROGRAMS.fromNetdev.hook, program: HOST_PROGRAMS.fromNetdev.name },
  { hook: HOST_PROGRAMS.toNetdev.hook, program: HOST_PROGRAMS.toNetdev.name },
];

/** Attach both programs to `device`; returns its ifindex. */
export function attachHostPrograms(obj: BpfObject, device: string, netns?: string): number {
  const ifindex = ifIndex(device, netns);
  for (const h of HOOKS) {
    tcAttach({ ifindex, hook: h.hook, program: obj.program(h.program), priority: TC_PRIORITY, handle: TC_HANDLE, replace: true, ...(netns ? { netns } : {}) });
  }
  return ifindex;
}

/** Remove both programs; a vanished device is fine. */
export function detachHostPrograms(ifindex: number, netns?: string): void {
  for (const h of HOOKS) {
    try {
      tcDetach({ ifindex, hook: h.hook, priority: TC_PRIORITY, handle: TC_HANDLE, ...(netns ? { netns } : {}) });
    } catch (err) {
      if (!(err instanceof BpfError && (err.code === "ENODEV" || err.code === "ENOENT" || err.code === "ENXIO"))) throw err;
    }
  }
}
