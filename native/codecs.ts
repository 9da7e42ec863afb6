// One codec per kernel struct of the datapath ABI (bpf/README.md). Field names are the C
// member names in camelCase; ports are host numbers, addresses text.
import { IPCACHE_PREFIX_BASE, EventFlag } from "./abi.js";
import { structCodec, u32Codec, type Codec } from "./codec.js";
import { parseCidr, bytesToIp, ipToBytes, type IpFamily } from "./ip.js";

export { u32Codec };

export interface CfEndpoint {
  epId: number;
  identity: number;
  ipv4: string;
  ingressMode: number;
  egressMode: number;
  flags: number;
  policyRevision: bigint;
}

export const endpointCodec = structCodec<CfEndpoint>("cf_endpoint", [
  { c: "ep_id", type: "u32", key: "epId" },
  { c: "identity", type: "u32", key: "identity" },
  { c: "ipv4", type: "ipv4", key: "ipv4" },
  { c: "ingress_mode", type: "u8", key: "ingressMode" },
  { c: "egress_mode", type: "u8", key: "egressMode" },
  { c: "flags", type: "u16", key: "flags" },
  { c: "policy_revision", type: "u64", key: "policyRevision" },
]);

export interface CfIpcacheKey {
  /** LPM length including the 32 bits of family + pad (a /24 IPv4 prefix is 56). */
  prefixlen: number;
  family: IpFamily;
  addr: string;
}

export const ipcacheKeyCodec = structCodec<CfIpcacheKey>(
  "cf_ipcache_key",
  [
    { c: "prefixlen", type: "u32", key: "prefixlen" },
    { c: "family", type: "u8", key: "family" },
    { c: "pad", type: "u8", count: 3 },
    { c: "addr", type: "addr16", key: "addr" },
  ],
  { familyOf: (v) => (v.family === 6 ? 6 : 4) },
);

/** The ipcache key of a CIDR ("10.244.1.0/24", "2001:db8::/64", or a bare address). */
export function ipcacheKey(cidr: string): CfIpcacheKey {
  const { family, bytes, prefixLen } = parseCidr(cidr);
  return { prefixlen: IPCACHE_PREFIX_BASE + prefixLen, family, addr: bytesToIp(bytes, family) };
}

export interface CfIpcacheValue {
  identity: number;
  /** Underlay IPv4 of the node hosting the prefix; "0.0.0.0" when local or not a pod. */
  tunnelEndpoint: string;
  flags: number;
}

export const ipcacheValueCodec = structCodec<CfIpcacheValue>("cf_ipcache_value", [
  { c: "identity", type: "u32", key: "identity" },
  { c: "tunnel_endpoint", type: "ipv4", key: "tunnelEndpoint" },
  { c: "flags", type: "u8", key: "flags" },
  { c: "pad", type: "u8", count: 3 },
]);

export interface CfPolicyKey {
  epId: number;
  /** Peer identity; 0 = any. */
  identity: number;
  /** Destination port (host number), ICMP type for ICMP; 0 = any. */
  dport: number;
  /** IP protocol; 0 = any (then dport is 0). */
  proto: number;
  direction: number;
}

export const policyKeyCodec = structCodec<CfPolicyKey>("cf_policy_key", [
  { c: "ep_id", type: "u32", key: "epId" },
  { c: "identity", type: "u32", key: "identity" },
  { c: "dport", type: "be16", key: "dport" },
  { c: "proto", type: "u8", key: "proto" },
  { c: "direction", type: "u8", key: "direction" },
]);

export interface CfPolicyValue {
  action: number;
  flags: number;
  proxyPort: number;
  ruleRef: number;
}

export const policyValueCodec = structCodec<CfPolicyValue>("cf_policy_value", [
  { c: "action", type: "u8", key: "action" },
  { c: "flags", type: "u8", key: "flags" },
  { c: "proxy_port", type: "u16", key: "proxyPort" },
  { c: "rule_ref", type: "u32", key: "ruleRef" },
]);

