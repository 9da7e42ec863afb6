// BPF object files: open, configure (globals, map sizes, pinning), load, and hand out
// programs and maps. The object owns every descriptor it hands out; close() releases them.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { nativeAddon, type ObjectHandle, type RawGlobal } from "./addon.js";
import { BpfMap } from "./bpf-map.js";
import { BpfError, NotSupportedError, nativeCall, toBpfError } from "./errors.js";
import { MAP_TYPE_NAMES } from "./kernel.js";

export type GlobalValue = number | bigint | boolean | Uint8Array;

/** Versioned, shared maps: what survives a restart and what other programs and tools open. */
const ABI_MAP_NAME = /^cf_[a-z0-9_]+_v\d+$/;

export interface LoadOptions {
  /**
   * A bpffs directory for the maps selected by `pinMaps`. A map already pinned there is
   * reused when compatible (same type, sizes, flags), so state survives an agent restart;
   * otherwise it is created and pinned. An incompatible pin fails the load.
   */
  pinDir?: string;
  /**
   * Maps to pin under pinDir: names or a predicate. Default: the ABI maps, named `cf_<what>_v<N>`
   * (bpf/README.md); private per-object maps such as `cf_ctx_scratch` are never pinned.
   */
  pinMaps?: readonly string[] | ((name: string) => boolean);
  /** Values for `const volatile` globals (numbers are sized by the variable, little-endian). */
  globals?: Readonly<Record<string, GlobalValue>>;
  /** max_entries overrides, by map name. */
  maxEntries?: Readonly<Record<string, number>>;
}

export interface BpfProgram {
  readonly name: string;
  readonly section: string;
  /** enum bpf_prog_type */
  readonly type: number;
  /** enum bpf_attach_type libbpf derived from the section (cgroup programs). */
  readonly expectedAttachType: number;
  /** Owned by the object: valid until the object is closed. */
  readonly fd: number;
  readonly id: number;
  readonly tag: string;
}

export interface PinnedMap {
  name: string;
  path: string;
  /** True when an existing pin was reused rather than created by this load. */
  reused: boolean;
}

function encodeGlobal(g: RawGlobal, value: GlobalValue, path: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  const buf = Buffer.alloc(g.size);
  const n = typeof value === "boolean" ? (value ? 1 : 0) : value;
  const what = `global '${g.name}' of ${path}`;
  if (typeof n === "bigint") {
    if (g.size !== 8) throw new TypeError(`${what} has ${g.size} bytes; pass a number, not a bigint`);
    buf.writeBigUInt64LE(n);
    return buf;
  }
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`${what} must be a non-negative integer, got ${n}`);
  switch (g.size) {
    case 1:
      buf.writeUInt8(n);
      break;
    case 2:
      buf.writeUInt16LE(n);
      break;
    case 4:
      buf.writeUInt32LE(n);
      break;
    case 8:
      buf.writeBigUInt64LE(BigInt(n));
      break;
    default:
      throw new TypeError(`${what} has ${g.size} bytes; pass its bytes as a Uint8Array`);
  }
  return buf;
}

export class BpfObject {
  readonly path: string;
  readonly pinnedMaps: readonly PinnedMap[];
  #handle: ObjectHandle | undefined;
  readonly #programs = new Map<string, BpfProgram>();
  readonly #maps = new Map<string, BpfMap>();

  private constructor(path: string, handle: ObjectHandle, pinned: PinnedMap[]) {
    this.path = path;
    this.#handle = handle;
    this.pinnedMaps = pinned;
    const addon = nativeAddon();
    for (const p of addon.objectPrograms(handle)) {
      const info = nativeCall(() => addon.progInfo(p.fd));
      this.#programs.set(p.name, { ...p, id: info.id, tag: info.tag });
    }
  }

