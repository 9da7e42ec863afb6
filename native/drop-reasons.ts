// Mirror of bpf/lib/drop.h (Hubble's DropReason codes, enum names and texts).
// native/drop-reasons.test.ts parses the header and checks that both tables agree.

export interface DropReason {
  /** Code in drop events, metrics and Hubble's `drop_reason`. */
  code: number;
  /** Hubble `drop_reason_desc` enum name. */
  name: string;
  /** Text of compact output and of the `reason` label of drop metrics. */
  text: string;
}

export const DROP_REASONS = [
  { code: 130, name: "INVALID_SOURCE_MAC", text: "Invalid source mac" },
  { code: 131, name: "INVALID_DESTINATION_MAC", text: "Invalid destination mac" },
  { code: 132, name: "INVALID_SOURCE_IP", text: "Invalid source ip" },
  { code: 133, name: "POLICY_DENIED", text: "Policy denied" },
  { code: 134, name: "INVALID_PACKET_DROPPED", text: "Invalid packet" },
  { code: 135, name: "CT_TRUNCATED_OR_INVALID_HEADER", text: "CT: Truncated or invalid header" },
  { code: 136, name: "CT_MISSING_TCP_ACK_FLAG", text: "Fragmentation needed" },
  { code: 137, name: "CT_UNKNOWN_L4_PROTOCOL", text: "CT: Unknown L4 protocol" },
  { code: 138, name: "CT_CANNOT_CREATE_ENTRY_FROM_PACKET", text: "CT: Can't create entry from packet" },
  { code: 139, name: "UNSUPPORTED_L3_PROTOCOL", text: "Unsupported L3 protocol" },
  { code: 140, name: "MISSED_TAIL_CALL", text: "Missed tail call" },
  { code: 141, name: "ERROR_WRITING_TO_PACKET", text: "Error writing to packet" },
  { code: 142, name: "UNKNOWN_L4_PROTOCOL", text: "Unknown L4 protocol" },
  { code: 143, name: "UNKNOWN_ICMPV4_CODE", text: "Unknown ICMPv4 code" },
  { code: 144, name: "UNKNOWN_ICMPV4_TYPE", text: "Unknown ICMPv4 type" },
  { code: 145, name: "UNKNOWN_ICMPV6_CODE", text: "Unknown ICMPv6 code" },
  { code: 146, name: "UNKNOWN_ICMPV6_TYPE", text: "Unknown ICMPv6 type" },
  { code: 147, name: "ERROR_RETRIEVING_TUNNEL_KEY", text: "Error retrieving tunnel key" },
  { code: 148, name: "ERROR_RETRIEVING_TUNNEL_OPTIONS", text: "Error retrieving tunnel options" },
  { code: 149, name: "INVALID_GENEVE_OPTION", text: "Invalid Geneve option" },
  { code: 150, name: "UNKNOWN_L3_TARGET_ADDRESS", text: "Unknown L3 target address" },
  { code: 151, name: "STALE_OR_UNROUTABLE_IP", text: "Stale or unroutable IP" },
  { code: 152, name: "NO_MATCHING_LOCAL_CONTAINER_FOUND", text: "No matching local container found" },
  { code: 153, name: "ERROR_WHILE_CORRECTING_L3_CHECKSUM", text: "Error while correcting L3 checksum" },
  { code: 154, name: "ERROR_WHILE_CORRECTING_L4_CHECKSUM", text: "Error while correcting L4 checksum" },
  { code: 155, name: "CT_MAP_INSERTION_FAILED", text: "CT: Map insertion failed" },
  { code: 156, name: "INVALID_IPV6_EXTENSION_HEADER", text: "Invalid IPv6 extension header" },
  { code: 157, name: "IP_FRAGMENTATION_NOT_SUPPORTED", text: "IP fragmentation not supported" },
  { code: 158, name: "SERVICE_BACKEND_NOT_FOUND", text: "Service backend not found" },
  { code: 160, name: "NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT", text: "No tunnel/encapsulation endpoint (datapath BUG!)" },
  { code: 161, name: "FAILED_TO_INSERT_INTO_PROXYMAP", text: "NAT 46/64 not enabled" },
  { code: 162, name: "REACHED_EDT_RATE_LIMITING_DROP_HORIZON", text: "Reached EDT rate-limiting drop horizon" },
  { code: 163, name: "UNKNOWN_CONNECTION_TRACKING_STATE", text: "Unknown connection tracking state" },
  { code: 164, name: "LOCAL_HOST_IS_UNREACHABLE", text: "Local host is unreachable" },
  { code: 165, name: "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION", text: "No configuration available to perform policy decision" },
  { code: 166, name: "UNSUPPORTED_L2_PROTOCOL", text: "Unsupported L2 protocol" },
  { code: 167, name: "NO_MAPPING_FOR_NAT_MASQUERADE", text: "No mapping for NAT masquerade" },
  { code: 168, name: "UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE", text: "Unsupported protocol for NAT masquerade" },
  { code: 169, name: "FIB_LOOKUP_FAILED", text: "FIB lookup failed" },
  { code: 170, name: "ENCAPSULATION_TRAFFIC_IS_PROHIBITED", text: "Encapsulation traffic is prohibited" },
  { code: 171, name: "INVALID_IDENTITY", text: "Invalid identity" },
  { code: 172, name: "UNKNOWN_SENDER", text: "Unknown sender" },
  { code: 173, name: "NAT_NOT_NEEDED", text: "NAT not needed" },
  { code: 174, name: "IS_A_CLUSTERIP", text: "Is a ClusterIP" },
  { code: 175, name: "FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND", text: "First logical datagram fragment not found" },
  { code: 176, name: "FORBIDDEN_ICMPV6_MESSAGE", text: "Forbidden ICMPv6 message" },
  { code: 177, name: "DENIED_BY_LB_SRC_RANGE_CHECK", text: "Denied by LB src range check" },
  { code: 178, name: "SOCKET_LOOKUP_FAILED", text: "Socket lookup failed" },
  { code: 179, name: "SOCKET_ASSIGN_FAILED", text: "Socket assign failed" },
  { code: 180, name: "PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL", text: "Proxy redirection not supported for protocol" },
  { code: 181, name: "POLICY_DENY", text: "Policy denied by denylist" },
  { code: 182, name: "VLAN_FILTERED", text: "VLAN traffic disallowed by VLAN filter" },
  { code: 183, name: "INVALID_VNI", text: "Incorrect VNI from VTEP" },
  { code: 184, name: "INVALID_TC_BUFFER", text: "Failed to update or lookup TC buffer" },
  { code: 185, name: "NO_SID", text: "No SID was found for the IP address" },
  { code: 186, name: "MISSING_SRV6_STATE", text: "SRv6 state was removed during tail call" },
  { code: 187, name: "NAT46", text: "L3 translation from IPv4 to IPv6 failed (NAT46)" },
  { code: 188, name: "NAT64", text: "L3 translation from IPv6 to IPv4 failed (NAT64)" },
  { code: 189, name: "AUTH_REQUIRED", text: "Authentication required" },
  { code: 190, name: "CT_NO_MAP_FOUND", text: "No conntrack map found" },
  { code: 191, name: "SNAT_NO_MAP_FOUND", text: "No nat map found" },
  { code: 192, name: "INVALID_CLUSTER_ID", text: "Invalid ClusterID" },
  { code: 193, name: "UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP", text: "Unsupported packet protocol for DSR encapsulation" },
  { code: 194, name: "NO_EGRESS_GATEWAY", text: "No egress gateway found" },
  { code: 195, name: "UNENCRYPTED_TRAFFIC", text: "Traffic is unencrypted" },
  { code: 196, name: "TTL_EXCEEDED", text: "TTL exceeded" },
  { code: 197, name: "NO_NODE_ID", text: "No node ID found" },
  { code: 198, name: "DROP_RATE_LIMITED", text: "Rate limited" },
  { code: 199, name: "IGMP_HANDLED", text: "IGMP handled" },
  { code: 200, name: "IGMP_SUBSCRIBED", text: "IGMP subscribed" },
  { code: 201, name: "MULTICAST_HANDLED", text: "Multicast handled" },
  { code: 202, name: "DROP_HOST_NOT_READY", text: "Host datapath not ready" },
  { code: 203, name: "DROP_EP_NOT_READY", text: "Endpoint policy program not available" },
  { code: 204, name: "DROP_NO_EGRESS_IP", text: "No Egress IP configured" },
  { code: 205, name: "DROP_PUNT_PROXY", text: "Punt to proxy" },
] as const satisfies readonly DropReason[];

export type DropReasonName = (typeof DROP_REASONS)[number]["name"];

const byCode = new Map<number, DropReason>(DROP_REASONS.map((r) => [r.code, r]));

/** The drop reason with this code, or undefined for a code the table does not know. */
export function dropReason(code: number): DropReason | undefined {
  return byCode.get(code);
}

/** Hubble's `drop_reason_desc` for a code; unknown codes come out as their number, as Hubble does. */
export function dropReasonName(code: number): string {
  return byCode.get(code)?.name ?? String(code);
}

/** Compact-output text for a code; unknown codes print as Hubble does ("<code>, 0"). */
export function dropReasonText(code: number): string {
  return byCode.get(code)?.text ?? `${code}, 0`;
}

/** Codes the datapath emits by name, for code that checks for a specific reason. */
export const DropCode = {
  policyDenied: 133,
  policyDeny: 181,
  invalidPacket: 134,
  ctTruncatedOrInvalidHeader: 135,
  ctMapInsertionFailed: 155,
  invalidIpv6ExtensionHeader: 156,
  ipFragmentationNotSupported: 157,
  firstLogicalDatagramFragmentNotFound: 175,
} as const;
