/**
 * Label selectors over identity label sets.
 *
 * Key sources (decision, documented in agent/identity/README.md): a selector key may name a
 * source (`k8s:app`, `reserved:host`, `cidr:…`); `any:app` and a bare `app` match a label
 * with that key from any source, as Cilium's sanitiser turns bare keys into `any:`.
 * Callers that must force a source (NetworkPolicy forces `k8s:`) pass `forceSource`.
 */
import { z } from "zod";
import type { Labels } from "./labels.js";
import { LABEL_SOURCES, indexLabels, parseLabelKey } from "./labels.js";

export const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
export type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

export const LabelSelectorRequirementSchema = z.object({
  key: z.string().min(1),
  operator: z.enum(SELECTOR_OPERATORS),
  values: z.array(z.string()).optional(),
});

/** A Kubernetes `metav1.LabelSelector` as written in a manifest. */
export const LabelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(LabelSelectorRequirementSchema).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

export interface Requirement {
  /** A label source, or `any`. */
  readonly source: string;
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted, deduplicated; empty for Exists/DoesNotExist. */
  readonly values: readonly string[];
}

/** A compiled selector: requirements ANDed. No requirement = selects everything. */
export interface Selector {
  readonly requirements: readonly Requirement[];
}

export interface SelectorProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Compiles a LabelSelector. Problems (In without values, Exists with values) are returned,
 * not thrown, so the policy parser can report them with the field path.
 */
export function compileSelector(
  selector: LabelSelector | undefined,
  options: { forceSource?: string; keyPrefix?: string } = {},
): { selector: Selector; problems: SelectorProblem[] } {
  const requirements: Requirement[] = [];
  const problems: SelectorProblem[] = [];
  const toKey = (raw: string): { source: string; key: string } => {
    if (options.forceSource !== undefined) return { source: options.forceSource, key: (options.keyPrefix ?? "") + raw };
    const parsed = parseLabelKey(raw, LABEL_SOURCES.any);
    return { source: parsed.source, key: (options.keyPrefix ?? "") + parsed.key };
  };
  for (const [rawKey, value] of Object.entries(selector?.matchLabels ?? {})) {
    requirements.push({ ...toKey(rawKey), operator: "In", values: [value] });
  }
  (selector?.matchExpressions ?? []).forEach((expr, i) => {
    const values = [...new Set(expr.values ?? [])].sort();
    if ((expr.operator === "In" || expr.operator === "NotIn") && values.length === 0) {
      problems.push({ path: `matchExpressions[${i}].values`, message: `operator ${expr.operator} needs at least one value` });
    }
    if ((expr.operator === "Exists" || expr.operator === "DoesNotExist") && values.length > 0) {
      problems.push({ path: `matchExpressions[${i}].values`, message: `operator ${expr.operator} takes no values` });
    }
    requirements.push({ ...toKey(expr.key), operator: expr.operator, values });
  });
  return { selector: normalizeSelector({ requirements }), problems };
}

/** Sorts requirements so equal selectors compare (and cache) equal. */
export function normalizeSelector(selector: Selector): Selector {
  const seen = new Map<string, Requirement>();
  for (const r of selector.requirements) seen.set(requirementString(r), r);
  return { requirements: [...seen.keys()].sort().map((k) => seen.get(k) as Requirement) };
}

export function requirementString(r: Requirement): string {
  return `${r.source}:${r.key} ${r.operator} (${r.values.join(",")})`;
}

/** Stable textual form, used as a cache key and in messages. `{}` for the empty selector. */
export function selectorString(selector: Selector): string {
  if (selector.requirements.length === 0) return "{}";
  return `{${selector.requirements.map(requirementString).join("; ")}}`;
}

export function isEmptySelector(selector: Selector): boolean {
  return selector.requirements.length === 0;
}

export function andSelectors(...selectors: Selector[]): Selector {
  return normalizeSelector({ requirements: selectors.flatMap((s) => s.requirements) });
}

export function requirement(source: string, key: string, operator: SelectorOperator, values: string[] = []): Requirement {
  return { source, key, operator, values: [...new Set(values)].sort() };
}

/** Whether the selector names `key` (under one of `sources`, `any` always counts). */
export function selectorNamesKey(selector: Selector, key: string, sources: readonly string[]): boolean {
  return selector.requirements.some(
    (r) => r.key === key && (r.source === LABEL_SOURCES.any || sources.includes(r.source)),
  );
}

export function selectorHasKeyPrefix(selector: Selector, prefix: string, sources: readonly string[]): boolean {
  return selector.requirements.some(
    (r) => r.key.startsWith(prefix) && (r.source === LABEL_SOURCES.any || sources.includes(r.source)),
  );
}

export function selectorUsesSource(selector: Selector, source: string): boolean {
  return selector.requirements.some((r) => r.source === source);
}

/**
 * Kubernetes semantics: requirements are ANDed; NotIn and DoesNotExist also match a label set
 * lacking the key. A requirement with source `any` looks at the key under every source.
 */
export function matchesSelector(selector: Selector, labels: Labels): boolean {
  if (selector.requirements.length === 0) return true;
  const index = indexLabels(labels);
  for (const r of selector.requirements) {
    const candidates = index.get(r.key);
    const values: string[] = [];
    if (candidates) {
      for (const [source, value] of candidates) {
        if (r.source === LABEL_SOURCES.any || r.source === source) values.push(value);
      }
    }
    switch (r.operator) {
      case "Exists":
        if (values.length === 0) return false;
        break;
      case "DoesNotExist":
        if (values.length > 0) return false;
        break;
      case "In":
        if (!values.some((v) => r.values.includes(v))) return false;
        break;
      case "NotIn":
        if (values.some((v) => r.values.includes(v))) return false;
        break;
    }
  }
  return true;
}
