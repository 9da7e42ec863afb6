// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Host firewall, attached with tc clsact to the node's underlay device (eth0 of a local node):
 *   ingress (packet arrives from the network) -> cf_from_netdev, the host endpoint's ingress
 *   egress  (packet leaves for the network)   -> cf_to_netdev,   the host endpoint's egress
 *
 * Only the node's own traffic is the host's: a packet whose destination (ingress) or source
 * (egress) resolves to identity host in the ipcache. Everything else on the device (pod traffic
 * routed through the node) passes untouched; the pods' own programs enforce it.
 *
 * The host endpoint is cf_endpoints_v1[CF_HOST_EP_KEY]. Without it every packet passes. While
 * no host policy selects the node (both modes 0) the program still tracks the node's
 * connections, so that replies of connections the node opened before a host policy arrived
 * pass once one does, but it emits no trace events and counts nothing.
 */
#include "lib/enforce.h"

static __always_inline int cf_host_handle(struct __sk_buff *skb, __u8 dir)
{
	struct cf_endpoint *ep;
	struct cf_ctx *c;
	const __be32 *own;
	int ret, verdict = TC_ACT_OK;
	__u8 mode;

	ep = cf_host_endpoint();
	if (!ep)
		return TC_ACT_OK;
	c = cf_ctx_get();
	if (!c)
		return TC_ACT_OK;
	mode = dir == CF_DIR_INGRESS ? ep->ingress_mode : ep->egress_mode;

	ret = cf_parse(skb, &c->pkt);
	if (ret == CF_PARSE_NOT_IP)
		return TC_ACT_OK;
	/*
	 * Unparsable headers cannot be told to be the node's: they pass, and the node's stack (or a
	 * pod's program, which drops them with a reason) discards them.
	 */
	if (ret < 0)
		return TC_ACT_OK;

	own = dir == CF_DIR_INGRESS ? c->pkt.tuple.daddr : c->pkt.tuple.saddr;
	if (cf_ipcache_identity(c->pkt.tuple.family, own) != CF_ID_HOST)
		return TC_ACT_OK;

	c->dir = dir;
	c->ifindex = skb->ifindex;
	c->ep_id = ep->ep_id;
	c->ep_identity = ep->identity;
	c->ep_flags = ep->flags;
	c->obs_point = dir == CF_DIR_INGRESS ? CF_OBS_FROM_NETWORK : CF_OBS_TO_NETWORK;
	c->quiet = ep->ingress_mode == CF_MODE_NONE && ep->egress_mode == CF_MODE_NONE;
	if (c->pkt.tuple.family == 6)
		c->ev_flags |= CF_EVF_IPV6;

	if (c->pkt.control)
		return cf_forward(c, 0);
	if (cf_restore_fragment(c, mode, &verdict))
		return verdict;
	return cf_enforce_call(c, mode);
}

SEC("tc")
int cf_from_netdev(struct __sk_buff *skb)
{
	return cf_host_handle(skb, CF_DIR_INGRESS);
}

SEC("tc")
int cf_to_netdev(struct __sk_buff *skb)
{
	return cf_host_handle(skb, CF_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
