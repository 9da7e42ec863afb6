// Struct layouts from an object's BTF, read from the ELF file (no privileges needed).
import { nativeAddon, type BtfStruct } from "./addon.js";
import type { Codec } from "./codec.js";
import { nativeCall } from "./errors.js";

export function btfStructLayout(objectPath: string, structName: string): BtfStruct {
  return nativeCall(() => nativeAddon().btfStruct(objectPath, structName));
}

/**
 * Differences between a codec and the struct of the same name in an object's BTF (empty
 * when they agree): size, and name/offset/size of every named member, in order.
 */
export function codecLayoutMismatches(objectPath: string, codec: Codec<unknown>): string[] {
  const s = btfStructLayout(objectPath, codec.cName);
  const out: string[] = [];
  if (s.size !== codec.size) out.push(`${codec.cName}: size ${codec.size} in the codec, ${s.size} in BTF`);
  const btfMembers = s.members.filter((m) => m.name !== "");
  const n = Math.max(btfMembers.length, codec.fields.length);
  for (let i = 0; i < n; i++) {
    const b = btfMembers[i];
    const c = codec.fields[i];
    if (!b || !c) {
      out.push(`${codec.cName}: member #${i} is ${c ? `'${c.name}' in the codec only` : `'${b?.name}' in BTF only`}`);
      continue;
    }
    if (b.name !== c.name || b.offset !== c.offset || b.size !== c.size) {
      out.push(`${codec.cName}: member #${i} codec ${c.name}@${c.offset}+${c.size}, BTF ${b.name}@${b.offset}+${b.size}`);
    }
  }
  return out;
}
