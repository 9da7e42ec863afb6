/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cf_frag_v1: ports of fragmented IPv4 datagrams. Only the first fragment carries the L4
 * header; later fragments borrow its ports from here so conntrack and policy see the same
 * tuple for the whole datagram. Entries are written only for first fragments that were
 * forwarded, so a later fragment can never pass where its first fragment was dropped.
 */
#ifndef CF_FRAG_H
#define CF_FRAG_H

#include "common.h"
#include "parse.h"

struct cf_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 pad;
};

struct cf_frag_ports {
	__be16 sport;
	__be16 dport;
	__be16 policy_port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct cf_frag_key);
	__type(value, struct cf_frag_ports);
} cf_frag_v1 SEC(".maps");

static __always_inline void cf_frag_key_of(struct cf_frag_key *k, const struct cf_pkt *p)
{
	k->saddr = p->tuple.saddr[0];
	k->daddr = p->tuple.daddr[0];
	k->id = p->frag_id;
	k->proto = p->tuple.proto;
	k->pad = 0;
}

static __always_inline void cf_frag_remember(const struct cf_pkt *p)
{
	struct cf_frag_key k;
	struct cf_frag_ports v = {};

	cf_frag_key_of(&k, p);
	v.sport = p->tuple.sport;
	v.dport = p->tuple.dport;
	v.policy_port = p->policy_port;
	bpf_map_update_elem(&cf_frag_v1, &k, &v, BPF_ANY);
}

/* Fill a later fragment's ports. Returns 0, or -1 when the first fragment was not seen. */
static __always_inline int cf_frag_restore(struct cf_pkt *p)
{
	struct cf_frag_key k;
	struct cf_frag_ports *v;

	if (p->tuple.family != 4)
		return -1;
	cf_frag_key_of(&k, p);
	v = bpf_map_lookup_elem(&cf_frag_v1, &k);
	if (!v)
		return -1;
	p->tuple.sport = v->sport;
	p->tuple.dport = v->dport;
	p->policy_port = v->policy_port;
	return 0;
}

#endif /* CF_FRAG_H */
