/** Public API of the pure policy engine; see README.md beside this file. */
export * from "./types.js";
export { parsePolicy, policyRefOf, isPolicyKind, AUDIT_MODE_ANNOTATION } from "./parse-policy.js";
export type { ParseResult } from "./parse-policy.js";
export { compilePolicies } from "./compile.js";
export type { CompileInput, CompileResult, CompileStats } from "./compile.js";
export { diffPolicyStates, diffKeyStrings } from "./diff.js";
export type { PolicyDiff, ModeChange } from "./diff.js";
export { simulateLookup, probeKeys, DROP_REASON, POLICY_MATCH_TYPE } from "./simulate.js";
export type { LookupResult, LookupVerdict, LookupReason } from "./simulate.js";
export { applyPolicyEvent } from "./policy-store.js";
export type { PolicyStore, PolicyEvent, PolicyEventResult } from "./policy-store.js";
export { collectCidrPrefixes, collectFqdnSelectors } from "./references.js";
export { SYNTHESIZED_RULE_REF, allocateRuleRefs } from "./rule-refs.js";
export { fqdnSelectorMatches, normalizeFqdnSelector } from "./fqdn.js";
export { ENTITIES, isEntity } from "./entities.js";
