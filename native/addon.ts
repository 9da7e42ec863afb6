// The raw addon (native/src/*.c) and its call signatures. Everything else in native/ wraps
// these; other code should use the wrappers, which type the results and the errors.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { addonPath } from "./paths.js";

declare const handleBrand: unique symbol;
/** Opaque handle of an opened BPF object. */
export type ObjectHandle = { readonly [handleBrand]: "object" };
/** Opaque handle of a ring buffer reader. */
export type RingbufHandle = { readonly [handleBrand]: "ringbuf" };

export interface RawMapDescription {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  internal: boolean;
  pinPath: string | null;
  pinned: boolean;
  fd: number;
}

export interface RawProgramDescription {
  name: string;
  section: string;
  type: number;
  expectedAttachType: number;
  fd: number;
}

export interface RawGlobal {
  name: string;
  section: string;
  offset: number;
  size: number;
}

export interface BtfMember {
  name: string;
  /** Byte offset (bitOffset / 8). */
  offset: number;
  bitOffset: number;
  /** 0 unless the member is a bitfield. */
  bitfieldSize: number;
  size: number;
}

export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

export interface RawTestRunResult {
  retval: number;
  durationNs: number;
  data: Buffer;
  ctx: Buffer | null;
}

export interface NativeAddon {
  libbpfVersion(): string;
  objectOpen(path: string): ObjectHandle;
  objectClose(obj: ObjectHandle): void;
  objectMaps(obj: ObjectHandle): RawMapDescription[];
  objectPrograms(obj: ObjectHandle): RawProgramDescription[];
  objectGlobals(obj: ObjectHandle): RawGlobal[];
  objectSetGlobal(obj: ObjectHandle, name: string, value: Uint8Array): void;
  objectSetMaxEntries(obj: ObjectHandle, map: string, maxEntries: number): void;
  objectSetPinPath(obj: ObjectHandle, map: string, path: string | null): void;
  objectLoad(obj: ObjectHandle): void;
  btfStruct(objOrPath: ObjectHandle | string, name: string): BtfStruct;
  probeMapType(type: number): boolean;
  probeProgType(type: number): boolean;

  mapInfo(fd: number): { id: number; name: string; type: number; keySize: number; valueSize: number; maxEntries: number; flags: number };
  progInfo(fd: number): { id: number; name: string; type: number; tag: string; runTimeNs: bigint; runCount: bigint };
  enableStats(): number;
  mapLookup(fd: number, key: Uint8Array, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDelete(fd: number, key: Uint8Array): boolean;
  mapNextKey(fd: number, key: Uint8Array | null, keySize: number): Buffer | null;
  mapDump(fd: number, keySize: number, valueSize: number, maxEntries: number): { keys: Buffer; values: Buffer; count: number };
  mapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, count: number, flags: number): number;
  mapDeleteBatch(fd: number, keys: Uint8Array, count: number): number;
  objGet(path: string): number;
  objPin(fd: number, path: string): void;
  unpin(path: string): boolean;
  closeFd(fd: number): void;
  dupFd(fd: number): number;
  possibleCpus(): number;
  isBpffs(path: string): boolean;
  mountBpffs(path: string): void;
  unmountBpffs(path: string): void;

  tcAttach(
    ifindex: number,
    hook: "ingress" | "egress",
    progFd: number,
    priority: number,
    handle: number,
    replace: boolean,
    netns: string | null,
  ): { priority: number; handle: number; progId: number };
  tcDetach(ifindex: number, hook: "ingress" | "egress", priority: number, handle: number, netns: string | null): boolean;
  tcQuery(ifindex: number, hook: "ingress" | "egress", priority: number, handle: number, netns: string | null): number | null;
  tcHookDestroy(ifindex: number, netns: string | null): boolean;
  ifNameToIndex(name: string, netns: string | null): number;
  cgroupAttach(cgroupPath: string, progFd: number, attachType: number, flags: number): void;
  cgroupDetach(cgroupPath: string, progFd: number, attachType: number): boolean;
  cgroupQuery(cgroupPath: string, attachType: number): number[];

  ringbufOpen(
    mapFd: number,
    onBatch: (batch: Buffer, count: number) => void,
    maxBatchRecords: number,
    maxBatchBytes: number,
    intervalMs: number,
  ): RingbufHandle;
  ringbufClose(reader: RingbufHandle): void;
  ringbufRef(reader: RingbufHandle, ref: boolean): void;
  ringbufStats(reader: RingbufHandle): { records: number; batches: number; bytes: number; queueFullWaits: number };

  progTestRun(progFd: number, data: Uint8Array, ctx: Uint8Array | null, repeat: number, dataOutSize: number): RawTestRunResult;
  progTestRunAsync(progFd: number, data: Uint8Array, ctx: Uint8Array | null, repeat: number, dataOutSize: number): Promise<RawTestRunResult>;
}

let cached: NativeAddon | undefined;

/** The loaded addon; loading is deferred so pure modules (codecs) work without a build. */
export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`conform native addon is not built (${path} is missing): run \`npx node-gyp rebuild --directory native --nodedir=/usr\``);
  }
  cached = createRequire(import.meta.url)(path) as NativeAddon;
  return cached;
}
