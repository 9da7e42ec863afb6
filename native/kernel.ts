// Kernel enum values (uapi <linux/bpf.h>) the wrappers need by name.

export const MapType = {
  hash: 1,
  array: 2,
  progArray: 3,
  perfEventArray: 4,
  percpuHash: 5,
  percpuArray: 6,
  lruHash: 9,
  lruPercpuHash: 10,
  lpmTrie: 11,
  arrayOfMaps: 12,
  hashOfMaps: 13,
  ringbuf: 27,
} as const;

export const MAP_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MapType).map(([k, v]) => [v, k]));

const PERCPU_TYPES = new Set<number>([MapType.percpuHash, MapType.percpuArray, MapType.lruPercpuHash]);
export function isPerCpuMapType(type: number): boolean {
  return PERCPU_TYPES.has(type);
}

export const ProgType = {
  socketFilter: 1,
  schedCls: 3,
  schedAct: 4,
  xdp: 6,
  cgroupSkb: 8,
  cgroupSock: 9,
  sockOps: 13,
  cgroupSockAddr: 18,
} as const;

/** enum bpf_attach_type, cgroup hooks. */
export const AttachType = {
  cgroupInetIngress: 0,
  cgroupInetEgress: 1,
  cgroupInetSockCreate: 2,
  cgroupSockOps: 3,
  cgroupInet4Bind: 8,
  cgroupInet6Bind: 9,
  cgroupInet4Connect: 10,
  cgroupInet6Connect: 11,
  cgroupInet4PostBind: 12,
  cgroupInet6PostBind: 13,
  cgroupUdp4Sendmsg: 14,
  cgroupUdp6Sendmsg: 15,
  cgroupUdp4Recvmsg: 19,
  cgroupUdp6Recvmsg: 20,
  cgroupInet4Getpeername: 29,
  cgroupInet6Getpeername: 30,
  cgroupInet4Getsockname: 31,
  cgroupInet6Getsockname: 32,
  cgroupInetSockRelease: 34,
} as const;
export type AttachType = (typeof AttachType)[keyof typeof AttachType];

/** BPF_F_ALLOW_OVERRIDE / BPF_F_ALLOW_MULTI / BPF_F_REPLACE for cgroup attach. */
export const CgroupAttachFlag = { allowOverride: 1, allowMulti: 2, replace: 4 } as const;

/** Map update modes: BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
export const UPDATE_FLAGS = { any: 0, noexist: 1, exist: 2 } as const;
export type UpdateMode = keyof typeof UPDATE_FLAGS;
