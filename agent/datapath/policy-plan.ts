/**
 * Pure half of the policy writer: the desired `cf_policy_v1` content per endpoint (from a
 * compiled PolicyState or patched by a PolicyDiff), what the map holds (a mirror), and the
 * writes that take one to the other. No kernel here, so every decision is unit-tested.
 */
import { Direction, EndpointFlag, EnforcementMode, PolicyAction } from "../../native/abi.js";
import { policyKeyCodec, type CfPolicyKey, type CfPolicyValue } from "../../native/codecs.js";
import type { PolicyDiff, PolicyKey, PolicyState } from "../policy/index.js";
import { compareStrings, policyKeyString } from "../policy/index.js";

/** One `cf_policy_v1` entry with the key as the codec takes it (dport as a host number). */
export interface PolicyMapEntry {
  readonly key: CfPolicyKey;
  readonly value: CfPolicyValue;
}

export interface DesiredEndpointPolicy {
  ingressMode: number;
  egressMode: number;
  /** keyed by policyKeyString */
  readonly entries: Map<string, PolicyMapEntry>;
}

/** epId → what the map should hold for it. */
export type DesiredPolicy = Map<number, DesiredEndpointPolicy>;
/** epId → what the map holds for it (keyed by policyKeyString). */
export type RealizedPolicy = Map<number, Map<string, PolicyMapEntry>>;

export const POLICY_DIRECTIONS = [Direction.ingress, Direction.egress] as const;

export function entryKeyString(key: CfPolicyKey): string {
  return policyKeyString(key as PolicyKey);
}

/**
 * The map key of an engine key. The engine keeps `dport` in host order; the codec writes the
 * be16 field, so this is the single place where the byte order is decided.
 */
export function toMapKey(key: PolicyKey): CfPolicyKey {
  return { epId: key.epId, identity: key.identity, dport: key.dport, proto: key.proto, direction: key.direction };
}

/** The key's bytes as the kernel sees them (dport in network order). */
export function encodePolicyKey(key: PolicyKey): Buffer {
  return policyKeyCodec.encode(toMapKey(key));
}

function toMapEntry(e: { key: PolicyKey; value: CfPolicyValue }): PolicyMapEntry {
  const v = e.value;
  return { key: toMapKey(e.key), value: { action: v.action, flags: v.flags, proxyPort: v.proxyPort, ruleRef: v.ruleRef } };
}

export function desiredFromState(state: PolicyState): DesiredPolicy {
  const out: DesiredPolicy = new Map();
  for (const [epId, ep] of state) {
    const entries = new Map<string, PolicyMapEntry>();
    for (const e of ep.entries.values()) {
      const m = toMapEntry(e);
      entries.set(entryKeyString(m.key), m);
    }
    out.set(epId, { ingressMode: ep.ingressMode, egressMode: ep.egressMode, entries });
  }
  return out;
}

function desiredOf(desired: DesiredPolicy, epId: number): DesiredEndpointPolicy {
  let d = desired.get(epId);
  if (!d) {
    d = { ingressMode: EnforcementMode.none, egressMode: EnforcementMode.none, entries: new Map() };
    desired.set(epId, d);
  }
  return d;
}

/** Apply a diff to the desired state in place; returns the endpoints it touched. */
export function patchDesired(desired: DesiredPolicy, diff: PolicyDiff): Set<number> {
  const touched = new Set<number>();
  for (const e of diff.upserts) {
    const m = toMapEntry(e);
    desiredOf(desired, m.key.epId).entries.set(entryKeyString(m.key), m);
    touched.add(m.key.epId);
  }
  for (const k of diff.deletes) {
    desired.get(k.epId)?.entries.delete(policyKeyString(k));
    touched.add(k.epId);
  }
  for (const m of diff.modes) {
    const d = desiredOf(desired, m.epId);
    d.ingressMode = m.ingressMode;
    d.egressMode = m.egressMode;
    touched.add(m.epId);
  }
  for (const epId of diff.removedEndpoints) {
    desired.delete(epId);
    touched.add(epId);
  }
  return touched;
}

/** Upserts of one endpoint and direction: written as one batch so a full map is attributable. */
export interface PolicyWriteGroup {
  readonly epId: number;
  readonly direction: Direction;
  /** Denies first: if the map fills mid-batch, what got in is stricter, not looser. */
  readonly entries: readonly PolicyMapEntry[];
}

export interface PolicyWritePlan {
  readonly upserts: readonly PolicyWriteGroup[];
  readonly deletes: readonly PolicyMapEntry[];
  /** Desired modes of every planned endpoint (absent from the desired state = not enforced). */
  readonly modes: ReadonlyArray<{ readonly epId: number; readonly ingressMode: number; readonly egressMode: number }>;
}

function sameValue(a: CfPolicyValue, b: CfPolicyValue): boolean {
  return a.action === b.action && a.flags === b.flags && a.proxyPort === b.proxyPort && a.ruleRef === b.ruleRef;
}

/** Writes that turn `realized` into `desired` for the given endpoints (sorted, deterministic). */
export function planPolicyWrites(realized: RealizedPolicy, desired: DesiredPolicy, epIds: Iterable<number>): PolicyWritePlan {
  const upserts: PolicyWriteGroup[] = [];
  const deletes: PolicyMapEntry[] = [];
  const modes: Array<{ epId: number; ingressMode: number; egressMode: number }> = [];
  for (const epId of [...new Set(epIds)].sort((a, b) => a - b)) {
    const want = desired.get(epId);
    const have = realized.get(epId);
    const groups: [PolicyMapEntry[], PolicyMapEntry[]] = [[], []];
    for (const [k, e] of want?.entries ?? []) {
      const cur = have?.get(k);
      if (!cur || !sameValue(cur.value, e.value)) groups[e.key.direction === Direction.egress ? 1 : 0].push(e);
    }
    for (const direction of POLICY_DIRECTIONS) {
      const list = groups[direction];
      if (list.length === 0) continue;
      list.sort((a, b) => (b.value.action === PolicyAction.deny ? 1 : 0) - (a.value.action === PolicyAction.deny ? 1 : 0) || compareStrings(entryKeyString(a.key), entryKeyString(b.key)));
      upserts.push({ epId, direction, entries: list });
    }
    for (const [k, e] of have ?? []) if (!want?.entries.has(k)) deletes.push(e);
    modes.push({ epId, ingressMode: want?.ingressMode ?? EnforcementMode.none, egressMode: want?.egressMode ?? EnforcementMode.none });
  }
  return { upserts, deletes, modes };
}

export function noDenyBit(direction: Direction): number {
  return direction === Direction.ingress ? EndpointFlag.noDenyIngress : EndpointFlag.noDenyEgress;
}

/**
 * The NO_DENY flag bits an endpoint may carry given the entries the map holds for it: a
 * direction's bit only when no deny entry (audited or not) exists in that direction.
 */
export function noDenyFlags(entries: Iterable<PolicyMapEntry>): number {
  let flags = EndpointFlag.noDenyIngress | EndpointFlag.noDenyEgress;
  for (const e of entries) if (e.value.action === PolicyAction.deny) flags &= ~noDenyBit(e.key.direction as Direction);
  return flags;
}

/** Directions (as NO_DENY bits) in which the groups write at least one deny. */
export function denyBitsOf(groups: readonly PolicyWriteGroup[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const g of groups) {
    if (g.entries.some((e) => e.value.action === PolicyAction.deny)) out.set(g.epId, (out.get(g.epId) ?? 0) | noDenyBit(g.direction));
  }
  return out;
}