/**
 * A connection's two ends in canonical order: (addr1, port1) < (addr2, port2), addresses
 * compared as numbers, then ports. Both directions of a connection share the key; the
 * entry's CtFlag.origFrom2 says which end opened it. Build keys with `ctKey()`.
 */
export interface CfCtKey {
  epId: number;
  family: IpFamily;
  proto: number;
  /** Ports as host numbers; ICMP echo: the identifier on the requester's side, 0 on the other. */
  port1: number;
  port2: number;
  addr1: string;
  addr2: string;
}

export const ctKeyCodec = structCodec<CfCtKey>(
  "cf_ct_key",
  [
    { c: "ep_id", type: "u32", key: "epId" },
    { c: "family", type: "u8", key: "family" },
    { c: "proto", type: "u8", key: "proto" },
    { c: "port1", type: "be16", key: "port1" },
    { c: "port2", type: "be16", key: "port2" },
    { c: "pad", type: "u16" },
    { c: "addr1", type: "addr16", key: "addr1" },
    { c: "addr2", type: "addr16", key: "addr2" },
  ],
  { familyOf: (v) => (v.family === 6 ? 6 : 4) },
);

/** A packet's view of a connection: its source and destination. */
export interface PacketTuple {
  proto: number;
  saddr: string;
  daddr: string;
  /** Ports; for ICMP echo the identifier as sport (request) or dport (reply), as bpf/lib/parse.h does. */
  sport: number;
  dport: number;
}

/**
 * The conntrack key of an endpoint's connection as the datapath builds it from a packet,
 * and whether the packet's source is end 2 (bpf/lib/conntrack.h cf_ct_key_of).
 */
export function ctKey(epId: number, t: PacketTuple): { key: CfCtKey; from2: boolean } {
  const s = ipToBytes(t.saddr);
  const d = ipToBytes(t.daddr);
  if (s.family !== d.family) throw new TypeError(`mixed address families: ${t.saddr} -> ${t.daddr}`);
  let cmp = 0;
  for (let i = 0; i < s.bytes.length && cmp === 0; i++) cmp = (s.bytes[i] ?? 0) - (d.bytes[i] ?? 0);
  const from2 = cmp === 0 ? t.sport > t.dport : cmp > 0;
  const base = { epId, family: s.family, proto: t.proto };
  return from2
    ? { key: { ...base, port1: t.dport, port2: t.sport, addr1: t.daddr, addr2: t.saddr }, from2 }
    : { key: { ...base, port1: t.sport, port2: t.dport, addr1: t.saddr, addr2: t.daddr }, from2 };
}

export interface CfCtEntry {
  /** CLOCK_MONOTONIC ns (process.hrtime.bigint() is the same clock). */
  expiresNs: bigint;
  createdNs: bigint;
  flags: number;
  ruleRef: number;
  direction: number;
  tcpFlagsOrig: number;
  tcpFlagsReply: number;
}

export const ctEntryCodec = structCodec<CfCtEntry>("cf_ct_entry", [
  { c: "expires_ns", type: "u64", key: "expiresNs" },
  { c: "created_ns", type: "u64", key: "createdNs" },
  { c: "flags", type: "u32", key: "flags" },
  { c: "rule_ref", type: "u32", key: "ruleRef" },
  { c: "direction", type: "u8", key: "direction" },
  { c: "tcp_flags_orig", type: "u8", key: "tcpFlagsOrig" },
  { c: "tcp_flags_reply", type: "u8", key: "tcpFlagsReply" },
  { c: "pad", type: "u8" },
]);

export interface CfFragKey {
  saddr: string;
  daddr: string;
  /** IPv4 identification (host number). */
  id: number;
  proto: number;
}

export const fragKeyCodec = structCodec<CfFragKey>("cf_frag_key", [
  { c: "saddr", type: "ipv4", key: "saddr" },
  { c: "daddr", type: "ipv4", key: "daddr" },
  { c: "id", type: "be16", key: "id" },
  { c: "proto", type: "u8", key: "proto" },
  { c: "pad", type: "u8" },
]);

