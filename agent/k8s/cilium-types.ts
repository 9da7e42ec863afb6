/**
 * The cilium.io/v2 objects the agent reads and writes (CiliumIdentity, CiliumEndpoint), as zod
 * schemas with the TS types inferred from them. They describe what the agent relies on and keep
 * every other field (loose objects), so an object written by another tool round-trips intact.
 * The CRDs themselves (the API server's validation) live in agent/deploy/crds.
 */
import { z } from "zod";
import { ENDPOINT_POLICY_STATES, ENDPOINT_STATES, NAMED_PORT_PROTOCOLS } from "../deploy/crds/vocabulary.js";

export const CILIUM_GROUP = "cilium.io";
export const CILIUM_VERSION = "v2";
export const CILIUM_API_VERSION = `${CILIUM_GROUP}/${CILIUM_VERSION}`;

export const CILIUM_RESOURCES = {
  identity: { kind: "CiliumIdentity", plural: "ciliumidentities", namespaced: false },
  endpoint: { kind: "CiliumEndpoint", plural: "ciliumendpoints", namespaced: true },
} as const;

const objectMetaSchema = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  // The watch delivers raw JSON (a string); typed list calls may have turned it into a Date.
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

export const ciliumIdentitySchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMetaSchema,
  "security-labels": z.record(z.string(), z.string()),
});
export type CiliumIdentity = z.infer<typeof ciliumIdentitySchema>;

const policyDirectionSchema = z.looseObject({
  enforcing: z.boolean(),
  state: z.enum(ENDPOINT_POLICY_STATES).optional(),
});

export const ciliumEndpointStatusSchema = z.looseObject({
  id: z.number().int().nonnegative().optional(),
  identity: z.looseObject({ id: z.number().int().nonnegative().optional(), labels: z.array(z.string()).optional() }).optional(),
  networking: z
    .looseObject({
      addressing: z.array(z.looseObject({ ipv4: z.string().optional(), ipv6: z.string().optional() })),
      node: z.string().optional(),
    })
    .optional(),
  policy: z
    .looseObject({
      ingress: policyDirectionSchema.optional(),
      egress: policyDirectionSchema.optional(),
      revision: z.number().int().nonnegative().optional(),
    })
    .optional(),
  state: z.enum(ENDPOINT_STATES).optional(),
  "named-ports": z
    .array(z.looseObject({ name: z.string().optional(), port: z.number().int().optional(), protocol: z.enum(NAMED_PORT_PROTOCOLS).optional() }))
    .optional(),
  "external-identifiers": z.record(z.string(), z.string()).optional(),
  encryption: z.looseObject({ key: z.number().int().optional() }).optional(),
  "service-account": z.string().optional(),
});
export type CiliumEndpointStatus = z.infer<typeof ciliumEndpointStatusSchema>;

export const ciliumEndpointSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMetaSchema,
  status: ciliumEndpointStatusSchema.optional(),
});
export type CiliumEndpoint = z.infer<typeof ciliumEndpointSchema>;

/** The parsed object, or undefined with the first problem named (for logging a skipped object). */
export function parseWith<T>(schema: z.ZodType<T>, raw: unknown): { ok: true; value: T } | { ok: false; problem: string } {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return { ok: false, problem: `${issue?.path.join(".") || "(object)"}: ${issue?.message ?? "invalid"}` };
}
