// BPF maps by file descriptor: raw Buffer access (BpfMap) and codec-typed views on top.
import { nativeAddon } from "./addon.js";
import type { Codec } from "./codec.js";
import { nativeCall } from "./errors.js";
import { isPerCpuMapType, MAP_TYPE_NAMES, UPDATE_FLAGS, type UpdateMode } from "./kernel.js";

export interface MapInfo {
  id: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

let cpus: number | undefined;
/** Possible CPUs: the number of value slots of a per-CPU map. */
export function possibleCpus(): number {
  return (cpus ??= nativeCall(() => nativeAddon().possibleCpus()));
}

/** A map, owning its own descriptor (closed by `close()`). */
export class BpfMap {
  readonly id: number;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  /** Bytes of one lookup result: valueSize, or per CPU rounded to 8 times the CPUs. */
  readonly lookupSize: number;
  #fd: number;

  /** Takes ownership of `fd`. */
  constructor(fd: number) {
    const info = nativeCall(() => nativeAddon().mapInfo(fd));
    this.#fd = fd;
    this.id = info.id;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.perCpu = isPerCpuMapType(info.type);
    this.lookupSize = this.perCpu ? Math.ceil(info.valueSize / 8) * 8 * possibleCpus() : info.valueSize;
  }

  /** Open a map pinned in bpffs. */
  static openPinned(path: string): BpfMap {
    return new BpfMap(nativeCall(() => nativeAddon().objGet(path)));
  }

  /** A map sharing an existing descriptor (duplicated, so both can be closed independently). */
  static fromFd(fd: number): BpfMap {
    return new BpfMap(nativeCall(() => nativeAddon().dupFd(fd)));
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error(`map ${this.name} is closed`);
    return this.#fd;
  }

  get typeName(): string {
    return MAP_TYPE_NAMES[this.type] ?? `type ${this.type}`;
  }

  #checkKey(key: Uint8Array): void {
    if (key.byteLength !== this.keySize) throw new RangeError(`map ${this.name}: key has ${key.byteLength} bytes, the map's keys have ${this.keySize}`);
  }

  #checkValue(value: Uint8Array): void {
    if (value.byteLength !== this.lookupSize) {
      throw new RangeError(`map ${this.name}: value has ${value.byteLength} bytes, the map expects ${this.lookupSize}`);
    }
  }

  /** The value for key (per-CPU maps: all CPUs' slots back to back), or undefined. */
  lookup(key: Uint8Array): Buffer | undefined {
    this.#checkKey(key);
    return nativeCall(() => nativeAddon().mapLookup(this.fd, key, this.lookupSize)) ?? undefined;
  }

  /** Per-CPU maps: one Buffer of valueSize per CPU. */
  lookupPerCpu(key: Uint8Array): Buffer[] | undefined {
    const all = this.lookup(key);
    return all ? this.splitPerCpu(all) : undefined;
  }

  splitPerCpu(all: Buffer): Buffer[] {
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: Buffer[] = [];
    for (let off = 0; off + this.valueSize <= all.length; off += stride) out.push(all.subarray(off, off + this.valueSize));
    return out;
  }

  update(key: Uint8Array, value: Uint8Array, mode: UpdateMode = "any"): void {
    this.#checkKey(key);
    this.#checkValue(value);
    nativeCall(() => nativeAddon().mapUpdate(this.fd, key, value, UPDATE_FLAGS[mode]));
  }

  /** Returns false when the key was not there. */
  delete(key: Uint8Array): boolean {
    this.#checkKey(key);
    return nativeCall(() => nativeAddon().mapDelete(this.fd, key));
  }

  /** Keys in map order (a concurrent writer may make it skip or repeat keys, as in the kernel). */
  *keys(): Generator<Buffer> {
    let key: Buffer | null = null;
    for (;;) {
      const prev: Buffer | null = key;
      key = nativeCall(() => nativeAddon().mapNextKey(this.fd, prev, this.keySize));
      if (!key) return;
      yield key;
    }
  }

  /** Every entry, with one batch syscall per chunk where the map type supports it. */
  entries(): Array<[Buffer, Buffer]> {
    const d = nativeCall(() => nativeAddon().mapDump(this.fd, this.keySize, this.lookupSize, this.maxEntries));
    const out: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < d.count; i++) {
      out.push([d.keys.subarray(i * this.keySize, (i + 1) * this.keySize), d.values.subarray(i * this.lookupSize, (i + 1) * this.lookupSize)]);
    }
    return out;
  }

  /**
   * Write many entries in one BPF_MAP_UPDATE_BATCH (per-element inside the addon for map
   * types without batch support). Returns the number written.
   */
  updateBatch(entries: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, mode: UpdateMode = "any"): number {
    if (entries.length === 0) return 0;
    const keys = Buffer.alloc(entries.length * this.keySize);
    const values = Buffer.alloc(entries.length * this.lookupSize);
    entries.forEach(([k, v], i) => {
      this.#checkKey(k);
      this.#checkValue(v);
      keys.set(k, i * this.keySize);
      values.set(v, i * this.lookupSize);
    });
    return this.updateBatchRaw(keys, values, entries.length, mode);
  }

  /** updateBatch with keys and values already packed back to back. */
  updateBatchRaw(keys: Buffer, values: Buffer, count: number, mode: UpdateMode = "any"): number {
    if (keys.length !== count * this.keySize || values.length !== count * this.lookupSize) {
      throw new RangeError(`map ${this.name}: packed batch sizes do not match ${count} entries`);
    }
    return nativeCall(() => nativeAddon().mapUpdateBatch(this.fd, keys, values, count, UPDATE_FLAGS[mode]));
  }

  /** Delete many keys; absent keys are skipped. Returns the number deleted. */
  deleteBatch(keys: readonly Uint8Array[]): number {
    if (keys.length === 0) return 0;
    const packed = Buffer.alloc(keys.length * this.keySize);
    keys.forEach((k, i) => {
      this.#checkKey(k);
      packed.set(k, i * this.keySize);
    });
    return nativeCall(() => nativeAddon().mapDeleteBatch(this.fd, packed, keys.length));
  }

  /** Delete every entry. */
  clear(): number {
    return this.deleteBatch([...this.keys()]);
  }

  /** Pin at a bpffs path (the file must not exist). */
  pin(path: string): void {
    nativeCall(() => nativeAddon().objPin(this.fd, path));
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    nativeCall(() => nativeAddon().closeFd(fd));
  }
}

