/**
 * parsePolicy: a raw policy object (as read from the API or a manifest) → ParsedPolicy, or the
 * errors that keep it from being applied. Never half-applies: one invalid rule rejects the
 * whole object, as Cilium does (policy-semantics.md §13).
 */
import type { z } from "zod";
import { ProblemSink } from "./parse-common.js";
import { parseCnpRule } from "./parse-cnp.js";
import { parseKnp } from "./parse-knp.js";
import { CnpObjectSchema, KnpObjectSchema } from "./schemas.js";
import type { ParsedPolicy, ParsedRule, PolicyKind, PolicyProblem, PolicyRef } from "./types.js";
import { POLICY_KINDS } from "./types.js";

/**
 * Per-policy audit mode, a conform extension (upstream Cilium has only the agent-wide
 * `policy-audit-mode` and a per-endpoint switch; policy-semantics.md §10). Values: "true" or
 * "enabled" turn it on, "false"/"disabled" off (case-insensitive).
 */
export const AUDIT_MODE_ANNOTATION = "policy.conform.dev/audit-mode";

export type ParseResult =
  | { readonly ok: true; readonly policy: ParsedPolicy; readonly problems: readonly PolicyProblem[] }
  | { readonly ok: false; readonly ref: PolicyRef; readonly problems: readonly PolicyProblem[] };

export function isPolicyKind(kind: unknown): kind is PolicyKind {
  return typeof kind === "string" && (POLICY_KINDS as readonly string[]).includes(kind);
}

/** Identifies a raw object. Throws only when the object is not one of the three policy kinds. */
export function policyRefOf(raw: unknown): PolicyRef {
  const obj = (raw ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (!isPolicyKind(obj.kind)) {
    throw new TypeError(`not a network policy object: kind ${JSON.stringify(obj.kind)} (expected ${POLICY_KINDS.join(", ")})`);
  }
  const name = typeof obj.metadata?.name === "string" ? obj.metadata.name : "";
  const ns = typeof obj.metadata?.namespace === "string" ? obj.metadata.namespace : "";
  return { kind: obj.kind, namespace: obj.kind === "CiliumClusterwideNetworkPolicy" ? "" : ns || "default", name };
}

export function parsePolicy(raw: unknown): ParseResult {
  const ref = policyRefOf(raw);
  const sink = new ProblemSink(ref);
  if (ref.name === "") sink.error("metadata.name", "is required");

  const schema = ref.kind === "NetworkPolicy" ? KnpObjectSchema : CnpObjectSchema;
  const data = parseTolerant(sink, schema, raw);
  if (!data || sink.hasErrors) return { ok: false, ref, problems: sink.problems };

  const annotations = (data.metadata.annotations ?? {}) as Record<string, string>;
  const audit = parseAuditAnnotation(sink, annotations[AUDIT_MODE_ANNOTATION]);

  const rules: ParsedRule[] = [];
  if (data.kind === "NetworkPolicy") {
    const rule = parseKnp(sink, data, ref.namespace);
    if (rule) rules.push(rule);
  } else {
    const clusterwide = data.kind === "CiliumClusterwideNetworkPolicy";
    if (data.spec === undefined && (data.specs === undefined || data.specs.length === 0)) {
      sink.error("spec", "one of spec and specs is required");
    }
    if (data.spec) {
      const rule = parseCnpRule(sink, data.spec, "spec", clusterwide, ref.namespace);
      if (rule) rules.push(rule);
    }
    (data.specs ?? []).forEach((spec, i) => {
      const rule = parseCnpRule(sink, spec, `specs[${i}]`, clusterwide, ref.namespace);
      if (rule) rules.push(rule);
    });
  }
  if (sink.hasErrors) return { ok: false, ref, problems: sink.problems };
  const warnings = sink.problems;
  const policy: ParsedPolicy = {
    ref,
    ...(data.metadata.uid !== undefined ? { uid: data.metadata.uid } : {}),
    ...(data.metadata.resourceVersion !== undefined ? { resourceVersion: data.metadata.resourceVersion } : {}),
    audit,
    rules,
    warnings,
  };
  return { ok: true, policy, problems: warnings };
}

function parseAuditAnnotation(sink: ProblemSink, value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "enabled") return true;
  if (v === "false" || v === "disabled" || v === "") return false;
  sink.error(`metadata.annotations["${AUDIT_MODE_ANNOTATION}"]`, `must be "true" or "false" (got "${value}")`);
  return false;
}

export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** Fields that do not exist in deny rules; Cilium users sometimes write them anyway. */
function unknownKeyIsError(parentPath: readonly PropertyKey[], key: string): string | null {
  const inDeny = parentPath.some((s) => s === "ingressDeny" || s === "egressDeny");
  if (inDeny && key === "rules") return "L7 rules are not allowed in deny rules (deny toPorts has no rules field)";
  if (inDeny && key === "toFQDNs") return "toFQDNs is not allowed in egressDeny";
  return null;
}

/**
 * Strict parse that downgrades unknown fields to warnings: they are removed and the object is
 * parsed again, so a typo is visible without rejecting the policy. Unknown fields that would
 * change a deny rule's meaning are errors.
 */
function parseTolerant<S extends z.ZodType>(sink: ProblemSink, schema: S, raw: unknown): z.infer<S> | null {
  let value: unknown = raw;
  for (let attempt = 0; attempt < 8; attempt++) {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const unknown = r.error.issues.filter((i) => i.code === "unrecognized_keys");
    const others = r.error.issues.filter((i) => i.code !== "unrecognized_keys");
    for (const issue of others) sink.error(formatIssuePath(issue.path) || "(root)", issue.message);
    if (others.length > 0) return null;
    value = structuredClone(value);
    for (const issue of unknown) {
      let parent = value as Record<PropertyKey, unknown>;
      for (const seg of issue.path) parent = parent[seg] as Record<PropertyKey, unknown>;
      for (const key of (issue as { keys: string[] }).keys) {
        const at = formatIssuePath([...issue.path, key]);
        const fatal = unknownKeyIsError(issue.path, key);
        if (fatal) sink.error(at, fatal);
        else sink.warn(at, "unknown field, ignored");
        delete parent[key];
      }
    }
    if (sink.hasErrors) return null;
  }
  sink.error("(root)", "could not be parsed");
  return null;
}