export interface CfFragPorts {
  sport: number;
  dport: number;
  policyPort: number;
}

export const fragPortsCodec = structCodec<CfFragPorts>("cf_frag_ports", [
  { c: "sport", type: "be16", key: "sport" },
  { c: "dport", type: "be16", key: "dport" },
  { c: "policy_port", type: "be16", key: "policyPort" },
  { c: "pad", type: "u16" },
]);

export interface CfMetricsValue {
  packets: bigint;
  bytes: bigint;
}

export const metricsValueCodec = structCodec<CfMetricsValue>("cf_metrics_value", [
  { c: "packets", type: "u64", key: "packets" },
  { c: "bytes", type: "u64", key: "bytes" },
]);

/** A datapath event record (struct cf_event) as it comes out of cf_events_v1. */
export interface CfEvent {
  /** CLOCK_MONOTONIC ns. */
  tsNs: bigint;
  /** EventType: 1 drop, 4 trace, 5 policy verdict. */
  type: number;
  /** Drop: reason & 0xff; trace: observation point; else 0. */
  subtype: number;
  /** Verdict: 1 forwarded, 2 dropped, 4 audit, 5 redirected. */
  verdict: number;
  direction: number;
  /** EventFlag bits. */
  flags: number;
  ctState: number;
  matchType: number;
  proto: number;
  /** Drop reason (drops, denied or audited policy verdicts); 0 otherwise. */
  dropReason: number;
  proxyPort: number;
  ifindex: number;
  epId: number;
  srcIdentity: number;
  dstIdentity: number;
  ruleRef: number;
  /** Bytes of the packet (skb->len). */
  pktLen: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
}

export const eventCodec = structCodec<CfEvent>(
  "cf_event",
  [
    { c: "ts_ns", type: "u64", key: "tsNs" },
    { c: "type", type: "u8", key: "type" },
    { c: "subtype", type: "u8", key: "subtype" },
    { c: "verdict", type: "u8", key: "verdict" },
    { c: "direction", type: "u8", key: "direction" },
    { c: "flags", type: "u8", key: "flags" },
    { c: "ct_state", type: "u8", key: "ctState" },
    { c: "match_type", type: "u8", key: "matchType" },
    { c: "proto", type: "u8", key: "proto" },
    { c: "drop_reason", type: "u16", key: "dropReason" },
    { c: "proxy_port", type: "u16", key: "proxyPort" },
    { c: "ifindex", type: "u32", key: "ifindex" },
    { c: "ep_id", type: "u32", key: "epId" },
    { c: "src_identity", type: "u32", key: "srcIdentity" },
    { c: "dst_identity", type: "u32", key: "dstIdentity" },
    { c: "rule_ref", type: "u32", key: "ruleRef" },
    { c: "pkt_len", type: "u32", key: "pktLen" },
    { c: "saddr", type: "addr16", key: "saddr" },
    { c: "daddr", type: "addr16", key: "daddr" },
    { c: "sport", type: "be16", key: "sport" },
    { c: "dport", type: "be16", key: "dport" },
    { c: "tcp_flags", type: "u8", key: "tcpFlags" },
    { c: "icmp_type", type: "u8", key: "icmpType" },
    { c: "icmp_code", type: "u8", key: "icmpCode" },
    { c: "pad", type: "u8" },
    { c: "pad2", type: "u32" },
  ],
  { familyOf: (v) => ((v.flags ?? 0) & EventFlag.ipv6 ? 6 : 4) },
);

/** Every struct codec of the ABI, for the BTF layout test. */
export const STRUCT_CODECS: readonly Codec<object>[] = [
  endpointCodec,
  ipcacheKeyCodec,
  ipcacheValueCodec,
  policyKeyCodec,
  policyValueCodec,
  ctKeyCodec,
  ctEntryCodec,
  fragKeyCodec,
  fragPortsCodec,
  metricsValueCodec,
  eventCodec,
] as unknown as readonly Codec<object>[];