/** Remove a pin from bpffs; false when nothing was pinned there. The map lives on while used. */
export function unpin(path: string): boolean {
  return nativeCall(() => nativeAddon().unpin(path));
}

/** Whether path is on a bpf filesystem. */
export function isBpffs(path: string): boolean {
  return nativeCall(() => nativeAddon().isBpffs(path));
}

/** Mount a bpf filesystem on an existing directory (tests; the agent uses /sys/fs/bpf). */
export function mountBpffs(path: string): void {
  nativeCall(() => nativeAddon().mountBpffs(path));
}

export function unmountBpffs(path: string): void {
  nativeCall(() => nativeAddon().unmountBpffs(path));
}

function checkCodec(map: BpfMap, what: string, codec: Codec<unknown>, size: number): void {
  if (codec.size !== size) throw new TypeError(`map ${map.name}: ${what} codec ${codec.cName} has ${codec.size} bytes, the map has ${size}`);
}

/** A map viewed through codecs: keys and values are typed objects. */
export class TypedMap<K, V> {
  constructor(
    readonly map: BpfMap,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {
    if (map.perCpu) throw new TypeError(`map ${map.name} is per-CPU: use PerCpuTypedMap`);
    checkCodec(map, "key", keyCodec as Codec<unknown>, map.keySize);
    checkCodec(map, "value", valueCodec as Codec<unknown>, map.valueSize);
  }

  get(key: K): V | undefined {
    const v = this.map.lookup(this.keyCodec.encode(key));
    return v ? this.valueCodec.decode(v) : undefined;
  }

  set(key: K, value: V, mode: UpdateMode = "any"): void {
    this.map.update(this.keyCodec.encode(key), this.valueCodec.encode(value), mode);
  }

  delete(key: K): boolean {
    return this.map.delete(this.keyCodec.encode(key));
  }

  entries(): Array<[K, V]> {
    return this.map.entries().map(([k, v]) => [this.keyCodec.decode(k), this.valueCodec.decode(v)]);
  }

  /** Batch write; encodes straight into the packed buffers. Returns the number written. */
  setMany(entries: ReadonlyArray<readonly [K, V]>, mode: UpdateMode = "any"): number {
    const ks = this.keyCodec.size;
    const vs = this.valueCodec.size;
    const keys = Buffer.alloc(entries.length * ks);
    const values = Buffer.alloc(entries.length * vs);
    entries.forEach(([k, v], i) => {
      this.keyCodec.encodeInto(k, keys, i * ks);
      this.valueCodec.encodeInto(v, values, i * vs);
    });
    return entries.length ? this.map.updateBatchRaw(keys, values, entries.length, mode) : 0;
  }

  deleteMany(keys: readonly K[]): number {
    return this.map.deleteBatch(keys.map((k) => this.keyCodec.encode(k)));
  }

  clear(): number {
    return this.map.clear();
  }
}

/** A per-CPU map viewed through codecs: each value comes back as one object per CPU. */
export class PerCpuTypedMap<K, V> {
  constructor(
    readonly map: BpfMap,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {
    if (!map.perCpu) throw new TypeError(`map ${map.name} is not per-CPU: use TypedMap`);
    checkCodec(map, "key", keyCodec as Codec<unknown>, map.keySize);
    checkCodec(map, "value", valueCodec as Codec<unknown>, map.valueSize);
  }

  get(key: K): V[] | undefined {
    const slots = this.map.lookupPerCpu(this.keyCodec.encode(key));
    return slots?.map((s) => this.valueCodec.decode(s));
  }

  entries(): Array<[K, V[]]> {
    return this.map.entries().map(([k, v]) => [this.keyCodec.decode(k), this.map.splitPerCpu(v).map((s) => this.valueCodec.decode(s))]);
  }

  /** Write the same value on every CPU (typically zero, to reset a counter). */
  setAll(key: K, value: V): void {
    const stride = Math.ceil(this.map.valueSize / 8) * 8;
    const buf = Buffer.alloc(this.map.lookupSize);
    for (let off = 0; off < buf.length; off += stride) this.valueCodec.encodeInto(value, buf, off);
    this.map.update(this.keyCodec.encode(key), buf);
  }
}
