// Kernel-side run-time accounting of BPF programs (BPF_ENABLE_STATS).
import { nativeAddon } from "./addon.js";
import type { BpfProgram } from "./bpf-object.js";
import { nativeCall } from "./errors.js";

export interface ProgramRunStats {
  runTimeNs: bigint;
  runCount: bigint;
}

/** Run time and count of a program so far (zero unless stats are enabled). */
export function programRunStats(program: BpfProgram | number): ProgramRunStats {
  const fd = typeof program === "number" ? program : program.fd;
  const info = nativeCall(() => nativeAddon().progInfo(fd));
  return { runTimeNs: info.runTimeNs, runCount: info.runCount };
}

/**
 * Turn on run-time accounting for every BPF program until the returned function is called.
 * It costs two clock reads per program run, so enable it for measurements only.
 */
export function enableRunStats(): () => void {
  const fd = nativeCall(() => nativeAddon().enableStats(), "BPF_ENABLE_STATS");
  let open = true;
  return () => {
    if (open) nativeAddon().closeFd(fd);
    open = false;
  };
}
