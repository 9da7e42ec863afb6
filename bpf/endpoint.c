// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-endpoint datapath, attached with tc clsact to the host side of every pod veth:
 *   host-side ingress (packet leaves the pod)  -> cf_from_endpoint, the pod's egress
 *   host-side egress  (packet enters the pod)  -> cf_to_endpoint,   the pod's ingress
 *
 * The enforcement itself (conntrack, policy, events) is lib/enforce.h, shared with host.c.
 * A pod's packet to the node's own address never crosses the underlay device, so its host
 * ingress check (host policies) happens here, after the pod's own egress verdict.
 */
#include "lib/enforce.h"

/*
 * Host ingress for a pod's packet whose destination is this node (identity host): the host
 * endpoint's ingress policy with the pod as peer, in the host endpoint's own conntrack. Runs
 * only for original-direction packets the pod's egress let through, and only while a host
 * policy enforces the node's ingress (one hash lookup otherwise). The context is switched to
 * the host's view in place: a second one would not fit the stack.
 */
static __always_inline int cf_host_ingress_from_pod(struct cf_ctx *c)
{
	struct cf_endpoint *host = cf_host_endpoint();
	__u8 mode;

	if (!host || host->ingress_mode == CF_MODE_NONE)
		return TC_ACT_OK;
	cf_resolve_peer(c);
	if (c->peer_identity != CF_ID_HOST)
		return TC_ACT_OK;
	mode = host->ingress_mode;
	c->peer_identity = c->ep_identity;
	c->ep_id = host->ep_id;
	c->ep_identity = host->identity;
	c->ep_flags = host->flags;
	c->dir = CF_DIR_INGRESS;
	c->obs_point = CF_OBS_TO_HOST;
	c->ct_state = 0;
	c->ev_flags &= CF_EVF_IPV6 | CF_EVF_FRAGMENT;
	c->pol = (struct cf_policy_result){};
	return cf_enforce_call(c, mode);
}

static __always_inline int cf_handle(struct __sk_buff *skb, __u8 dir)
{
	struct cf_endpoint *ep;
	struct cf_ctx *c;
	int ret, verdict = TC_ACT_OK;
	__u8 mode;

	ep = cf_endpoint_lookup(skb->ifindex);
	if (!ep)
		return TC_ACT_OK;
	c = cf_ctx_get();
	if (!c)
		return TC_ACT_OK;
	c->dir = dir;
	c->ifindex = skb->ifindex;
	c->ep_id = ep->ep_id;
	c->ep_identity = ep->identity;
	c->ep_flags = ep->flags;
	c->obs_point = dir == CF_DIR_EGRESS ? CF_OBS_FROM_ENDPOINT : CF_OBS_TO_ENDPOINT;
	mode = dir == CF_DIR_INGRESS ? ep->ingress_mode : ep->egress_mode;

	ret = cf_parse(skb, &c->pkt);
	if (ret == CF_PARSE_NOT_IP)
		return TC_ACT_OK;
	if (ret < 0)
		return cf_drop(c, (__u16)-ret);
	if (c->pkt.tuple.family == 6)
		c->ev_flags |= CF_EVF_IPV6;

	if (c->pkt.control)
		return cf_forward(c, 0);
	if (cf_restore_fragment(c, mode, &verdict))
		return verdict;

	verdict = cf_enforce_call(c, mode);
	if (dir == CF_DIR_EGRESS && verdict == TC_ACT_OK && !(c->ev_flags & (CF_EVF_REPLY | CF_EVF_RELATED)))
		verdict = cf_host_ingress_from_pod(c);
	return verdict;
}

SEC("tc")
int cf_from_endpoint(struct __sk_buff *skb)
{
	return cf_handle(skb, CF_DIR_EGRESS);
}

SEC("tc")
int cf_to_endpoint(struct __sk_buff *skb)
{
	return cf_handle(skb, CF_DIR_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
