// Numbers and names shared with bpf/ (see bpf/README.md). native/abi.test.ts checks each
// against the #defines in bpf/lib/*.h, so the two cannot drift apart silently.

/** Pinned/BTF names of the datapath maps. */
export const MAP_NAMES = {
  endpoints: "cf_endpoints_v1",
  ipcache: "cf_ipcache_v1",
  policy: "cf_policy_v1",
  conntrack: "cf_ct_v1",
  frag: "cf_frag_v1",
  events: "cf_events_v1",
  metrics: "cf_metrics_v1",
} as const;
export type MapName = (typeof MAP_NAMES)[keyof typeof MAP_NAMES];

/** Programs of bpf/endpoint.c and the tc hook of the host-side veth each belongs on. */
export const ENDPOINT_PROGRAMS = {
  /** Host-side ingress: packets leaving the pod (the pod's egress policy). */
  fromEndpoint: { name: "cf_from_endpoint", hook: "ingress" },
  /** Host-side egress: packets entering the pod (the pod's ingress policy). */
  toEndpoint: { name: "cf_to_endpoint", hook: "egress" },
} as const;

/** Programs of bpf/host.c (host firewall) and the tc hook of the node's underlay device each belongs on. */
export const HOST_PROGRAMS = {
  /** Device ingress: packets from the network to the node (the host endpoint's ingress policy). */
  fromNetdev: { name: "cf_from_netdev", hook: "ingress" },
  /** Device egress: packets from the node to the network (the host endpoint's egress policy). */
  toNetdev: { name: "cf_to_netdev", hook: "egress" },
} as const;

/** cf_endpoints_v1 key of the node's host endpoint (no device has ifindex 0). */
export const HOST_ENDPOINT_KEY = 0;

/** Load-time globals (`const volatile`) of bpf/endpoint.c (bpf/host.c has the same). */
export const ENDPOINT_GLOBALS = {
  traceMode: "cfg_trace_mode",
  allowIcmpFragNeeded: "cfg_allow_icmp_frag_needed",
  eventWakeupBytes: "cfg_event_wakeup_bytes",
  ctLifetimeTcp: "cfg_ct_lifetime_tcp",
  ctLifetimeSyn: "cfg_ct_lifetime_syn",
  ctLifetimeClose: "cfg_ct_lifetime_close",
  ctLifetimeOther: "cfg_ct_lifetime_other",
} as const;

/** cfg_trace_mode: which forwarded packets produce TRACE events (drops always do). */
export const TraceMode = { everyPacket: 0, firstPerConnection: 1, none: 2 } as const;
export type TraceMode = (typeof TraceMode)[keyof typeof TraceMode];

/** Policy direction, from the endpoint's point of view. */
export const Direction = { ingress: 0, egress: 1 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** cf_endpoint.ingress_mode / egress_mode. */
export const EnforcementMode = { none: 0, enforce: 1, audit: 2 } as const;
export type EnforcementMode = (typeof EnforcementMode)[keyof typeof EnforcementMode];

/**
 * cf_endpoint.flags: optional agent hints. noDeny<Dir> promises there is no deny entry
 * (audited or not) for the endpoint in that direction, so the datapath stops at the first
 * matching entry instead of probing all six keys. Clear the bit before writing a deny.
 */
export const EndpointFlag = { noDenyIngress: 0x0001, noDenyEgress: 0x0002 } as const;

/** cf_policy_value.action. */
export const PolicyAction = { allow: 1, deny: 2 } as const;
export type PolicyAction = (typeof PolicyAction)[keyof typeof PolicyAction];

/** cf_policy_value.flags. */
export const PolicyFlag = { audit: 0x01 } as const;

/** cf_ipcache_value.flags. */
export const IpcacheFlag = { local: 0x01 } as const;

/** cf_ipcache_key.prefixlen counts the 32 bits of family + pad before the address. */
export const IPCACHE_PREFIX_BASE = 32;

/** Reserved identities the datapath itself uses. */
export const ReservedIdentity = { unknown: 0, host: 1, world: 2 } as const;

/** cf_event.type (Hubble event_type.type). */
export const EventType = { drop: 1, trace: 4, policyVerdict: 5 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** cf_event.verdict (Hubble Verdict). */
export const Verdict = { forwarded: 1, dropped: 2, audit: 4, redirected: 5 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** cf_event.subtype of TRACE events (raw Cilium observation points). */
export const TracePoint = { toEndpoint: 0, toHost: 2, fromEndpoint: 5, fromNetwork: 10, toNetwork: 11 } as const;

/** cf_event.ct_state = Cilium trace reason (Hubble's trace_reason is this + 1). */
export const CtState = { new: 0, established: 1, reply: 2, related: 3 } as const;
export type CtState = (typeof CtState)[keyof typeof CtState];

/** cf_event.flags bits. */
export const EventFlag = { reply: 0x01, audit: 0x02, new: 0x04, ipv6: 0x08, related: 0x10, fragment: 0x20 } as const;

/** cf_event.match_type (Hubble policy_match_type): which lookup-order probe matched. */
export const PolicyMatchType = { none: 0, l3Only: 1, l3L4: 2, l4Only: 3, all: 4, l3Proto: 5, protoOnly: 6 } as const;
export type PolicyMatchType = (typeof PolicyMatchType)[keyof typeof PolicyMatchType];

/** cf_ct_entry.flags bits. */
export const CtFlag = { seenReply: 0x01, finOrig: 0x02, finReply: 0x04, rst: 0x08, origFrom2: 0x10 } as const;

/** Small codes of cf_metrics_v1 (drop reasons use their own code, 130..255). */
export const MetricCode = { forwarded: 0, audit: 1, lostEvents: 2, redirected: 3 } as const;
export const METRICS_SIZE = 512;

/** Index of cf_metrics_v1 for a direction and a code (MetricCode or drop reason). */
export function metricsIndex(direction: Direction, code: number): number {
  return ((direction & 1) << 8) | (code & 0xff);
}

/** IP protocol numbers policy keys use. */
export const IpProto = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;
