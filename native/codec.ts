// Fixed-layout codecs between kernel structs (Buffers) and typed objects. A struct codec is
// declared as its C members in order; offsets follow C's natural alignment and are checked
// against the BPF object's BTF by native/codecs.test.ts, so a change on either side fails.
import { bytesToIp, ipToBytes, type IpFamily } from "./ip.js";

export interface CodecField {
  /** C member name. */
  name: string;
  offset: number;
  size: number;
}

export interface Codec<T> {
  /** C type name as BTF names it (struct name without `struct`, or a scalar like `__u32`). */
  readonly cName: string;
  readonly size: number;
  /** C members in order (empty for scalars). */
  readonly fields: readonly CodecField[];
  encode(value: T): Buffer;
  encodeInto(value: T, buf: Buffer, offset: number): void;
  decode(buf: Uint8Array, offset?: number): T;
}

/**
 * Member types. Integers are host byte order (little-endian here) unless `be`.
 * `ipv4` is a be32 address as text; `addr16` 16 bytes holding an IPv4 (first 4 bytes) or
 * IPv6 address as text, the family coming from the struct (see `familyOf`).
 */
export type FieldType = "u8" | "u16" | "u32" | "u64" | "be16" | "be32" | "ipv4" | "addr16";

const SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4, ipv4: 4, addr16: 16 };
const ALIGN: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, be16: 2, be32: 4, ipv4: 4, addr16: 4 };

/** A member. Without `key` it is padding: written as zeros, not decoded. */
export interface FieldDef<T> {
  c: string;
  type: FieldType;
  key?: keyof T & string;
  /** Array length (padding only, e.g. `__u8 pad[3]`). */
  count?: number;
}

export interface StructOptions<T> {
  /** Family of the struct's addr16 members, from the other (already decoded) members. */
  familyOf?: (v: Partial<T>) => IpFamily;
}

const LE = new Uint16Array(new Uint8Array([1, 0]).buffer)[0] === 1;
if (!LE) throw new Error("conform's codecs assume a little-endian host");

type Obj = Record<string, unknown>;

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function asNumber(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer, got ${String(v)}`);
  return v;
}

function checkRange(v: number, max: number, what: string): number {
  if (v < 0 || v > max) throw new RangeError(`${what} must be within 0..${max}, got ${v}`);
  return v;
}

/** Build a codec for a C struct from its members in declaration order. */
export function structCodec<T extends object>(cName: string, defs: readonly FieldDef<T>[], opts: StructOptions<T> = {}): Codec<T> {
  const fields: CodecField[] = [];
  const plan: Array<{ def: FieldDef<T>; offset: number; size: number }> = [];
  let off = 0;
  let maxAlign = 1;
  for (const def of defs) {
    const align = ALIGN[def.type];
    const size = SIZE[def.type] * (def.count ?? 1);
    off = Math.ceil(off / align) * align;
    maxAlign = Math.max(maxAlign, align);
    fields.push({ name: def.c, offset: off, size });
    plan.push({ def, offset: off, size });
    off += size;
  }
  const size = Math.ceil(off / maxAlign) * maxAlign;
  const familyOf = opts.familyOf;

  const encodeInto = (value: T, buf: Buffer, base: number): void => {
    buf.fill(0, base, base + size);
    const v = value as Obj;
    const dv = view(buf);
    for (const { def, offset } of plan) {
      if (!def.key) continue;
      const at = base + offset;
      const raw = v[def.key];
      const what = `${cName}.${def.key}`;
      switch (def.type) {
        case "u8":
          dv.setUint8(at, checkRange(asNumber(raw, what), 0xff, what));
          break;
        case "u16":
          dv.setUint16(at, checkRange(asNumber(raw, what), 0xffff, what), true);
          break;
        case "u32":
          dv.setUint32(at, checkRange(asNumber(raw, what), 0xffffffff, what), true);
          break;
        case "be16":
          dv.setUint16(at, checkRange(asNumber(raw, what), 0xffff, what), false);
          break;
        case "be32":
          dv.setUint32(at, checkRange(asNumber(raw, what), 0xffffffff, what), false);
          break;
        case "u64":
          if (typeof raw !== "bigint") throw new TypeError(`${what} must be a bigint`);
          dv.setBigUint64(at, raw, true);
          break;
        case "ipv4": {
          const { family, bytes } = ipToBytes(String(raw));
          if (family !== 4) throw new TypeError(`${what} must be an IPv4 address, got "${String(raw)}"`);
          bytes.copy(buf, at);
          break;
        }
        case "addr16": {
          const { family, bytes } = ipToBytes(String(raw));
          const want = familyOf ? familyOf(value) : family;
          if (family !== want) throw new TypeError(`${what} "${String(raw)}" is not an IPv${want} address`);
          bytes.copy(buf, at);
          break;
        }
      }
    }
  };

  const decode = (buf: Uint8Array, base = 0): T => {
    if (buf.byteLength - base < size) throw new RangeError(`${cName}: need ${size} bytes at offset ${base}, have ${buf.byteLength - base}`);
    const dv = view(buf);
    const out: Obj = {};
    let addrs: Array<{ key: string; at: number }> | undefined;
    for (const { def, offset } of plan) {
      if (!def.key) continue;
      const at = base + offset;
      switch (def.type) {
        case "u8":
          out[def.key] = dv.getUint8(at);
          break;
        case "u16":
          out[def.key] = dv.getUint16(at, true);
          break;
        case "u32":
          out[def.key] = dv.getUint32(at, true);
          break;
        case "be16":
          out[def.key] = dv.getUint16(at, false);
          break;
        case "be32":
          out[def.key] = dv.getUint32(at, false);
          break;
        case "u64":
          out[def.key] = dv.getBigUint64(at, true);
          break;
        case "ipv4":
          out[def.key] = bytesToIp(buf, 4, at);
          break;
        case "addr16":
          (addrs ??= []).push({ key: def.key, at });
          break;
      }
    }
    if (addrs) {
      const family = familyOf ? familyOf(out as Partial<T>) : 4;
      for (const { key, at } of addrs) out[key] = bytesToIp(buf, family, at);
    }
    return out as T;
  };

  return {
    cName,
    size,
    fields,
    encodeInto,
    encode(value: T): Buffer {
      const buf = Buffer.alloc(size);
      encodeInto(value, buf, 0);
      return buf;
    },
    decode,
  };
}

/** Codec of a bare `__u32` (map keys such as an ifindex or an array index). */
export const u32Codec: Codec<number> = {
  cName: "__u32",
  size: 4,
  fields: [],
  encodeInto(value, buf, offset) {
    buf.writeUInt32LE(checkRange(asNumber(value, "__u32"), 0xffffffff, "__u32"), offset);
  },
  encode(value) {
    const b = Buffer.alloc(4);
    this.encodeInto(value, b, 0);
    return b;
  },
  decode(buf, offset = 0) {
    return view(buf).getUint32(offset, true);
  },
};
