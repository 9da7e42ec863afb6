/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The enforcement core shared by every attach point (endpoint.c for pod veths, host.c for the
 * node's underlay device): conntrack, policy lookup, events and counters for one parsed packet
 * seen from one endpoint (a pod or the host) in one policy direction.
 *
 * Order of work: related ICMP, conntrack, then policy for anything that is not a reply or a
 * related ICMP error, then events and counters. Original-direction packets of established
 * connections are checked on every packet, so revoking an allow cuts the connection on its
 * next packet.
 */
#ifndef CF_ENFORCE_H
#define CF_ENFORCE_H

#include "common.h"
#include "drop.h"
#include "endpoint.h"
#include "ipcache.h"
#include "conntrack.h"
#include "parse.h"
#include "frag.h"
#include "policy.h"
#include "metrics.h"
#include "events.h"

struct cf_ctx {
	struct cf_pkt pkt;
	struct cf_ct_key ct_key;
	struct cf_policy_result pol;
	__u32 ifindex;
	__u32 ep_id;
	__u32 ep_identity;
	__u32 peer_identity;
	__u16 ep_flags;
	__u8 dir;
	__u8 ct_state;
	__u8 ev_flags;
	/* The ipcache is consulted lazily: replies in sampled mode need no identity at all. */
	__u8 peer_resolved;
	/* TRACE observation point of forwarded packets (CF_OBS_*). */
	__u8 obs_point;
	/*
	 * No TRACE events and no FORWARDED/AUDIT counters: the host endpoint while no host policy
	 * selects it, so an unselected node's own traffic costs no events (drops still count).
	 */
	__u8 quiet;
};

/*
 * The per-packet context lives in a per-CPU slot, not on the stack: enforcement is a global
 * function (cf_enforce_call) with its own frame, and context + parse temporaries + that frame
 * exceed the 512 bytes a BPF call chain may use. tc programs do not nest on a CPU (ingress runs
 * in softirq, egress with bottom halves off), so one slot per CPU is enough. Private to each
 * object (never pinned, not ABI).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cf_ctx);
} cf_ctx_scratch SEC(".maps");

/* This CPU's context, zeroed; NULL only if the map lookup fails (it cannot for index 0). */
static __always_inline struct cf_ctx *cf_ctx_get(void)
{
	__u32 zero = 0;
	struct cf_ctx *c = bpf_map_lookup_elem(&cf_ctx_scratch, &zero);

	if (c)
		__builtin_memset(c, 0, sizeof(*c));
	return c;
}

static __always_inline void cf_resolve_peer(struct cf_ctx *c)
{
	const __be32 *addr;

	if (c->peer_resolved)
		return;
	addr = c->dir == CF_DIR_EGRESS ? c->pkt.tuple.daddr : c->pkt.tuple.saddr;
	c->peer_identity = cf_ipcache_identity(c->pkt.tuple.family, addr);
	c->peer_resolved = 1;
}

/*
 * A BPF subprogram rather than inline: it is called from five places, and inlining each
 * copy made the hot path's code several times larger for work most packets never do.
 */
static __noinline void cf_emit(struct cf_ctx *c, __u8 type, __u8 subtype, __u8 verdict, __u16 reason)
{
	struct cf_event *e;
	int icmp;

	cf_resolve_peer(c);
	e = cf_event_reserve(c->dir);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->subtype = subtype;
	e->verdict = verdict;
	e->direction = c->dir;
	e->flags = c->ev_flags;
	e->ct_state = c->ct_state;
	e->proto = c->pkt.tuple.proto;
	e->drop_reason = reason;
	e->ifindex = c->ifindex;
	e->ep_id = c->ep_id;
	if (c->dir == CF_DIR_EGRESS) {
		e->src_identity = c->ep_identity;
		e->dst_identity = c->peer_identity;
	} else {
		e->src_identity = c->peer_identity;
		e->dst_identity = c->ep_identity;
	}
	if (type == CF_EVENT_POLICY_VERDICT || type == CF_EVENT_DROP) {
		e->match_type = c->pol.match_type;
		e->rule_ref = c->pol.rule_ref;
		e->proxy_port = c->pol.proxy_port;
	}
	e->pkt_len = c->pkt.len;
	__builtin_memcpy(e->saddr, c->pkt.tuple.saddr, 16);
	__builtin_memcpy(e->daddr, c->pkt.tuple.daddr, 16);
	icmp = c->pkt.tuple.proto == IPPROTO_ICMP || c->pkt.tuple.proto == IPPROTO_ICMPV6;
	if (!icmp) {
		e->sport = c->pkt.tuple.sport;
		e->dport = c->pkt.tuple.dport;
	}
	e->tcp_flags = c->pkt.tcp_flags;
	e->icmp_type = c->pkt.icmp_type;
	e->icmp_code = c->pkt.icmp_code;
	cf_event_submit(e);
}

/* first: this packet opens a connection or its reply direction (sampling mode 1). */
static __always_inline int cf_forward(struct cf_ctx *c, int first)
{
	int audited = c->ev_flags & CF_EVF_AUDIT;

	if (c->quiet)
		return TC_ACT_OK;
	cf_metrics_add(c->dir, audited ? CF_METRIC_AUDIT : CF_METRIC_FORWARDED, c->pkt.len);
	if (cfg_trace_mode == CF_TRACE_ALL || (cfg_trace_mode == CF_TRACE_FIRST && first))
		cf_emit(c, CF_EVENT_TRACE, c->obs_point, CF_EV_FORWARDED, 0);
	return TC_ACT_OK;
}

static __always_inline int cf_drop(struct cf_ctx *c, __u16 reason)
{
	cf_metrics_add(c->dir, (__u8)reason, c->pkt.len);
	cf_emit(c, CF_EVENT_DROP, (__u8)reason, CF_EV_DROPPED, reason);
	return TC_ACT_SHOT;
}

static __always_inline int cf_is_frag_needed(const struct cf_pkt *p)
{
	return p->tuple.proto == IPPROTO_ICMP && p->icmp_type == ICMP_DEST_UNREACH &&
	       p->icmp_code == ICMP_FRAG_NEEDED;
}

/*
 * The verdict for a parsed packet of the endpoint in c (ep_id, identity, flags, dir set) under
 * enforcement `mode` of that direction. Later fragments must already carry their ports.
 * Leaves CF_EVF_REPLY / CF_EVF_RELATED in ev_flags for packets that passed as replies.
 */
static __always_inline int cf_enforce(struct cf_ctx *c, __u8 mode)
{
	struct cf_ct_entry *ct = NULL;
	int reopened = 0, from2, first;
	__u16 reason;
	__u64 now;

	now = bpf_ktime_get_ns();

	/*
	 * ICMP errors about a tracked connection pass like its replies. The embedded packet's key
	 * is built in ct_key (rebuilt below for the packet itself): a key of its own on this frame
	 * would push pod egress + host ingress past the 512-byte stack of a call chain.
	 */
	if (c->pkt.has_inner) {
		cf_ct_key_of(&c->ct_key, &c->pkt.inner, c->ep_id);
		if (cf_ct_get(&c->ct_key, now)) {
			c->ct_state = CF_CT_RELATED;
			c->ev_flags |= CF_EVF_RELATED;
			return cf_forward(c, 1);
		}
	}

	from2 = cf_ct_key_of(&c->ct_key, &c->pkt.tuple, c->ep_id);
	c->ct_state = cf_ct_lookup(&c->ct_key, from2, c->pkt.tcp_flags, now, &ct, &reopened);
	if (c->ct_state == CF_CT_REPLY && ct) {
		c->ev_flags |= CF_EVF_REPLY;
		first = cf_ct_update(ct, c->pkt.tuple.proto, 1, c->pkt.tcp_flags, now);
		if (first)
			c->ev_flags |= CF_EVF_NEW;
		if (c->pkt.first_frag)
			cf_frag_remember(&c->pkt);
		return cf_forward(c, first);
	}

	if (cfg_allow_icmp_frag_needed && cf_is_frag_needed(&c->pkt))
		return cf_forward(c, 1);

	if (mode != CF_MODE_NONE) {
		cf_resolve_peer(c);
		cf_policy_lookup(c->ep_id, c->dir, c->peer_identity, c->pkt.tuple.proto, c->pkt.policy_port,
				 c->ep_flags & (c->dir == CF_DIR_INGRESS ? CF_EP_F_NO_DENY_INGRESS : CF_EP_F_NO_DENY_EGRESS),
				 mode == CF_MODE_AUDIT, &c->pol);
		if (c->pol.verdict != CF_VERDICT_ALLOW) {
			reason = c->pol.verdict == CF_VERDICT_NONE ? CF_DROP_POLICY_DENIED : CF_DROP_POLICY_DENY;
			if (mode != CF_MODE_AUDIT && c->pol.verdict != CF_VERDICT_AUDIT_DENY) {
				cf_emit(c, CF_EVENT_POLICY_VERDICT, 0, CF_EV_DROPPED, reason);
				return cf_drop(c, reason);
			}
			/* Audit: report what enforcement would have done, then forward. */
			c->ev_flags |= CF_EVF_AUDIT;
			if (c->ct_state == CF_CT_NEW || cfg_trace_mode == CF_TRACE_ALL)
				cf_emit(c, CF_EVENT_POLICY_VERDICT, 0, CF_EV_AUDIT, reason);
		}
	}

	if (c->ct_state == CF_CT_NEW) {
		c->ev_flags |= CF_EVF_NEW;
		if (reopened && ct)
			cf_ct_reopen(ct, from2, c->dir, c->pol.rule_ref, c->pkt.tcp_flags, now);
		else if (cf_ct_create(&c->ct_key, from2, c->dir, c->pol.rule_ref, c->pkt.tcp_flags, now) < 0)
			return cf_drop(c, CF_DROP_CT_MAP_INSERTION_FAILED);
		if (mode != CF_MODE_NONE && !(c->ev_flags & CF_EVF_AUDIT))
			cf_emit(c, CF_EVENT_POLICY_VERDICT, 0, CF_EV_FORWARDED, 0);
		first = 1;
	} else {
		if (ct)
			cf_ct_update(ct, c->pkt.tuple.proto, 0, c->pkt.tcp_flags, now);
		first = 0;
	}
	if (c->pkt.first_frag)
		cf_frag_remember(&c->pkt);
	return cf_forward(c, first);
}

/*
 * cf_enforce as a global BPF function: the verifier checks it once, on its own, instead of once
 * per path of the caller. For a second enforcement after a first one in the same program (a
 * pod's packet to the node: pod egress, then host ingress), inlining both made the verifier
 * walk every path of the first through the second and exceed its limit. c may not be NULL.
 */
__noinline int cf_enforce_call(struct cf_ctx *c, __u8 mode)
{
	if (!c)
		return TC_ACT_OK;
	return cf_enforce(c, mode);
}

/*
 * Later fragments borrow the ports their first fragment left in cf_frag_v1. Returns 0 when the
 * packet can go on to cf_enforce, else the TC verdict for it.
 */
static __always_inline int cf_restore_fragment(struct cf_ctx *c, __u8 mode, int *verdict)
{
	if (!c->pkt.later_frag)
		return 0;
	c->ev_flags |= CF_EVF_FRAGMENT;
	if (cf_frag_restore(&c->pkt) == 0)
		return 0;
	if (mode == CF_MODE_NONE)
		*verdict = cf_forward(c, 0);
	else
		*verdict = cf_drop(c, c->pkt.tuple.family == 4 ? CF_DROP_FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND :
								 CF_DROP_IP_FRAGMENTATION_NOT_SUPPORTED);
	return 1;
}

#endif /* CF_ENFORCE_H */
