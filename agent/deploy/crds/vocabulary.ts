/**
 * Fixed vocabularies of the cilium.io/v2 policy API, as the CRD schemas enforce them. The policy
 * compiler should import these rather than repeat the lists, so the API server and the agent
 * agree on what a valid value is.
 *
 * Baseline is Cilium 1.16–1.19 (notes/policy-semantics.md). Values that only exist on Cilium main
 * in 2026 are left out on purpose and listed next to each constant.
 */

/**
 * Entity names accepted in fromEntities/toEntities. `none` is valid upstream (it selects nothing).
 * Not included: `cluster-mesh` (main-2026 only) and `world-ipv4`/`world-ipv6` (known to Cilium's
 * Go API, but absent from its CRD enum, so they never reach an agent through Kubernetes).
 */
export const ENTITIES = [
  "all",
  "world",
  "cluster",
  "host",
  "remote-node",
  "kube-apiserver",
  "health",
  "init",
  "unmanaged",
  "ingress",
  "none",
] as const;
export type Entity = (typeof ENTITIES)[number];

/**
 * `toPorts[].ports[].protocol`. ICMP is not a port protocol in Cilium: it is expressed with `icmps`.
 * Not included: the extended IP protocols (VRRP, IGMP, …) that main-2026 gates behind an agent flag.
 */
export const PORT_PROTOCOLS = ["TCP", "UDP", "SCTP", "ANY"] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

export const ICMP_FAMILIES = ["IPv4", "IPv6"] as const;
export type IcmpFamily = (typeof ICMP_FAMILIES)[number];

/** CamelCase ICMP type names Cilium accepts for `icmps[].fields[].type` with family IPv4, with their numbers. */
export const ICMPV4_TYPE_NAMES = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  Redirect: 5,
  Echo: 8,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSelection: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
  Photuris: 40,
  ExtendedEchoRequest: 42,
  ExtendedEchoReply: 43,
} as const;

/** CamelCase ICMPv6 type names Cilium accepts for family IPv6, with their numbers. */
export const ICMPV6_TYPE_NAMES = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MulticastListenerQuery: 130,
  MulticastListenerReport: 131,
  MulticastListenerDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  RedirectMessage: 137,
  RouterRenumbering: 138,
  ICMPNodeInformationQuery: 139,
  ICMPNodeInformationResponse: 140,
  InverseNeighborDiscoverySolicitation: 141,
  InverseNeighborDiscoveryAdvertisement: 142,
  HomeAgentAddressDiscoveryRequest: 144,
  HomeAgentAddressDiscoveryReply: 145,
  MobilePrefixSolicitation: 146,
  MobilePrefixAdvertisement: 147,
  DuplicateAddressRequestCodeSuffix: 157,
  DuplicateAddressConfirmationCodeSuffix: 158,
  ExtendedEchoRequest: 160,
  ExtendedEchoReply: 161,
} as const;

/**
 * The schema accepts a name from either table whatever the family, like Cilium's CRD: whether the
 * name exists for the rule's family is the agent's check (report it in the policy status).
 */
export const ICMP_TYPE_NAMES: readonly string[] = [
  ...new Set([...Object.keys(ICMPV4_TYPE_NAMES), ...Object.keys(ICMPV6_TYPE_NAMES)]),
];

export const LABEL_SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
export type LabelSelectorOperator = (typeof LABEL_SELECTOR_OPERATORS)[number];

/** `authentication.mode` on allow rules (mutual authentication). */
export const AUTHENTICATION_MODES = ["disabled", "required", "test-always-fail"] as const;

/** `rules.http[].headerMatches[].mismatch`: what the proxy does instead of denying a mismatching request. */
export const HEADER_MISMATCH_ACTIONS = ["LOG", "ADD", "DELETE", "REPLACE"] as const;

/** `rules.kafka[].role` (Kafka L7 rules, deprecated upstream and removed on main-2026). */
export const KAFKA_ROLES = ["produce", "consume"] as const;

/** `toPorts[].listener.envoyConfig.kind`. */
export const ENVOY_CONFIG_KINDS = ["CiliumEnvoyConfig", "CiliumClusterwideEnvoyConfig"] as const;

/** Policy condition `status` values (Kubernetes condition convention). */
export const CONDITION_STATUSES = ["True", "False", "Unknown"] as const;

/** The policy condition the agent reports compile results under (same name as Cilium's operator uses). */
export const POLICY_VALID_CONDITION = "Valid";

/**
 * CiliumEndpoint `status.policy.{ingress,egress}.state`, spelled as Cilium writes them;
 * "<status disabled>" means the agent does not publish policy state, not that policy is off.
 */
export const ENDPOINT_POLICY_STATES = ["enforcing", "non-enforcing", "<status disabled>"] as const;
export type EndpointPolicyState = (typeof ENDPOINT_POLICY_STATES)[number];

/** CiliumEndpoint `status.state`: the endpoint lifecycle states Cilium reports. */
export const ENDPOINT_STATES = [
  "waiting-for-identity",
  "not-ready",
  "waiting-to-regenerate",
  "regenerating",
  "restoring",
  "ready",
  "disconnecting",
  "disconnected",
  "invalid",
] as const;
export type EndpointState = (typeof ENDPOINT_STATES)[number];

/** L4 protocols a CiliumEndpoint's named ports may carry. */
export const NAMED_PORT_PROTOCOLS = ["TCP", "UDP", "SCTP", "ANY"] as const;
