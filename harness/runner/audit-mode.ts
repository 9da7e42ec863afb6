// `conform run --audit`: every policy the run applies carries the agent's per-policy audit
// annotation, so the agents load it in audit mode (would-be drops are forwarded and logged as
// AUDIT). The user's manifests on disk are never changed; only the copy sent to the API server.
import { AUDIT_MODE_ANNOTATION } from "../../agent/policy/index.js";
import type { KubeObject } from "../spec/manifests.js";
import { POLICY_KINDS } from "./requirements.js";

export { AUDIT_MODE_ANNOTATION };

/** A copy of `object` with the audit annotation when it is a network policy; anything else as is. */
export function withAuditMode(object: KubeObject): KubeObject {
  if (!POLICY_KINDS.includes(object.kind)) return object;
  const annotations = { ...((object.metadata.annotations as Record<string, string> | undefined) ?? {}), [AUDIT_MODE_ANNOTATION]: "true" };
  return { ...object, metadata: { ...object.metadata, annotations } };
}

/** The objects to apply, in audit mode when the run asks for it. */
export function forRunMode<T extends { object: KubeObject }>(items: readonly T[], audit: boolean): T[] {
  return audit ? items.map((item) => ({ ...item, object: withAuditMode(item.object) })) : [...items];
}
