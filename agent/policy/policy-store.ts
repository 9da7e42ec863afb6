/**
 * Keeping the last good form of every policy. A policy update that fails to parse must not
 * remove or change what that policy enforced before (policy-semantics.md §13: never half-apply,
 * and an invalid CNP is not imported). The watcher feeds every event through applyPolicyEvent
 * and compiles `store.values()`.
 */
import { parsePolicy, policyRefOf } from "./parse-policy.js";
import type { ParsedPolicy, PolicyProblem, PolicyRef } from "./types.js";
import { policyRefKey } from "./types.js";

export type PolicyStore = ReadonlyMap<string, ParsedPolicy>;

export type PolicyEvent = { readonly type: "upsert"; readonly object: unknown } | { readonly type: "delete"; readonly ref: PolicyRef };

export interface PolicyEventResult {
  readonly store: PolicyStore;
  readonly ref: PolicyRef;
  /** Errors (update rejected) and warnings (update applied). */
  readonly problems: readonly PolicyProblem[];
  /** "applied": new form in force; "rejected-kept-previous": invalid update, the last good form stays; "rejected-none": invalid and no previous form; "deleted". */
  readonly outcome: "applied" | "rejected-kept-previous" | "rejected-none" | "deleted";
}

export function applyPolicyEvent(store: PolicyStore, event: PolicyEvent): PolicyEventResult {
  if (event.type === "delete") {
    const next = new Map(store);
    next.delete(policyRefKey(event.ref));
    return { store: next, ref: event.ref, problems: [], outcome: "deleted" };
  }
  const ref = policyRefOf(event.object);
  const result = parsePolicy(event.object);
  if (result.ok) {
    const next = new Map(store);
    next.set(policyRefKey(ref), result.policy);
    return { store: next, ref, problems: result.problems, outcome: "applied" };
  }
  const kept = store.has(policyRefKey(ref));
  return { store, ref, problems: result.problems, outcome: kept ? "rejected-kept-previous" : "rejected-none" };
}
