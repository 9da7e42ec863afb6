/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cf_policy_v1: the verdict table the agent computes per endpoint and direction.
 *
 * Six exact-match probes, most specific first; see bpf/README.md for the order. A hash
 * with wildcard keys keeps the cost at six lookups whatever the number of rules, at the
 * price of the agent expanding port ranges.
 */
#ifndef CF_POLICY_H
#define CF_POLICY_H

#include "common.h"
#include "drop.h"

struct cf_policy_key {
	__u32 ep_id;
	__u32 identity; /* peer identity; 0 = any */
	__be16 dport; /* 0 = any; ICMP type for ICMP */
	__u8 proto; /* 0 = any */
	__u8 direction;
};

#define CF_POLICY_ALLOW 1
#define CF_POLICY_DENY 2

#define CF_POLICY_F_AUDIT 0x01

struct cf_policy_value {
	__u8 action;
	__u8 flags;
	__u16 proxy_port;
	__u32 rule_ref;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	/* Port ranges expand into many entries; allocate on insert rather than up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cf_policy_key);
	__type(value, struct cf_policy_value);
} cf_policy_v1 SEC(".maps");

/* Hubble's policy_match_type for each probe (pkg/monitor/api/types.go). */
#define CF_MATCH_NONE 0
#define CF_MATCH_L3_ONLY 1
#define CF_MATCH_L3_L4 2
#define CF_MATCH_L4_ONLY 3
#define CF_MATCH_ALL 4
#define CF_MATCH_L3_PROTO 5
#define CF_MATCH_PROTO_ONLY 6

/* Outcome of a lookup. */
#define CF_VERDICT_NONE 0 /* no entry matched */
#define CF_VERDICT_ALLOW 1
#define CF_VERDICT_DENY 2 /* an enforcing deny entry matched */
#define CF_VERDICT_AUDIT_DENY 3 /* only deny entries of audited policies matched */

struct cf_policy_result {
	__u8 verdict;
	__u8 match_type;
	__u16 proxy_port;
	__u32 rule_ref;
};

struct cf_policy_hits {
	struct cf_policy_result allow;
	struct cf_policy_result audit_deny;
	struct cf_policy_result deny;
};

static __always_inline void cf_policy_keep(struct cf_policy_result *r, const struct cf_policy_value *v,
					   __u8 verdict, __u8 match)
{
	if (r->verdict)
		return;
	r->verdict = verdict;
	r->match_type = match;
	r->proxy_port = v->proxy_port;
	r->rule_ref = v->rule_ref;
}

/*
 * Returns 1 when the lookup can stop: an enforcing deny matched (nothing later in the order
 * can change that), or any entry matched and the caller knows there are no denies.
 */
static __always_inline int cf_policy_probe(struct cf_policy_key *key, __u32 identity, __u8 proto, __be16 dport,
					   __u8 match, int first_hit_wins, struct cf_policy_hits *h)
{
	struct cf_policy_value *v;

	key->identity = identity;
	key->proto = proto;
	key->dport = dport;
	v = bpf_map_lookup_elem(&cf_policy_v1, key);
	if (!v)
		return 0;
	if (v->action == CF_POLICY_DENY) {
		if (v->flags & CF_POLICY_F_AUDIT) {
			cf_policy_keep(&h->audit_deny, v, CF_VERDICT_AUDIT_DENY, match);
			return 0;
		}
		cf_policy_keep(&h->deny, v, CF_VERDICT_DENY, match);
		return 1;
	}
	if (v->action == CF_POLICY_ALLOW)
		cf_policy_keep(&h->allow, v, CF_VERDICT_ALLOW, match);
	return first_hit_wins;
}

/*
 * Any enforcing deny beats every allow; the first deny in lookup order names the rule.
 * An audited deny (a deny entry of a policy in audit mode) turns an allow into AUDIT (forwarded),
 * and so does it in an audit-mode direction. In an enforced direction where nothing allows the
 * packet, the enforcing policies' default deny still drops it: it is no hit at all (133, no rule).
 * Probes that would repeat an earlier key (port 0 for portless protocols) are skipped.
 * no_deny: the agent's promise that this endpoint/direction has no deny entries (see
 * CF_EP_F_NO_DENY_*); then the first hit is the answer and later probes are skipped.
 */
static __always_inline void cf_policy_lookup(__u32 ep_id, __u8 direction, __u32 peer, __u8 proto, __be16 dport,
					     int no_deny, int audit_mode, struct cf_policy_result *out)
{
	struct cf_policy_key key = { .ep_id = ep_id, .direction = direction };
	struct cf_policy_hits h = {};

	if (dport && cf_policy_probe(&key, peer, proto, dport, CF_MATCH_L3_L4, no_deny, &h))
		goto done;
	if (cf_policy_probe(&key, peer, proto, 0, CF_MATCH_L3_PROTO, no_deny, &h))
		goto done;
	if (cf_policy_probe(&key, peer, 0, 0, CF_MATCH_L3_ONLY, no_deny, &h))
		goto done;
	if (dport && cf_policy_probe(&key, 0, proto, dport, CF_MATCH_L4_ONLY, no_deny, &h))
		goto done;
	if (cf_policy_probe(&key, 0, proto, 0, CF_MATCH_PROTO_ONLY, no_deny, &h))
		goto done;
	cf_policy_probe(&key, 0, 0, 0, CF_MATCH_ALL, no_deny, &h);
done:
	if (h.deny.verdict)
		*out = h.deny;
	else if (h.audit_deny.verdict && (h.allow.verdict || audit_mode))
		*out = h.audit_deny;
	else if (h.allow.verdict)
		*out = h.allow;
	else
		*out = (struct cf_policy_result){};
}

#endif /* CF_POLICY_H */
