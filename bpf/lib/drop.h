/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one drop-reason table of the datapath. Codes, enum names and texts follow Hubble
 * (flow.proto DropReason joined with pkg/monitor/api/drop.go), so flows and metrics can
 * print them unchanged. native/drop-reasons.ts mirrors this table; a test parses the
 * CF_DROP_REASONS lines below and compares, so keep one X(...) per line.
 *
 * Where the upstream name and text disagree (136, 161) both are copied as they are.
 */
#ifndef CF_DROP_H
#define CF_DROP_H

#define CF_DROP_REASONS(X) \
	X(INVALID_SOURCE_MAC, 130, "Invalid source mac") \
	X(INVALID_DESTINATION_MAC, 131, "Invalid destination mac") \
	X(INVALID_SOURCE_IP, 132, "Invalid source ip") \
	X(POLICY_DENIED, 133, "Policy denied") \
	X(INVALID_PACKET_DROPPED, 134, "Invalid packet") \
	X(CT_TRUNCATED_OR_INVALID_HEADER, 135, "CT: Truncated or invalid header") \
	X(CT_MISSING_TCP_ACK_FLAG, 136, "Fragmentation needed") \
	X(CT_UNKNOWN_L4_PROTOCOL, 137, "CT: Unknown L4 protocol") \
	X(CT_CANNOT_CREATE_ENTRY_FROM_PACKET, 138, "CT: Can't create entry from packet") \
	X(UNSUPPORTED_L3_PROTOCOL, 139, "Unsupported L3 protocol") \
	X(MISSED_TAIL_CALL, 140, "Missed tail call") \
	X(ERROR_WRITING_TO_PACKET, 141, "Error writing to packet") \
	X(UNKNOWN_L4_PROTOCOL, 142, "Unknown L4 protocol") \
	X(UNKNOWN_ICMPV4_CODE, 143, "Unknown ICMPv4 code") \
	X(UNKNOWN_ICMPV4_TYPE, 144, "Unknown ICMPv4 type") \
	X(UNKNOWN_ICMPV6_CODE, 145, "Unknown ICMPv6 code") \
	X(UNKNOWN_ICMPV6_TYPE, 146, "Unknown ICMPv6 type") \
	X(ERROR_RETRIEVING_TUNNEL_KEY, 147, "Error retrieving tunnel key") \
	X(ERROR_RETRIEVING_TUNNEL_OPTIONS, 148, "Error retrieving tunnel options") \
	X(INVALID_GENEVE_OPTION, 149, "Invalid Geneve option") \
	X(UNKNOWN_L3_TARGET_ADDRESS, 150, "Unknown L3 target address") \
	X(STALE_OR_UNROUTABLE_IP, 151, "Stale or unroutable IP") \
	X(NO_MATCHING_LOCAL_CONTAINER_FOUND, 152, "No matching local container found") \
	X(ERROR_WHILE_CORRECTING_L3_CHECKSUM, 153, "Error while correcting L3 checksum") \
	X(ERROR_WHILE_CORRECTING_L4_CHECKSUM, 154, "Error while correcting L4 checksum") \
	X(CT_MAP_INSERTION_FAILED, 155, "CT: Map insertion failed") \
	X(INVALID_IPV6_EXTENSION_HEADER, 156, "Invalid IPv6 extension header") \
	X(IP_FRAGMENTATION_NOT_SUPPORTED, 157, "IP fragmentation not supported") \
	X(SERVICE_BACKEND_NOT_FOUND, 158, "Service backend not found") \
	X(NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT, 160, "No tunnel/encapsulation endpoint (datapath BUG!)") \
	X(FAILED_TO_INSERT_INTO_PROXYMAP, 161, "NAT 46/64 not enabled") \
	X(REACHED_EDT_RATE_LIMITING_DROP_HORIZON, 162, "Reached EDT rate-limiting drop horizon") \
	X(UNKNOWN_CONNECTION_TRACKING_STATE, 163, "Unknown connection tracking state") \
	X(LOCAL_HOST_IS_UNREACHABLE, 164, "Local host is unreachable") \
	X(NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION, 165, "No configuration available to perform policy decision") \
	X(UNSUPPORTED_L2_PROTOCOL, 166, "Unsupported L2 protocol") \
	X(NO_MAPPING_FOR_NAT_MASQUERADE, 167, "No mapping for NAT masquerade") \
	X(UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE, 168, "Unsupported protocol for NAT masquerade") \
	X(FIB_LOOKUP_FAILED, 169, "FIB lookup failed") \
	X(ENCAPSULATION_TRAFFIC_IS_PROHIBITED, 170, "Encapsulation traffic is prohibited") \
	X(INVALID_IDENTITY, 171, "Invalid identity") \
	X(UNKNOWN_SENDER, 172, "Unknown sender") \
	X(NAT_NOT_NEEDED, 173, "NAT not needed") \
	X(IS_A_CLUSTERIP, 174, "Is a ClusterIP") \
	X(FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND, 175, "First logical datagram fragment not found") \
	X(FORBIDDEN_ICMPV6_MESSAGE, 176, "Forbidden ICMPv6 message") \
	X(DENIED_BY_LB_SRC_RANGE_CHECK, 177, "Denied by LB src range check") \
	X(SOCKET_LOOKUP_FAILED, 178, "Socket lookup failed") \
	X(SOCKET_ASSIGN_FAILED, 179, "Socket assign failed") \
	X(PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL, 180, "Proxy redirection not supported for protocol") \
	X(POLICY_DENY, 181, "Policy denied by denylist") \
	X(VLAN_FILTERED, 182, "VLAN traffic disallowed by VLAN filter") \
	X(INVALID_VNI, 183, "Incorrect VNI from VTEP") \
	X(INVALID_TC_BUFFER, 184, "Failed to update or lookup TC buffer") \
	X(NO_SID, 185, "No SID was found for the IP address") \
	X(MISSING_SRV6_STATE, 186, "SRv6 state was removed during tail call") \
	X(NAT46, 187, "L3 translation from IPv4 to IPv6 failed (NAT46)") \
	X(NAT64, 188, "L3 translation from IPv6 to IPv4 failed (NAT64)") \
	X(AUTH_REQUIRED, 189, "Authentication required") \
	X(CT_NO_MAP_FOUND, 190, "No conntrack map found") \
	X(SNAT_NO_MAP_FOUND, 191, "No nat map found") \
	X(INVALID_CLUSTER_ID, 192, "Invalid ClusterID") \
	X(UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP, 193, "Unsupported packet protocol for DSR encapsulation") \
	X(NO_EGRESS_GATEWAY, 194, "No egress gateway found") \
	X(UNENCRYPTED_TRAFFIC, 195, "Traffic is unencrypted") \
	X(TTL_EXCEEDED, 196, "TTL exceeded") \
	X(NO_NODE_ID, 197, "No node ID found") \
	X(DROP_RATE_LIMITED, 198, "Rate limited") \
	X(IGMP_HANDLED, 199, "IGMP handled") \
	X(IGMP_SUBSCRIBED, 200, "IGMP subscribed") \
	X(MULTICAST_HANDLED, 201, "Multicast handled") \
	X(DROP_HOST_NOT_READY, 202, "Host datapath not ready") \
	X(DROP_EP_NOT_READY, 203, "Endpoint policy program not available") \
	X(DROP_NO_EGRESS_IP, 204, "No Egress IP configured") \
	X(DROP_PUNT_PROXY, 205, "Punt to proxy")

enum cf_drop_reason {
#define CF_DROP_ENUM(name, code, text) CF_DROP_##name = code,
	CF_DROP_REASONS(CF_DROP_ENUM)
#undef CF_DROP_ENUM
};

#endif /* CF_DROP_H */
