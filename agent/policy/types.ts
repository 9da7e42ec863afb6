/**
 * Types shared by the policy engine: the normalised (parsed) policy form, the engine inputs,
 * and the desired per-endpoint map state it outputs. The map key/value shapes mirror
 * `cf_policy_v1` in bpf/README.md field for field.
 */
import { z } from "zod";
import type { Labels } from "../identity/labels.js";
import { LabelsSchema } from "../identity/labels.js";
import type { Selector } from "../identity/selector.js";

// ---------------------------------------------------------------------------------------------
// Policies and problems

export const POLICY_KINDS = ["NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

/** Which policy object. `namespace` is "" for CiliumClusterwideNetworkPolicy. */
export interface PolicyRef {
  readonly kind: PolicyKind;
  readonly namespace: string;
  readonly name: string;
}

export function policyRefKey(ref: PolicyRef): string {
  return ref.namespace === "" ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** Code-unit order (not locale order), so output is the same on every machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePolicyRefs(a: PolicyRef, b: PolicyRef): number {
  return compareStrings(a.kind, b.kind) || compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name);
}

export const SEVERITIES = ["error", "warning"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A validation or compilation finding. `path` is the field path inside the object (`spec.ingress[0].toPorts[1]`). */
export interface PolicyProblem {
  readonly policy: PolicyRef;
  readonly severity: Severity;
  readonly path: string;
  readonly message: string;
}

export const DIRECTIONS = ["ingress", "egress"] as const;
export type Direction = (typeof DIRECTIONS)[number];
/** `direction` field of `cf_policy_key`. */
export const DIRECTION_CODE = { ingress: 0, egress: 1 } as const;
export type DirectionCode = (typeof DIRECTION_CODE)[Direction];

export const VERDICTS = ["allow", "deny"] as const;
export type Verdict = (typeof VERDICTS)[number];

// ---------------------------------------------------------------------------------------------
// Normalised policy form (output of parsePolicy, input of compilePolicies). Plain data: the
// caller may keep it as the "last good" form of a policy.

/** IP protocol numbers as used in `cf_policy_key.proto`. */
export const PROTO = { any: 0, icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;

export type Peer =
  /** Every identity: the map's wildcard identity 0. */
  | { readonly kind: "any" }
  /**
   * Identities whose labels match. `localCluster`: add the local-cluster requirement at compile
   * time (policy-default-local-cluster) unless the selector names a cluster itself.
   */
  | { readonly kind: "selector"; readonly selector: Selector; readonly localCluster: boolean }
  /** Every identity labelled with the local cluster name (part of the `cluster` entity). */
  | { readonly kind: "local-cluster" }
  /** CIDR/CIDR-identity selection: identities whose `cidr:` prefix lies inside `prefix` and outside every `except`. */
  | { readonly kind: "cidr"; readonly prefix: string; readonly except: readonly string[] }
  /** FQDN identities labelled `fqdn:<selector>`. */
  | { readonly kind: "fqdn"; readonly selector: string };

export type PortSpec =
  | { readonly kind: "number"; readonly protocols: readonly number[]; readonly port: number; readonly endPort: number }
  | { readonly kind: "named"; readonly protocols: readonly number[]; readonly name: string };

export interface HttpRule {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly headers?: readonly string[];
  readonly headerMatches?: ReadonlyArray<{
    readonly name: string;
    readonly value?: string;
    readonly secret?: { readonly namespace?: string; readonly name: string };
    readonly mismatch?: "LOG" | "ADD" | "DELETE" | "REPLACE";
  }>;
}
export interface DnsRule {
  readonly matchName?: string;
  readonly matchPattern?: string;
}
export type L7Spec = { readonly parser: "http"; readonly http: readonly HttpRule[] } | { readonly parser: "dns"; readonly dns: readonly DnsRule[] };

export interface PortRuleSpec {
  readonly ports: readonly PortSpec[];
  readonly l7: L7Spec | null;
}
export interface IcmpSpec {
  readonly proto: 1 | 58;
  readonly type: number;
}
/** `null` = no L4 restriction (an L3-only rule: every protocol, ICMP included). */
export interface L4Spec {
  readonly portRules: readonly PortRuleSpec[];
  readonly icmps: readonly IcmpSpec[];
}

/** One element of ingress/ingressDeny/egress/egressDeny (or one KNP rule). */
export interface RuleElement {
  readonly direction: Direction;
  readonly verdict: Verdict;
  /** Whether this element switches its direction to default deny (enableDefaultDeny). */
  readonly defaultDeny: boolean;
  /** Field path, e.g. `specs[1].ingressDeny[0]`; for KNP isolation without rules, `spec.ingress`. */
  readonly path: string;
  /** Index inside its section, -1 for a KNP isolation-only element. */
  readonly ruleIndex: number;
  /** Empty = selects nothing (the element still enforces its direction). */
  readonly peers: readonly Peer[];
  readonly l4: L4Spec | null;
  /** CNP `spec.log.value`, for policy_log. */
  readonly log?: string;
}

export interface ParsedRule {
  /** Path of the rule inside the object (`spec`, `specs[2]`). */
  readonly path: string;
  /** Endpoint subject selector (namespace already injected for CNP/KNP). */
  readonly subject: Selector;
  /** True when the subject selects `reserved:init` (CCNP peers then get no namespace requirement). */
  readonly selectsInit: boolean;
  /**
   * A host policy (CCNP `nodeSelector`): `subject` is matched against the node's host endpoint
   * (`reserved:host` + the Node's labels as `k8s:`), never against pods. Absent = endpointSelector.
   */
  readonly host?: boolean;
  readonly elements: readonly RuleElement[];
}

export interface ParsedPolicy {
  readonly ref: PolicyRef;
  readonly uid?: string;
  readonly resourceVersion?: string;
  /** Per-policy audit mode (conform extension, annotation `policy.conform.dev/audit-mode`). */
  readonly audit: boolean;
  readonly rules: readonly ParsedRule[];
  /** Non-fatal findings from parsing (the policy is still applied). */
  readonly warnings: readonly PolicyProblem[];
}

// ---------------------------------------------------------------------------------------------
// Engine inputs

export const ENFORCEMENT_MODES = ["default", "always", "never"] as const;
export type EnforcementMode = (typeof ENFORCEMENT_MODES)[number];

export const EngineConfigSchema = z.object({
  /** Cilium `enable-policy`. */
  enforcementMode: z.enum(ENFORCEMENT_MODES).default("default"),
  /** Agent-wide audit mode (Cilium `policy-audit-mode`): every would-be drop is forwarded as AUDIT. */
  auditMode: z.boolean().default(false),
  /** Cilium `allow-localhost`: `always` (Kubernetes default) lets the node reach its pods under default deny. */
  allowLocalhost: z.enum(["always", "policy"]).default("always"),
  /** Local cluster name (`io.cilium.k8s.policy.cluster`). */
  clusterName: z.string().min(1).default("default"),
  /** Cilium `policy-default-local-cluster` (default on since 1.19). */
  policyDefaultLocalCluster: z.boolean().default(true),
  /** Cilium `enable-non-default-deny-policies`; false forces every entry to default deny. */
  enableNonDefaultDenyPolicies: z.boolean().default(true),
  /** Dual-stack cluster: world is split into world-ipv4 (9) and world-ipv6 (10). */
  dualStack: z.boolean().default(false),
});
export type EngineConfig = z.infer<typeof EngineConfigSchema>;
export type EngineConfigInput = z.input<typeof EngineConfigSchema>;

export const NAMED_PORT_PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;
export const NamedPortSchema = z.object({
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(NAMED_PORT_PROTOCOLS).default("TCP"),
});
export type NamedPort = z.infer<typeof NamedPortSchema>;

/**
 * The node's host endpoint (Cilium's host firewall): identity `reserved:host` (1), subject of
 * CCNP `nodeSelector` rules only. `nodeLabels` are the Node object's labels as Kubernetes writes
 * them (no source prefix); the engine matches them as `k8s:<key>`. `epId` lies outside the pod
 * range so it never collides with a pod endpoint (see HOST_ENDPOINT_ID).
 */
export const HostEndpointInputSchema = z.object({
  epId: z.number().int().min(1).max(0xffffffff),
  nodeName: z.string().default(""),
  nodeLabels: z.record(z.string(), z.string()).default({}),
});
export type HostEndpointInput = z.input<typeof HostEndpointInputSchema>;

/** The host endpoint's id in every BPF map: the first id above the pod range (1..65535). */
export const HOST_ENDPOINT_ID = 65536;

/** An endpoint (pod) on this node. `labels` is its identity label set (see identityLabels). */
export const EndpointInputSchema = z.object({
  epId: z.number().int().min(1).max(65535),
  namespace: z.string(),
  podName: z.string(),
  nodeName: z.string().default(""),
  identity: z.number().int().min(1),
  labels: LabelsSchema,
  /** Container port names → port (lower-case names; Kubernetes port names are IANA_SVC_NAMEs). */
  namedPorts: z.record(z.string(), NamedPortSchema).default({}),
});
export type EndpointInput = z.input<typeof EndpointInputSchema>;
export type Endpoint = z.infer<typeof EndpointInputSchema>;

/**
 * A known identity, cluster-wide. Reserved identities (1–8) need not be passed; passing one
 * replaces its default labels (e.g. host also labelled `reserved:kube-apiserver`). CIDR
 * identities (see collectCidrPrefixes) carry `cidr:<prefix>` + `reserved:world`.
 * `namedPorts` is the union of the named container ports of the pods having this identity; it
 * resolves named ports on egress (per destination).
 */
export const IdentityInputSchema = z.object({
  id: z.number().int().min(1).max(0xffffffff),
  labels: LabelsSchema,
  namedPorts: z.record(z.string(), z.array(NamedPortSchema)).optional(),
});
export type IdentityInput = z.input<typeof IdentityInputSchema>;

export interface KnownIdentity {
  readonly id: number;
  readonly labels: Labels;
  readonly namedPorts: Readonly<Record<string, readonly NamedPort[]>>;
}

// ---------------------------------------------------------------------------------------------
// Rule references

export const RULE_REF_KINDS = [...POLICY_KINDS, "Synthesized"] as const;
export type RuleRefKind = (typeof RULE_REF_KINDS)[number];

/** What a `rule_ref` number stands for. */
export interface RuleRefInfo {
  readonly id: number;
  readonly kind: RuleRefKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly direction: Direction;
  readonly ruleIndex: number;
  readonly verdict: Verdict;
  /** Field path of the rule element inside the policy object. */
  readonly path: string;
  readonly log?: string;
  readonly audit: boolean;
}

/** rule_ref id → info. Keep the previous table and pass it back in to keep ids stable. */
export type RuleRefTable = ReadonlyMap<number, RuleRefInfo>;

// ---------------------------------------------------------------------------------------------
// Output: desired map state

export const POLICY_ACTION = { allow: 1, deny: 2 } as const;
export type PolicyAction = (typeof POLICY_ACTION)[keyof typeof POLICY_ACTION];
/** `cf_policy_value.flags` bits. */
export const POLICY_FLAG = { audit: 1 } as const;

/** `cf_policy_key`. `identity` 0 = any peer; `proto` 0 = any protocol (then `dport` 0); `dport` 0 = any port; ICMP type in `dport`. */
export interface PolicyKey {
  readonly epId: number;
  readonly identity: number;
  readonly dport: number;
  readonly proto: number;
  readonly direction: DirectionCode;
}

/** `cf_policy_value`. */
export interface PolicyValue {
  readonly action: PolicyAction;
  readonly flags: number;
  /** 0 until the L7 proxy allocates a port for `redirect` (later issue). */
  readonly proxyPort: number;
  readonly ruleRef: number;
}

/** L7 handling wanted for an allow entry; the proxy (later) enforces it. */
export interface L7Redirect {
  readonly parser: "http" | "dns";
  /** True when an L3/L4 allow without L7 rules also covers this key: every request passes (visibility only). */
  readonly allowAll: boolean;
  readonly rules: ReadonlyArray<{ readonly ruleRef: number; readonly l7: L7Spec }>;
}

export interface PolicyEntry {
  readonly key: PolicyKey;
  readonly value: PolicyValue;
  /** Every rule ref that produced this verdict on this exact key (Hubble's *_allowed_by / *_denied_by). */
  readonly origins: readonly number[];
  /** Not part of the BPF value: L7 redirect wanted (the value's proxyPort stays 0 until allocated). */
  readonly redirect: L7Redirect | null;
}

export const ENDPOINT_MODE = { notEnforced: 0, enforced: 1, audit: 2 } as const;
export type EndpointMode = (typeof ENDPOINT_MODE)[keyof typeof ENDPOINT_MODE];

/** Why a direction is in default deny. */
export const DEFAULT_DENY_CAUSES = ["none", "policy", "enforcement-always", "init-identity"] as const;
export type DefaultDenyCause = (typeof DEFAULT_DENY_CAUSES)[number];

export interface EndpointPolicy {
  readonly epId: number;
  readonly ingressMode: EndpointMode;
  readonly egressMode: EndpointMode;
  /** keyed by policyKeyString(entry.key) */
  readonly entries: ReadonlyMap<string, PolicyEntry>;
  /** Policies that put this endpoint's direction into default deny (attribution of rule_ref-0 drops). */
  readonly defaultDenyBy: { readonly ingress: readonly PolicyRef[]; readonly egress: readonly PolicyRef[] };
  readonly defaultDenyCause: { readonly ingress: DefaultDenyCause; readonly egress: DefaultDenyCause };
  /** Policies with ≥1 rule selecting this endpoint, per direction. */
  readonly selectedBy: { readonly ingress: readonly PolicyRef[]; readonly egress: readonly PolicyRef[] };
}

/** epId → desired state. */
export type PolicyState = ReadonlyMap<number, EndpointPolicy>;

export function policyKeyString(key: PolicyKey): string {
  return `${key.epId}/${key.direction}/${key.identity}/${key.proto}/${key.dport}`;
}
