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

function asNumber(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw new TypeError(`${what} must be an integer, got ${String(v)}`);
  return v;
}

function checkRange(v: number, max: number, what: string): number {
  if (v < 0 || v > max) throw new RangeError(`${what} must be within 0..${max}, got ${v}`);
  return v;
}

/** Helpers the generated code calls; passed in, so the generated functions stay self-contained. */
const helpers = {
  num(v: unknown, max: number, what: string): number {
    return checkRange(asNumber(v, what), max, what);
  },
  big(v: unknown, what: string): bigint {
    if (typeof v !== "bigint") throw new TypeError(`${what} must be a bigint, got ${typeof v}`);
    return v;
  },
  addr(v: unknown, want: IpFamily | undefined, what: string): Buffer {
    const { family, bytes } = ipToBytes(String(v));
    if (want !== undefined && family !== want) throw new TypeError(`${what} "${String(v)}" is not an IPv${want} address`);
    return bytes;
  },
  ip: bytesToIp,
  asBuffer(b: Uint8Array): Buffer {
    return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  },
  short(name: string, size: number, base: number, have: number): never {
    throw new RangeError(`${name}: need ${size} bytes at offset ${base}, have ${have}`);
  },
};

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Keyed {
  key: string;
  type: FieldType;
  offset: number;
}

const READ: Record<FieldType, (at: string) => string> = {
  u8: (at) => `b[${at}]`,
  u16: (at) => `b.readUInt16LE(${at})`,
  u32: (at) => `b.readUInt32LE(${at})`,
  u64: (at) => `b.readBigUInt64LE(${at})`,
  be16: (at) => `b.readUInt16BE(${at})`,
  be32: (at) => `b.readUInt32BE(${at})`,
  ipv4: (at) => `h.ip(b, 4, ${at})`,
  // Filled once the family is known (it may come from a later member).
  addr16: () => `""`,
};

function writeStatement(cName: string, k: Keyed): string {
  const at = `o + ${k.offset}`;
  const what = JSON.stringify(`${cName}.${k.key}`);
  const x = `v.${k.key}`;
  switch (k.type) {
    case "u8":
      return `b[${at}] = h.num(${x}, 0xff, ${what});`;
    case "u16":
      return `b.writeUInt16LE(h.num(${x}, 0xffff, ${what}), ${at});`;
    case "u32":
      return `b.writeUInt32LE(h.num(${x}, 0xffffffff, ${what}), ${at});`;
    case "u64":
      return `b.writeBigUInt64LE(h.big(${x}, ${what}), ${at});`;
    case "be16":
      return `b.writeUInt16BE(h.num(${x}, 0xffff, ${what}), ${at});`;
    case "be32":
      return `b.writeUInt32BE(h.num(${x}, 0xffffffff, ${what}), ${at});`;
    case "ipv4":
      return `h.addr(${x}, 4, ${what}).copy(b, ${at});`;
    case "addr16":
      return `h.addr(${x}, familyOf ? familyOf(v) : undefined, ${what}).copy(b, ${at});`;
  }
}

/**
 * Build a codec for a C struct from its members in declaration order.
 *
 * Encoder and decoder are generated as straight-line code for the layout (from the constant
 * member list, never from input): events are decoded at up to a million per second, where
 * a generic loop over members cost several times more.
 */
export function structCodec<T extends object>(cName: string, defs: readonly FieldDef<T>[], opts: StructOptions<T> = {}): Codec<T> {
  const fields: CodecField[] = [];
  const keyed: Keyed[] = [];
  let off = 0;
  let maxAlign = 1;
  for (const def of defs) {
    const align = ALIGN[def.type];
    const size = SIZE[def.type] * (def.count ?? 1);
    off = Math.ceil(off / align) * align;
    maxAlign = Math.max(maxAlign, align);
    fields.push({ name: def.c, offset: off, size });
    if (def.key) {
      if (!IDENT.test(def.key)) throw new Error(`${cName}: field key '${def.key}' is not an identifier`);
      keyed.push({ key: def.key, type: def.type, offset: off });
    }
    off += size;
  }
  const size = Math.ceil(off / maxAlign) * maxAlign;
  const name = JSON.stringify(cName);
  const addrs = keyed.filter((k) => k.type === "addr16");

  const decodeSrc = [
    `b = h.asBuffer(b);`,
    `if (b.length - o < ${size}) h.short(${name}, ${size}, o, b.length - o);`,
    `const v = {${keyed.map((k) => `${k.key}: ${READ[k.type](`o + ${k.offset}`)}`).join(", ")}};`,
    ...(addrs.length ? [`const fam = familyOf ? familyOf(v) : 4;`] : []),
    ...addrs.map((k) => `v.${k.key} = h.ip(b, fam, o + ${k.offset});`),
    `return v;`,
  ].join("\n");
  const encodeSrc = [`b.fill(0, o, o + ${size});`, ...keyed.map((k) => writeStatement(cName, k))].join("\n");

  const decode = new Function("h", "familyOf", `return function decode(b, o = 0) {\n${decodeSrc}\n};`)(helpers, opts.familyOf) as (
    b: Uint8Array,
    o?: number,
  ) => T;
  const encodeInto = new Function("h", "familyOf", `return function encodeInto(v, b, o) {\n${encodeSrc}\n};`)(helpers, opts.familyOf) as (
    v: T,
    b: Buffer,
    o: number,
  ) => void;

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
    return helpers.asBuffer(buf).readUInt32LE(offset);
  },
};
