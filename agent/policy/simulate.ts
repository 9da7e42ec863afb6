/**
 * simulateLookup mirrors the `cf_policy_v1` lookup of bpf/endpoint.c (bpf/README.md), so the
 * engine's output can be tested by verdict rather than by entry shape. Audit semantics it pins
 * down (the BPF must match):
 *  - the first deny in probe order decides; without the AUDIT flag it drops (181);
 *  - an AUDIT deny forwards as AUDIT (181) when an allow is also hit or the direction is in
 *    audit mode; otherwise the packet was going to be dropped by default deny anyway (133);
 *  - a miss drops (133) in mode 1 and is forwarded as AUDIT (133) in mode 2.
 * The engine guarantees an AUDIT deny never precedes an enforcing deny the same packet hits.
 */
import type { Direction, L7Redirect, PolicyEntry, PolicyKey, PolicyState } from "./types.js";
import { DIRECTION_CODE, ENDPOINT_MODE, POLICY_ACTION, POLICY_FLAG, policyKeyString } from "./types.js";

export const DROP_REASON = { policyDenied: 133, policyDeny: 181 } as const;

/** Hubble's policy_match_type, by the probe that supplied the verdict. */
export const POLICY_MATCH_TYPE = { none: 0, l3Only: 1, l3l4: 2, l4Only: 3, all: 4, l3Proto: 5, protoOnly: 6 } as const;
const PROBE_MATCH_TYPES = [
  POLICY_MATCH_TYPE.l3l4,
  POLICY_MATCH_TYPE.l3Proto,
  POLICY_MATCH_TYPE.l3Only,
  POLICY_MATCH_TYPE.l4Only,
  POLICY_MATCH_TYPE.protoOnly,
  POLICY_MATCH_TYPE.all,
] as const;

export type LookupVerdict = "FORWARDED" | "REDIRECTED" | "DROPPED" | "AUDIT";
export type LookupReason = "not-enforced" | "allowed" | "policy-deny" | "policy-denied";

export interface LookupResult {
  readonly verdict: LookupVerdict;
  /** 0 for default-deny drops and unenforced directions. */
  readonly ruleRef: number;
  readonly reason: LookupReason;
  /** 0, or the drop reason carried by DROPPED/AUDIT (133 POLICY_DENIED, 181 POLICY_DENY). */
  readonly dropReason: 0 | 133 | 181;
  readonly matchType: number;
  /** The entry that supplied the verdict, if any. */
  readonly entry: PolicyEntry | null;
  /** L7 redirect wanted for an allowed packet (proxyPort may still be 0). */
  readonly redirect: L7Redirect | null;
}

/** The six probe keys for a packet, most specific first. */
export function probeKeys(epId: number, direction: Direction, identity: number, proto: number, dport: number): PolicyKey[] {
  const d = DIRECTION_CODE[direction];
  return [
    { epId, direction: d, identity, proto, dport },
    { epId, direction: d, identity, proto, dport: 0 },
    { epId, direction: d, identity, proto: 0, dport: 0 },
    { epId, direction: d, identity: 0, proto, dport },
    { epId, direction: d, identity: 0, proto, dport: 0 },
    { epId, direction: d, identity: 0, proto: 0, dport: 0 },
  ];
}

/**
 * The verdict the datapath gives a packet of `proto`/`dport` (the ICMP type for ICMP) between
 * endpoint `epId` and a peer of identity `peerIdentity`, in `direction` of that endpoint.
 */
export function simulateLookup(state: PolicyState, epId: number, direction: Direction, peerIdentity: number, proto: number, dport: number): LookupResult {
  if (proto <= 0 || proto > 255) throw new RangeError(`simulateLookup: a packet has a protocol 1-255 (got ${proto})`);
  const ep = state.get(epId);
  const mode = ep ? (direction === "ingress" ? ep.ingressMode : ep.egressMode) : ENDPOINT_MODE.notEnforced;
  if (!ep || mode === ENDPOINT_MODE.notEnforced) {
    return { verdict: "FORWARDED", ruleRef: 0, reason: "not-enforced", dropReason: 0, matchType: POLICY_MATCH_TYPE.none, entry: null, redirect: null };
  }
  let deny: { entry: PolicyEntry; probe: number } | null = null;
  let allow: { entry: PolicyEntry; probe: number } | null = null;
  probeKeys(epId, direction, peerIdentity, proto, dport).forEach((key, probe) => {
    const entry = ep.entries.get(policyKeyString(key));
    if (!entry) return;
    if (entry.value.action === POLICY_ACTION.deny) deny ??= { entry, probe };
    else allow ??= { entry, probe };
  });
  const auditMode = mode === ENDPOINT_MODE.audit;
  const d = deny as { entry: PolicyEntry; probe: number } | null;
  const a = allow as { entry: PolicyEntry; probe: number } | null;
  if (d) {
    const matchType = PROBE_MATCH_TYPES[d.probe] as number;
    const audited = (d.entry.value.flags & POLICY_FLAG.audit) !== 0;
    if (!audited) return { verdict: "DROPPED", ruleRef: d.entry.value.ruleRef, reason: "policy-deny", dropReason: DROP_REASON.policyDeny, matchType, entry: d.entry, redirect: null };
    if (a || auditMode) return { verdict: "AUDIT", ruleRef: d.entry.value.ruleRef, reason: "policy-deny", dropReason: DROP_REASON.policyDeny, matchType, entry: d.entry, redirect: null };
    return { verdict: "DROPPED", ruleRef: 0, reason: "policy-denied", dropReason: DROP_REASON.policyDenied, matchType: POLICY_MATCH_TYPE.none, entry: null, redirect: null };
  }
  if (a) {
    return {
      verdict: a.entry.value.proxyPort !== 0 ? "REDIRECTED" : "FORWARDED",
      ruleRef: a.entry.value.ruleRef,
      reason: "allowed",
      dropReason: 0,
      matchType: PROBE_MATCH_TYPES[a.probe] as number,
      entry: a.entry,
      redirect: a.entry.redirect,
    };
  }
  return {
    verdict: auditMode ? "AUDIT" : "DROPPED",
    ruleRef: 0,
    reason: "policy-denied",
    dropReason: DROP_REASON.policyDenied,
    matchType: POLICY_MATCH_TYPE.none,
    entry: null,
    redirect: null,
  };
}
