/**
 * diffPolicyStates: what the datapath writer must change to go from one compiled state to the
 * next. Apply in this order so no packet sees a half-written policy that is looser than both
 * states: (1) upserts, (2) endpoint modes, (3) deletes. During (1) old and new entries coexist;
 * deny wins, so the overlap can only be stricter, never looser.
 */
import { compareKeys } from "./compile.js";
import type { EndpointMode, PolicyEntry, PolicyKey, PolicyState } from "./types.js";
import { policyKeyString } from "./types.js";

export interface ModeChange {
  readonly epId: number;
  readonly ingressMode: EndpointMode;
  readonly egressMode: EndpointMode;
}

export interface PolicyDiff {
  /** New entries and entries whose BPF value changed. */
  readonly upserts: readonly PolicyEntry[];
  readonly deletes: readonly PolicyKey[];
  /** Endpoints (present in `next`) whose modes are new or changed. */
  readonly modes: readonly ModeChange[];
  /** Endpoints present before and gone now (their entries are in `deletes`). */
  readonly removedEndpoints: readonly number[];
}

function sameValue(a: PolicyEntry, b: PolicyEntry): boolean {
  return (
    a.value.action === b.value.action &&
    a.value.flags === b.value.flags &&
    a.value.proxyPort === b.value.proxyPort &&
    a.value.ruleRef === b.value.ruleRef
  );
}

export function diffPolicyStates(previous: PolicyState | undefined, next: PolicyState): PolicyDiff {
  const upserts: PolicyEntry[] = [];
  const deletes: PolicyEntry[] = [];
  const modes: ModeChange[] = [];
  const removedEndpoints: number[] = [];
  for (const [epId, ep] of next) {
    const before = previous?.get(epId);
    if (!before || before.ingressMode !== ep.ingressMode || before.egressMode !== ep.egressMode) {
      modes.push({ epId, ingressMode: ep.ingressMode, egressMode: ep.egressMode });
    }
    for (const [k, e] of ep.entries) {
      const old = before?.entries.get(k);
      if (!old || !sameValue(old, e)) upserts.push(e);
    }
    if (before) for (const [k, e] of before.entries) if (!ep.entries.has(k)) deletes.push(e);
  }
  for (const [epId, before] of previous ?? []) {
    if (next.has(epId)) continue;
    removedEndpoints.push(epId);
    deletes.push(...before.entries.values());
  }
  upserts.sort(compareKeys);
  deletes.sort(compareKeys);
  modes.sort((a, b) => a.epId - b.epId);
  removedEndpoints.sort((a, b) => a - b);
  return { upserts, deletes: deletes.map((e) => e.key), modes, removedEndpoints };
}

/** Convenience for writers keyed by string. */
export function diffKeyStrings(diff: PolicyDiff): { upserts: string[]; deletes: string[] } {
  return { upserts: diff.upserts.map((e) => policyKeyString(e.key)), deletes: diff.deletes.map(policyKeyString) };
}
