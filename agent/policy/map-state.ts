/**
 * Building one endpoint direction's map entries from rule contributions, and the fix-ups that
 * make the six-probe BPF lookup (bpf/README.md) give the intended verdict.
 */
import type { DirectionCode, L7Redirect, L7Spec, PolicyEntry, PolicyKey, PolicyValue } from "./types.js";
import { POLICY_ACTION, POLICY_FLAG, policyKeyString } from "./types.js";

/** Contributions to one (identity, proto, dport) of one endpoint direction. */
export interface Contribution {
  readonly identity: number;
  readonly proto: number;
  readonly dport: number;
  allowRefs: number[];
  denyRefs: number[];
  /** Deny refs from policies not in audit mode. */
  enforcingDenyRefs: number[];
  /** An allow without L7 rules covers this exact key. */
  plainAllow: boolean;
  l7: Array<{ ruleRef: number; l7: L7Spec }>;
}

export function tupleKey(identity: number, proto: number, dport: number): string {
  return `${identity}/${proto}/${dport}`;
}

export function newContribution(identity: number, proto: number, dport: number): Contribution {
  return { identity, proto, dport, allowRefs: [], denyRefs: [], enforcingDenyRefs: [], plainAllow: false, l7: [] };
}

function pushOnce(list: number[], ref: number): void {
  if (list[list.length - 1] !== ref && !list.includes(ref)) list.push(ref);
}

export function contributeAllow(c: Contribution, ref: number, l7: L7Spec | null): void {
  pushOnce(c.allowRefs, ref);
  if (l7 === null) c.plainAllow = true;
  else if (!c.l7.some((x) => x.ruleRef === ref && x.l7 === l7)) c.l7.push({ ruleRef: ref, l7 });
}

export function contributeDeny(c: Contribution, ref: number, audit: boolean): void {
  pushOnce(c.denyRefs, ref);
  if (!audit) pushOnce(c.enforcingDenyRefs, ref);
}

export interface FinalizeProblem {
  readonly ruleRef: number;
  readonly message: string;
}

/**
 * Merges contributions into map entries. Deny beats allow on a key; an enforcing deny beats an
 * audit deny. Of several allows the first rule (deterministic policy order) supplies rule_ref
 * and every one is kept in `origins` for Hubble's *_allowed_by.
 */
export function finalizeContribution(epId: number, direction: DirectionCode, c: Contribution, problems: FinalizeProblem[]): PolicyEntry {
  const key: PolicyKey = { epId, identity: c.identity, dport: c.dport, proto: c.proto, direction };
  if (c.denyRefs.length > 0) {
    const enforcing = c.enforcingDenyRefs.length > 0;
    const refs = enforcing ? c.enforcingDenyRefs : c.denyRefs;
    return {
      key,
      value: { action: POLICY_ACTION.deny, flags: enforcing ? 0 : POLICY_FLAG.audit, proxyPort: 0, ruleRef: refs[0] as number },
      origins: [...refs],
      redirect: null,
    };
  }
  let redirect: L7Redirect | null = null;
  if (c.l7.length > 0) {
    const parser = (c.l7[0] as { l7: L7Spec }).l7.parser;
    const conflicting = c.l7.filter((x) => x.l7.parser !== parser);
    for (const x of conflicting) {
      problems.push({ ruleRef: x.ruleRef, message: `${x.l7.parser} rules conflict with ${parser} rules on the same port and peer; the ${x.l7.parser} rules are ignored there` });
    }
    redirect = { parser, allowAll: c.plainAllow, rules: c.l7.filter((x) => x.l7.parser === parser) };
  }
  return {
    key,
    value: { action: POLICY_ACTION.allow, flags: 0, proxyPort: 0, ruleRef: c.allowRefs[0] as number },
    origins: [...c.allowRefs],
    redirect,
  };
}

/** The keys a packet hitting `key` also probes after it, in BPF lookup order. */
export function lessSpecificKeys(key: PolicyKey): PolicyKey[] {
  const { epId, direction, identity, proto, dport } = key;
  const probe = (i: number, p: number, d: number): PolicyKey => ({ epId, direction, identity: i, proto: p, dport: d });
  const all = [probe(identity, proto, dport), probe(identity, proto, 0), probe(identity, 0, 0), probe(0, proto, dport), probe(0, proto, 0), probe(0, 0, 0)];
  const seen = new Set<string>([policyKeyString(key)]);
  return all.filter((k) => {
    const s = policyKeyString(k);
    if (seen.has(s) || (k.proto === 0 && k.dport !== 0)) return false;
    seen.add(s);
    return covers(k, key);
  });
}

/** Whether every packet matching `inner` also matches `outer`. */
export function covers(outer: PolicyKey, inner: PolicyKey): boolean {
  return (
    (outer.identity === 0 || outer.identity === inner.identity) &&
    (outer.proto === 0 || outer.proto === inner.proto) &&
    (outer.dport === 0 || outer.dport === inner.dport)
  );
}

/** The most specific key matched by every packet that matches both, or null if none does. */
export function meetKeys(a: PolicyKey, b: PolicyKey): PolicyKey | null {
  const pick = (x: number, y: number): number | null => (x === 0 ? y : y === 0 ? x : x === y ? x : null);
  const identity = pick(a.identity, b.identity);
  const proto = pick(a.proto, b.proto);
  const dport = pick(a.dport, b.dport);
  if (identity === null || proto === null || dport === null) return null;
  return { epId: a.epId, direction: a.direction, identity, proto, dport };
}

/** L7 redirects become allow-all when a plain allow also covers the packet (union semantics, §7.5). */
export function widenRedirects(entries: Map<string, PolicyEntry>): void {
  for (const [k, e] of entries) {
    if (!e.redirect || e.redirect.allowAll) continue;
    const widened = lessSpecificKeys(e.key).some((key) => {
      const other = entries.get(policyKeyString(key));
      return other !== undefined && other.value.action === POLICY_ACTION.allow && other.redirect === null;
    });
    if (widened) entries.set(k, { ...e, redirect: { ...e.redirect, allowAll: true } });
  }
}

/**
 * The BPF takes flags from the first deny in probe order. An audit deny must therefore never
 * come before an enforcing deny that the same packet also hits: for every such pair the meet
 * key gets the enforcing deny, which then comes first (the probe order refines specificity).
 */
export function shadowAuditDenies(entries: Map<string, PolicyEntry>): void {
  const audit: PolicyEntry[] = [];
  const enforcingByIdentity = new Map<number, PolicyEntry[]>();
  for (const e of entries.values()) {
    if (e.value.action !== POLICY_ACTION.deny) continue;
    if (e.value.flags & POLICY_FLAG.audit) audit.push(e);
    else {
      const list = enforcingByIdentity.get(e.key.identity);
      if (list) list.push(e);
      else enforcingByIdentity.set(e.key.identity, [e]);
    }
  }
  if (audit.length === 0 || enforcingByIdentity.size === 0) return;
  for (const a of audit) {
    const candidates = a.key.identity === 0 ? [...enforcingByIdentity.values()].flat() : [...(enforcingByIdentity.get(a.key.identity) ?? []), ...(enforcingByIdentity.get(0) ?? [])];
    for (const b of candidates) {
      const meet = meetKeys(a.key, b.key);
      if (!meet) continue;
      const k = policyKeyString(meet);
      const existing = entries.get(k);
      if (existing && existing.value.action === POLICY_ACTION.deny && !(existing.value.flags & POLICY_FLAG.audit)) continue;
      const value: PolicyValue = { ...b.value };
      entries.set(k, { key: meet, value, origins: [...b.origins], redirect: null });
    }
  }
}
