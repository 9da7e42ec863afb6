/**
 * What the agent API serves besides flows. The agent main implements AgentStatusProvider over
 * its live state; the schemas define the JSON each route returns (camelCase: these are
 * conform's own objects, unlike the Hubble-shaped flows).
 */
import { z } from "zod";

export const ENFORCEMENT_MODES = ["none", "enforce", "audit"] as const;

export const AgentStatusSchema = z.looseObject({
  nodeName: z.string(),
  version: z.string(),
  /** The agent watches the API server, the datapath is loaded and endpoints can be served. */
  ready: z.boolean(),
  /** Highest policy revision the agent has computed (it increases on every policy change). */
  policyRevision: z.number().int().nonnegative(),
  /** The agent's process id (as the host sees it: local agents share the host's PID namespace), for RSS and profiling. */
  pid: z.number().int().positive().optional(),
  message: z.string().optional(),
});
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const EndpointStatusSchema = z.looseObject({
  id: z.number().int(),
  namespace: z.string(),
  podName: z.string(),
  identity: z.number().int(),
  ipv4: z.string().optional(),
  ipv6: z.string().optional(),
  /** Identity labels, `source:key=value`. */
  labels: z.array(z.string()),
  ingressEnforcement: z.enum(ENFORCEMENT_MODES),
  egressEnforcement: z.enum(ENFORCEMENT_MODES),
  /** Policy revision written to the datapath for this endpoint. */
  policyRevision: z.number().int().nonnegative(),
});
export type EndpointStatus = z.infer<typeof EndpointStatusSchema>;

export const IdentityStatusSchema = z.looseObject({ id: z.number().int(), labels: z.array(z.string()) });
export type IdentityStatus = z.infer<typeof IdentityStatusSchema>;

const PolicyRefSchema = z.looseObject({ kind: z.string(), namespace: z.string(), name: z.string() });

export const PolicyStatusSchema = z.looseObject({
  revision: z.number().int().nonnegative(),
  /**
   * The last compile that reached the datapath: its revision and the policies it read
   * (`Kind/namespace/name` → resourceVersion). A waiter that knows which resourceVersion it wrote
   * knows the revision that enforces it, without watching the revision settle.
   */
  realized: z.strictObject({ revision: z.number().int().nonnegative(), policies: z.record(z.string(), z.string()) }).optional(),
  policies: z.array(PolicyRefSchema.extend({ uid: z.string().optional(), problems: z.array(z.string()).optional() })),
  endpoints: z.array(
    z.looseObject({
      id: z.number().int(),
      namespace: z.string(),
      podName: z.string(),
      /** Revision the datapath has realized for this endpoint. */
      realizedRevision: z.number().int().nonnegative(),
      ingress: z.looseObject({ mode: z.enum(ENFORCEMENT_MODES), defaultDenyBy: z.array(PolicyRefSchema) }),
      egress: z.looseObject({ mode: z.enum(ENFORCEMENT_MODES), defaultDenyBy: z.array(PolicyRefSchema) }),
      entries: z.number().int().nonnegative().optional(),
    }),
  ),
});
export type PolicyStatus = z.infer<typeof PolicyStatusSchema>;

type MaybePromise<T> = T | Promise<T>;

export interface AgentStatusProvider {
  status(): MaybePromise<AgentStatus>;
  endpoints(): MaybePromise<EndpointStatus[]>;
  identities(): MaybePromise<IdentityStatus[]>;
  policy(): MaybePromise<PolicyStatus>;
}

/** `/v1/status?revision=R`: has every endpoint (and the agent) realized revision R? */
export interface RevisionCheck {
  revision: number;
  realized: boolean;
  /** Endpoints still below R. */
  pending: Array<{ id: number; namespace: string; podName: string; realizedRevision: number }>;
}

export function checkRevision(status: AgentStatus, policy: PolicyStatus, revision: number): RevisionCheck {
  const pending = policy.endpoints
    .filter((e) => e.realizedRevision < revision)
    .map((e) => ({ id: e.id, namespace: e.namespace, podName: e.podName, realizedRevision: e.realizedRevision }));
  // With no endpoints the agent's own revision decides: R must at least have been computed.
  return { revision, realized: pending.length === 0 && status.policyRevision >= revision, pending };
}
