// BPF_PROG_TEST_RUN: run a program on a crafted packet without any device or traffic.
import { nativeAddon } from "./addon.js";
import type { BpfProgram } from "./bpf-object.js";
import { structCodec } from "./codec.js";
import { nativeCall, toBpfError } from "./errors.js";

export interface TestRunOptions {
  /** The packet, from its Ethernet header on (tc programs). */
  data: Uint8Array;
  /** Program context (e.g. `skbContext(...)` for tc programs). */
  ctx?: Uint8Array;
  /** Run this many times (timing, load generation). Default 1. */
  repeat?: number;
  /** Room for the packet as the program left it; default data length + 256. */
  dataOutSize?: number;
}

export interface TestRunResult {
  /** The program's return value (tc: TC_ACT_OK 0, TC_ACT_SHOT 2...). */
  retval: number;
  /** Average ns per run. */
  durationNs: number;
  data: Buffer;
  ctx?: Buffer;
}

function fdOf(p: BpfProgram | number): number {
  return typeof p === "number" ? p : p.fd;
}

/** Run synchronously on this thread. */
export function testRun(program: BpfProgram | number, o: TestRunOptions): TestRunResult {
  const r = nativeCall(() => nativeAddon().progTestRun(fdOf(program), o.data, o.ctx ?? null, o.repeat ?? 1, o.dataOutSize ?? 0), "BPF_PROG_TEST_RUN");
  return { retval: r.retval, durationNs: r.durationNs, data: r.data, ...(r.ctx ? { ctx: r.ctx } : {}) };
}

/** Run on the libuv thread pool, so the event loop (and ring buffer delivery) keeps going. */
export async function testRunAsync(program: BpfProgram | number, o: TestRunOptions): Promise<TestRunResult> {
  try {
    const r = await nativeAddon().progTestRunAsync(fdOf(program), o.data, o.ctx ?? null, o.repeat ?? 1, o.dataOutSize ?? 0);
    return { retval: r.retval, durationNs: r.durationNs, data: r.data, ...(r.ctx ? { ctx: r.ctx } : {}) };
  } catch (e) {
    throw toBpfError(e, "BPF_PROG_TEST_RUN");
  }
}

/** The fields of `struct __sk_buff` that BPF_PROG_TEST_RUN accepts as input. */
export interface SkbContext {
  mark: number;
  priority: number;
  ingressIfindex: number;
  /** The device the program sees; must exist in the caller's netns, 1 (lo) is the default. */
  ifindex: number;
  tstamp: bigint;
  wireLen: number;
  gsoSegs: number;
  gsoSize: number;
}

/** struct __sk_buff (uapi), with the members test runs may not set left as padding. */
export const skbContextCodec = structCodec<SkbContext>("__sk_buff", [
  { c: "len", type: "u32" },
  { c: "pkt_type", type: "u32" },
  { c: "mark", type: "u32", key: "mark" },
  { c: "queue_mapping", type: "u32" },
  { c: "protocol", type: "u32" },
  { c: "vlan_present", type: "u32" },
  { c: "vlan_tci", type: "u32" },
  { c: "vlan_proto", type: "u32" },
  { c: "priority", type: "u32", key: "priority" },
  { c: "ingress_ifindex", type: "u32", key: "ingressIfindex" },
  { c: "ifindex", type: "u32", key: "ifindex" },
  { c: "tc_index", type: "u32" },
  { c: "cb", type: "u32", count: 5 },
  { c: "hash", type: "u32" },
  { c: "tc_classid", type: "u32" },
  { c: "data", type: "u32" },
  { c: "data_end", type: "u32" },
  { c: "napi_id", type: "u32" },
  { c: "family", type: "u32" },
  { c: "remote_ip4", type: "u32" },
  { c: "local_ip4", type: "u32" },
  { c: "remote_ip6", type: "u32", count: 4 },
  { c: "local_ip6", type: "u32", count: 4 },
  { c: "remote_port", type: "u32" },
  { c: "local_port", type: "u32" },
  { c: "data_meta", type: "u32" },
  { c: "flow_keys", type: "u64" },
  { c: "tstamp", type: "u64", key: "tstamp" },
  { c: "wire_len", type: "u32", key: "wireLen" },
  { c: "gso_segs", type: "u32", key: "gsoSegs" },
  { c: "sk", type: "u64" },
  { c: "gso_size", type: "u32", key: "gsoSize" },
  { c: "tstamp_type", type: "u8" },
  { c: "hwtstamp", type: "u64" },
]);

/** A __sk_buff context for a tc test run. */
export function skbContext(fields: Partial<SkbContext> = {}): Buffer {
  return skbContextCodec.encode({ mark: 0, priority: 0, ingressIfindex: 0, ifindex: 1, tstamp: 0n, wireLen: 0, gsoSegs: 0, gsoSize: 0, ...fields });
}
