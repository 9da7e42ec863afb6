// Struct layouts from an object's BTF, read from the ELF file (no privileges needed).
import { nativeAddon, type BtfStruct } from "./addon.js";
import type { Codec } from "./codec.js";
import { nativeCall } from "./errors.js";

export function btfStructLayout(objectPath: string, structName: string): BtfStruct {
  return nativeCall(() => nativeAddon().btfStruct(objectPath, structName));
}

/**
 * Differences between a codec and the struct of the same name in an object's BTF (empty
 * when they agree): size, member order, and offset/size of every member. A codec member
 * may stand for an anonymous BTF member (e.g. __sk_buff's pointer unions) at the same place.
 */
export function codecLayoutMismatches(objectPath: string, codec: Codec<unknown>): string[] {
  const s = btfStructLayout(objectPath, codec.cName);
  const out: string[] = [];
  if (s.size !== codec.size) out.push(`${codec.cName}: size ${codec.size} in the codec, ${s.size} in BTF`);
  if (s.members.length !== codec.fields.length) {
    out.push(`${codec.cName}: ${codec.fields.length} members in the codec, ${s.members.length} in BTF`);
  }
  const n = Math.min(s.members.length, codec.fields.length);
  for (let i = 0; i < n; i++) {
    const b = s.members[i];
    const c = codec.fields[i];
    if (!b || !c) continue;
    const nameOk = b.name === c.name || b.name === "";
    if (!nameOk || b.offset !== c.offset || b.size !== c.size) {
      out.push(`${codec.cName}: member #${i} codec ${c.name}@${c.offset}+${c.size}, BTF ${b.name || "(anonymous)"}@${b.offset}+${b.size}`);
    }
  }
  return out;
}
