/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cf_endpoints_v1: which endpoint the device a program runs on belongs to. */
#ifndef CF_ENDPOINT_H
#define CF_ENDPOINT_H

#include "common.h"

/*
 * cf_endpoint.flags: optional hints from the agent. NO_DENY_<dir> promises that the
 * endpoint has no deny entries (audited or not) in cf_policy_v1 for that direction, so the
 * first matching entry in lookup order decides and the remaining probes are skipped. The
 * verdict is the same as with the full lookup; an agent that cannot keep the promise
 * (it must clear the bit before writing a deny) leaves the flags 0.
 */
#define CF_EP_F_NO_DENY_INGRESS 0x0001
#define CF_EP_F_NO_DENY_EGRESS 0x0002

struct cf_endpoint {
	__u32 ep_id;
	__u32 identity;
	__be32 ipv4;
	__u8 ingress_mode;
	__u8 egress_mode;
	__u16 flags;
	__u64 policy_revision;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* ifindex of the host-side veth */
	__type(value, struct cf_endpoint);
} cf_endpoints_v1 SEC(".maps");

static __always_inline struct cf_endpoint *cf_endpoint_lookup(__u32 ifindex)
{
	return bpf_map_lookup_elem(&cf_endpoints_v1, &ifindex);
}

/*
 * The node's host endpoint (host policies, CCNP nodeSelector) lives under key 0: no device has
 * ifindex 0, and every attach point (the underlay device's programs, the pod programs checking
 * traffic to the node) finds it without knowing which device carries the node's address.
 */
#define CF_HOST_EP_KEY 0

static __always_inline struct cf_endpoint *cf_host_endpoint(void)
{
	__u32 key = CF_HOST_EP_KEY;

	return bpf_map_lookup_elem(&cf_endpoints_v1, &key);
}

#endif /* CF_ENDPOINT_H */
