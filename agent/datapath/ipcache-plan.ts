/**
 * Pure half of the ipcache writer: desired prefix → identity entries, normalised to the keys
 * the LPM trie holds, and the writes that take the map's content there.
 */
import { z } from "zod";
import { IpcacheFlag } from "../../native/abi.js";
import { ipcacheKey, type CfIpcacheKey, type CfIpcacheValue } from "../../native/codecs.js";

export const ipcacheEntrySchema = z.object({
  /** "10.244.1.0/24", "2001:db8::/64" or a bare address (= host prefix). */
  cidr: z.string().min(1),
  identity: z.number().int().min(0).max(0xffffffff),
  /** Underlay IPv4 of the node hosting the prefix; omitted/"0.0.0.0" when local or not a pod. */
  tunnelEndpoint: z.ipv4().optional(),
  /** The prefix is on this node (IpcacheFlag.local). */
  local: z.boolean().optional(),
});
export type IpcacheEntry = z.input<typeof ipcacheEntrySchema>;

export interface IpcacheMapEntry {
  readonly key: CfIpcacheKey;
  readonly value: CfIpcacheValue;
}

export function ipcacheKeyString(key: CfIpcacheKey): string {
  return `${key.family === 6 ? 6 : 4}|${key.addr}/${key.prefixlen}`;
}

/**
 * Desired entries keyed like the map. Two entries for one prefix (after host bits are
 * cleared) with different values are an error: which identity wins would be arbitrary.
 */
export function normalizeIpcache(desired: Iterable<IpcacheEntry>): Map<string, IpcacheMapEntry> {
  const out = new Map<string, IpcacheMapEntry>();
  let i = 0;
  for (const raw of desired) {
    const parsed = ipcacheEntrySchema.safeParse(raw);
    if (!parsed.success) throw new TypeError(`ipcache entry [${i}] (${JSON.stringify(raw)}): ${parsed.error.issues.map((x) => `${x.path.join(".") || "entry"}: ${x.message}`).join("; ")}`);
    const e = parsed.data;
    let key: CfIpcacheKey;
    try {
      key = ipcacheKey(e.cidr);
    } catch (err) {
      throw new TypeError(`ipcache entry [${i}] field cidr: ${err instanceof Error ? err.message : String(err)}`);
    }
    const value: CfIpcacheValue = { identity: e.identity, tunnelEndpoint: e.tunnelEndpoint ?? "0.0.0.0", flags: e.local ? IpcacheFlag.local : 0 };
    const k = ipcacheKeyString(key);
    const prev = out.get(k);
    if (prev && !sameIpcacheValue(prev.value, value)) {
      throw new TypeError(`ipcache entry [${i}] field cidr: ${e.cidr} is already mapped to identity ${prev.value.identity} with a different value`);
    }
    out.set(k, { key, value });
    i++;
  }
  return out;
}

export function sameIpcacheValue(a: CfIpcacheValue, b: CfIpcacheValue): boolean {
  return a.identity === b.identity && a.tunnelEndpoint === b.tunnelEndpoint && a.flags === b.flags;
}

export interface IpcacheWritePlan {
  readonly upserts: readonly IpcacheMapEntry[];
  readonly deletes: readonly IpcacheMapEntry[];
}

export function planIpcacheWrites(realized: ReadonlyMap<string, IpcacheMapEntry>, desired: ReadonlyMap<string, IpcacheMapEntry>): IpcacheWritePlan {
  const upserts: IpcacheMapEntry[] = [];
  const deletes: IpcacheMapEntry[] = [];
  for (const [k, e] of desired) {
    const cur = realized.get(k);
    if (!cur || !sameIpcacheValue(cur.value, e.value)) upserts.push(e);
  }
  for (const [k, e] of realized) if (!desired.has(k)) deletes.push(e);
  return { upserts, deletes };
}
