// cgroup attachment with BPF_PROG_ATTACH: it stays until detached, even after this process
// exits, which is what a node agent wants for socket-level load balancing.
import { nativeAddon } from "./addon.js";
import type { BpfProgram } from "./bpf-object.js";
import { nativeCall } from "./errors.js";
import { CgroupAttachFlag } from "./kernel.js";

export interface CgroupAttachOptions {
  /** enum bpf_attach_type; default: the program's expected attach type (from its section). */
  attachType?: number;
  /** BPF_F_ALLOW_MULTI (default true): coexist with other programs on the same hook. */
  multi?: boolean;
  /** BPF_F_ALLOW_OVERRIDE: let sub-cgroups override. Ignored with multi. */
  override?: boolean;
}

function attachTypeOf(program: BpfProgram, attachType: number | undefined): number {
  return attachType ?? program.expectedAttachType;
}

export function cgroupAttach(cgroupPath: string, program: BpfProgram, opts: CgroupAttachOptions = {}): void {
  const multi = opts.multi ?? true;
  const flags = multi ? CgroupAttachFlag.allowMulti : opts.override ? CgroupAttachFlag.allowOverride : 0;
  nativeCall(() => nativeAddon().cgroupAttach(cgroupPath, program.fd, attachTypeOf(program, opts.attachType), flags), "cgroup attach");
}

/** False when the program was not attached there. */
export function cgroupDetach(cgroupPath: string, program: BpfProgram, attachType?: number): boolean {
  return nativeCall(() => nativeAddon().cgroupDetach(cgroupPath, program.fd, attachTypeOf(program, attachType)));
}

/** Ids of the programs attached to a cgroup hook. */
export function cgroupPrograms(cgroupPath: string, attachType: number): number[] {
  return nativeCall(() => nativeAddon().cgroupQuery(cgroupPath, attachType));
}
