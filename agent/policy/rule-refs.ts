/**
 * rule_ref numbering. An id is derived from a hash of (kind, namespace, name, rule path), so
 * the same rule gets the same id across recompiles and agent restarts; the previous table, when
 * given, wins over the hash so a collision resolved once stays resolved the same way.
 */
import type { Direction, ParsedPolicy, RuleRefInfo, RuleRefTable } from "./types.js";
import { compareStrings } from "./types.js";

/** Ids 1–255 are reserved for synthesized entries (Cilium's "derived-from" allow rules). */
export const SYNTHESIZED_RULE_REF = {
  allowLocalhostIngress: 1,
  allowAnyIngress: 2,
  allowAnyEgress: 3,
} as const;
const FIRST_RULE_ID = 256;
const ID_SPACE = 0xffffffff - FIRST_RULE_ID;

function synthesized(id: number, name: string, direction: Direction): RuleRefInfo {
  return { id, kind: "Synthesized", namespace: "", name, direction, ruleIndex: -1, verdict: "allow", path: "", audit: false };
}

export const SYNTHESIZED_RULE_REFS: readonly RuleRefInfo[] = [
  synthesized(SYNTHESIZED_RULE_REF.allowLocalhostIngress, "allow-localhost-ingress", "ingress"),
  synthesized(SYNTHESIZED_RULE_REF.allowAnyIngress, "allow-any-ingress", "ingress"),
  synthesized(SYNTHESIZED_RULE_REF.allowAnyEgress, "allow-any-egress", "egress"),
];

export function ruleRefKey(info: Pick<RuleRefInfo, "kind" | "namespace" | "name" | "path">): string {
  return `${info.kind}|${info.namespace}|${info.name}|${info.path}`;
}

/** FNV-1a, 32 bit, over UTF-16 code units. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function hashedId(key: string): number {
  return FIRST_RULE_ID + (fnv1a(key) % ID_SPACE);
}

/** Every rule element of the policies, in a deterministic order. */
export function ruleRefInfos(policies: readonly ParsedPolicy[]): Array<Omit<RuleRefInfo, "id">> {
  const out: Array<Omit<RuleRefInfo, "id">> = [];
  for (const p of policies) {
    for (const rule of p.rules) {
      for (const el of rule.elements) {
        out.push({
          kind: p.ref.kind,
          namespace: p.ref.namespace,
          name: p.ref.name,
          ...(p.uid !== undefined ? { uid: p.uid } : {}),
          direction: el.direction,
          ruleIndex: el.ruleIndex,
          verdict: el.verdict,
          path: el.path,
          ...(el.log !== undefined ? { log: el.log } : {}),
          audit: p.audit,
        });
      }
    }
  }
  return out;
}

/**
 * Assigns ids to every rule element. Ids of rules present in `previous` are kept; new rules
 * take their hash id, probing upward past ids already in use.
 */
export function allocateRuleRefs(policies: readonly ParsedPolicy[], previous?: RuleRefTable): Map<number, RuleRefInfo> {
  const table = new Map<number, RuleRefInfo>();
  for (const s of SYNTHESIZED_RULE_REFS) table.set(s.id, s);
  const previousIds = new Map<string, number>();
  for (const info of previous?.values() ?? []) {
    if (info.kind !== "Synthesized") previousIds.set(ruleRefKey(info), info.id);
  }
  const pending: Array<Omit<RuleRefInfo, "id">> = [];
  const seenKeys = new Set<string>();
  for (const info of ruleRefInfos(policies)) {
    const key = ruleRefKey(info);
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    const prev = previousIds.get(key);
    if (prev !== undefined && !table.has(prev)) table.set(prev, { id: prev, ...info });
    else pending.push(info);
  }
  pending.sort((a, b) => compareStrings(ruleRefKey(a), ruleRefKey(b)));
  for (const info of pending) {
    let id = hashedId(ruleRefKey(info));
    while (table.has(id)) id = id >= 0xffffffff ? FIRST_RULE_ID : id + 1;
    table.set(id, { id, ...info });
  }
  return table;
}

/** Reverse lookup used by the compiler: rule key → id. */
export function ruleIdsByKey(table: RuleRefTable): Map<string, number> {
  const out = new Map<string, number>();
  for (const info of table.values()) if (info.kind !== "Synthesized") out.set(ruleRefKey(info), info.id);
  return out;
}