  /** Open, configure and load an object file. Verifier rejections throw VerifierError. */
  static load(path: string, opts: LoadOptions = {}): BpfObject {
    const addon = nativeAddon();
    if (!existsSync(path)) throw new BpfError(`load ${path}: no such file (run \`make -C bpf\`)`, "ENOENT", 2, "load", "");
    const handle = nativeCall(() => addon.objectOpen(path));
    try {
      const globals = nativeCall(() => addon.objectGlobals(handle));
      for (const [name, value] of Object.entries(opts.globals ?? {})) {
        const g = globals.find((x) => x.name === name);
        if (!g) throw new TypeError(`${path} has no global '${name}' (known: ${globals.map((x) => x.name).join(", ")})`);
        nativeCall(() => addon.objectSetGlobal(handle, name, encodeGlobal(g, value, path)));
      }
      for (const [name, n] of Object.entries(opts.maxEntries ?? {})) nativeCall(() => addon.objectSetMaxEntries(handle, name, n));
      const pinned: PinnedMap[] = [];
      if (opts.pinDir) {
        const select = opts.pinMaps ?? ((n: string) => ABI_MAP_NAME.test(n));
        const wanted = typeof select === "function" ? select : (n: string) => select.includes(n);
        for (const m of addon.objectMaps(handle)) {
          if (m.internal || !wanted(m.name)) continue;
          const pinPath = join(opts.pinDir, m.name);
          pinned.push({ name: m.name, path: pinPath, reused: existsSync(pinPath) });
          nativeCall(() => addon.objectSetPinPath(handle, m.name, pinPath));
        }
      }
      try {
        addon.objectLoad(handle);
      } catch (e) {
        throw BpfObject.#explainLoadFailure(handle, toBpfError(e));
      }
      return new BpfObject(path, handle, pinned);
    } catch (e) {
      addon.objectClose(handle);
      throw e;
    }
  }

  /** A failed load on an old kernel usually means a missing map or program type: say which. */
  static #explainLoadFailure(handle: ObjectHandle, err: unknown): unknown {
    if (!(err instanceof BpfError) || err instanceof NotSupportedError || err.name === "VerifierError") return err;
    const addon = nativeAddon();
    for (const m of addon.objectMaps(handle)) {
      if (!m.internal && !addon.probeMapType(m.type)) {
        const feature = `map type ${MAP_TYPE_NAMES[m.type] ?? m.type} (map ${m.name})`;
        return new NotSupportedError(`${err.message} (${feature} is not supported by this kernel)`, err.code, err.errno, err.op, err.libbpfLog, feature);
      }
    }
    for (const p of addon.objectPrograms(handle)) {
      if (!addon.probeProgType(p.type)) {
        const feature = `program type ${p.type} (program ${p.name})`;
        return new NotSupportedError(`${err.message} (${feature} is not supported by this kernel)`, err.code, err.errno, err.op, err.libbpfLog, feature);
      }
    }
    return err;
  }

  get #h(): ObjectHandle {
    if (!this.#handle) throw new Error(`BPF object ${this.path} is closed`);
    return this.#handle;
  }

  programNames(): string[] {
    return [...this.#programs.keys()];
  }

  program(name: string): BpfProgram {
    if (!this.#handle) throw new Error(`BPF object ${this.path} is closed`);
    const p = this.#programs.get(name);
    if (!p) throw new Error(`${this.path} has no program '${name}' (has: ${this.programNames().join(", ")})`);
    return p;
  }

  mapNames(): string[] {
    return nativeAddon()
      .objectMaps(this.#h)
      .map((m) => m.name);
  }

  /** The map by name; owned by the object (closed with it). */
  map(name: string): BpfMap {
    let m = this.#maps.get(name);
    if (!m) {
      const desc = nativeAddon()
        .objectMaps(this.#h)
        .find((d) => d.name === name);
      if (!desc) throw new Error(`${this.path} has no map '${name}' (has: ${this.mapNames().join(", ")})`);
      m = BpfMap.fromFd(desc.fd);
      this.#maps.set(name, m);
    }
    return m;
  }

  /**
   * Release programs and maps. Attached programs stay attached (tc and cgroups hold their
   * own references) and pinned maps stay pinned.
   */
  close(): void {
    if (!this.#handle) return;
    for (const m of this.#maps.values()) m.close();
    this.#maps.clear();
    nativeAddon().objectClose(this.#handle);
    this.#handle = undefined;
  }
}
