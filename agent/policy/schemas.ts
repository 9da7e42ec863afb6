/**
 * Raw policy objects as read from the API (or a manifest). Objects are strict so a mistyped
 * field is reported (as a warning, see parse-policy.ts) instead of silently changing the
 * meaning of a rule: `fromEndpoint: [...]` would otherwise leave `{}`, i.e. deny-all.
 * Semantic checks (CIDRs, ports, entities, combinations) happen in the parsers, which know the
 * field paths and the policy kind.
 */
import { z } from "zod";
import { LabelSelectorRequirementSchema } from "../identity/selector.js";

const LabelSelector = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(z.strictObject(LabelSelectorRequirementSchema.shape)).optional(),
});

const Metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

// --- CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (cilium.io/v2) ---------------------

const PortProtocol = z.strictObject({
  port: z.union([z.string(), z.number()]).optional(),
  endPort: z.number().int().optional(),
  protocol: z.string().optional(),
});

const HeaderMatch = z.strictObject({
  name: z.string().min(1),
  value: z.string().optional(),
  secret: z.strictObject({ namespace: z.string().optional(), name: z.string() }).optional(),
  mismatch: z.enum(["LOG", "ADD", "DELETE", "REPLACE"]).optional(),
});

const HttpRule = z.strictObject({
  method: z.string().optional(),
  path: z.string().optional(),
  host: z.string().optional(),
  headers: z.array(z.string()).optional(),
  headerMatches: z.array(HeaderMatch).optional(),
});

const FqdnSelector = z.strictObject({ matchName: z.string().optional(), matchPattern: z.string().optional() });

const L7Rules = z.strictObject({
  http: z.array(HttpRule).optional(),
  dns: z.array(FqdnSelector).optional(),
  kafka: z.array(z.unknown()).optional(),
  l7proto: z.string().optional(),
  l7: z.array(z.unknown()).optional(),
});

const PortRule = z.strictObject({
  ports: z.array(PortProtocol).optional(),
  rules: L7Rules.optional(),
  serverNames: z.array(z.string()).optional(),
  listener: z.unknown().optional(),
  terminatingTLS: z.unknown().optional(),
  originatingTLS: z.unknown().optional(),
});

const PortDenyRule = z.strictObject({ ports: z.array(PortProtocol).optional() });

const CidrRule = z.strictObject({
  cidr: z.string().optional(),
  cidrGroupRef: z.string().optional(),
  cidrGroupSelector: LabelSelector.optional(),
  except: z.array(z.string()).optional(),
});

const IcmpRule = z.strictObject({
  fields: z.array(z.strictObject({ type: z.union([z.number().int(), z.string()]), family: z.string().optional() })),
});

const ServiceSelector = z.unknown();

const commonIngress = {
  fromEndpoints: z.array(LabelSelector).optional(),
  fromRequires: z.array(LabelSelector).optional(),
  fromCIDR: z.array(z.string()).optional(),
  fromCIDRSet: z.array(CidrRule).optional(),
  fromEntities: z.array(z.string()).optional(),
  fromNodes: z.array(LabelSelector).optional(),
  fromGroups: z.array(z.unknown()).optional(),
  icmps: z.array(IcmpRule).optional(),
};
const commonEgress = {
  toEndpoints: z.array(LabelSelector).optional(),
  toRequires: z.array(LabelSelector).optional(),
  toCIDR: z.array(z.string()).optional(),
  toCIDRSet: z.array(CidrRule).optional(),
  toEntities: z.array(z.string()).optional(),
  toNodes: z.array(LabelSelector).optional(),
  toGroups: z.array(z.unknown()).optional(),
  toServices: z.array(ServiceSelector).optional(),
  icmps: z.array(IcmpRule).optional(),
};

export const CnpIngressRuleSchema = z.strictObject({
  ...commonIngress,
  toPorts: z.array(PortRule).optional(),
  authentication: z.unknown().optional(),
});
export const CnpIngressDenyRuleSchema = z.strictObject({ ...commonIngress, toPorts: z.array(PortDenyRule).optional() });
export const CnpEgressRuleSchema = z.strictObject({
  ...commonEgress,
  toFQDNs: z.array(FqdnSelector).optional(),
  toPorts: z.array(PortRule).optional(),
  authentication: z.unknown().optional(),
});
export const CnpEgressDenyRuleSchema = z.strictObject({ ...commonEgress, toPorts: z.array(PortDenyRule).optional() });

export const CnpRuleSchema = z.strictObject({
  endpointSelector: LabelSelector.optional(),
  nodeSelector: LabelSelector.optional(),
  ingress: z.array(CnpIngressRuleSchema).optional(),
  ingressDeny: z.array(CnpIngressDenyRuleSchema).optional(),
  egress: z.array(CnpEgressRuleSchema).optional(),
  egressDeny: z.array(CnpEgressDenyRuleSchema).optional(),
  enableDefaultDeny: z.strictObject({ ingress: z.boolean().optional(), egress: z.boolean().optional() }).optional(),
  labels: z.array(z.looseObject({ key: z.string(), value: z.string().optional(), source: z.string().optional() })).optional(),
  description: z.string().optional(),
  log: z.strictObject({ value: z.string().optional() }).optional(),
});
export type CnpRule = z.infer<typeof CnpRuleSchema>;
export type CnpIngressRule = z.infer<typeof CnpIngressRuleSchema>;
export type CnpEgressRule = z.infer<typeof CnpEgressRuleSchema>;
export type CnpPortRule = z.infer<typeof PortRule>;
export type CnpPortProtocol = z.infer<typeof PortProtocol>;
export type CnpCidrRule = z.infer<typeof CidrRule>;
export type CnpIcmpRule = z.infer<typeof IcmpRule>;
export type RawLabelSelector = z.infer<typeof LabelSelector>;

export const CnpObjectSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.enum(["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]),
  metadata: Metadata,
  spec: CnpRuleSchema.optional(),
  specs: z.array(CnpRuleSchema).optional(),
});
export type CnpObject = z.infer<typeof CnpObjectSchema>;

// --- NetworkPolicy (networking.k8s.io/v1) ----------------------------------------------------

const KnpPort = z.strictObject({
  protocol: z.string().optional(),
  port: z.union([z.number().int(), z.string()]).optional(),
  endPort: z.number().int().optional(),
});
export type KnpPort = z.infer<typeof KnpPort>;

const KnpPeer = z.strictObject({
  podSelector: LabelSelector.optional(),
  namespaceSelector: LabelSelector.optional(),
  ipBlock: z.strictObject({ cidr: z.string(), except: z.array(z.string()).optional() }).optional(),
});
export type KnpPeer = z.infer<typeof KnpPeer>;

const KnpIngressRule = z.strictObject({ from: z.array(KnpPeer).optional(), ports: z.array(KnpPort).optional() });
const KnpEgressRule = z.strictObject({ to: z.array(KnpPeer).optional(), ports: z.array(KnpPort).optional() });

export const KnpObjectSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal("NetworkPolicy"),
  metadata: Metadata,
  spec: z.strictObject({
    podSelector: LabelSelector,
    policyTypes: z.array(z.string()).optional(),
    ingress: z.array(KnpIngressRule).optional(),
    egress: z.array(KnpEgressRule).optional(),
  }),
});
export type KnpObject = z.infer<typeof KnpObjectSchema>;
