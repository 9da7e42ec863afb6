/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cf_ct_v1: connection tracking per endpoint.
 *
 * An entry is keyed by the connection's two ends in canonical order plus the endpoint id
 * (two endpoints on one node see the same packet and keep separate state), and records
 * which end opened it: a packet from that end is in the original direction, any other is
 * a reply. Entries are only created for packets the policy let through, so a reply can
 * only ride on a connection that was allowed.
 */
#ifndef CF_CONNTRACK_H
#define CF_CONNTRACK_H

#include "common.h"

/*
 * A connection's two ends in canonical order, (addr1, port1) < (addr2, port2) compared as
 * numbers, so a packet and its reply build the same key: one lookup per packet whatever
 * its direction. The entry remembers which end opened the connection.
 */
struct cf_ct_key {
	__u32 ep_id;
	__u8 family;
	__u8 proto;
	/* TCP/UDP/SCTP ports; ICMP echo: the identifier on the requester's side, 0 on the other. */
	__be16 port1;
	__be16 port2;
	__u16 pad;
	/* IPv4 in [0], rest 0. */
	__be32 addr1[4];
	__be32 addr2[4];
};

/* A packet's own view of its connection, as parsed (not ABI). */
struct cf_tuple {
	__u8 family;
	__u8 proto;
	__be16 sport;
	__be16 dport;
	__u16 pad;
	__be32 saddr[4];
	__be32 daddr[4];
};

/* cf_ct_entry.flags */
#define CF_CT_F_SEEN_REPLY 0x01
#define CF_CT_F_FIN_ORIG 0x02
#define CF_CT_F_FIN_REPLY 0x04
#define CF_CT_F_RST 0x08
#define CF_CT_F_CLOSING (CF_CT_F_FIN_ORIG | CF_CT_F_FIN_REPLY | CF_CT_F_RST)
/* The opening packet came from end 2 of the key (its source was addr2/port2). */
#define CF_CT_F_ORIG_FROM2 0x10

/*
 * No per-connection packet/byte counters: both directions of a connection usually run on
 * different CPUs, and an atomic add per packet bounced the entry's cache line between them
 * (measured: most of the datapath's request/response overhead). Counters are per-CPU in
 * cf_metrics_v1; the entry is written only when its state changes.
 */
struct cf_ct_entry {
	/* bpf_ktime_get_ns() after which the entry is dead (CLOCK_MONOTONIC). */
	__u64 expires_ns;
	__u64 created_ns;
	__u32 flags;
	/* Rule that allowed the opening packet; 0 when unenforced or default-allowed. */
	__u32 rule_ref;
	/* Policy direction of the opening packet (CF_DIR_*). */
	__u8 direction;
	/* Union of TCP flags seen per direction. */
	__u8 tcp_flags_orig;
	__u8 tcp_flags_reply;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cf_ct_key);
	__type(value, struct cf_ct_entry);
} cf_ct_v1 SEC(".maps");

/* Conntrack state of a packet; the values are Cilium's trace reasons (Hubble adds 1). */
#define CF_CT_NEW 0
#define CF_CT_ESTABLISHED 1
#define CF_CT_REPLY 2
#define CF_CT_RELATED 3

#define CF_TCP_FIN 0x01
#define CF_TCP_SYN 0x02
#define CF_TCP_RST 0x04
#define CF_TCP_ACK 0x10

/*
 * Fill key from a tuple; returns 1 when the tuple's source is end 2. Addresses compare as
 * numbers word by word (IPv4 pads with zero words), then ports.
 */
static __always_inline int cf_ct_key_of(struct cf_ct_key *key, const struct cf_tuple *t, __u32 ep_id)
{
	int from2 = 0, decided = 0, i;

	key->ep_id = ep_id;
	key->family = t->family;
	key->proto = t->proto;
	key->pad = 0;
#pragma unroll
	for (i = 0; i < 4; i++) {
		__u32 s = bpf_ntohl(t->saddr[i]), d = bpf_ntohl(t->daddr[i]);

		if (!decided && s != d) {
			from2 = s > d;
			decided = 1;
		}
	}
	if (!decided)
		from2 = bpf_ntohs(t->sport) > bpf_ntohs(t->dport);
	if (from2) {
		__builtin_memcpy(key->addr1, t->daddr, 16);
		__builtin_memcpy(key->addr2, t->saddr, 16);
		key->port1 = t->dport;
		key->port2 = t->sport;
	} else {
		__builtin_memcpy(key->addr1, t->saddr, 16);
		__builtin_memcpy(key->addr2, t->daddr, 16);
		key->port1 = t->sport;
		key->port2 = t->dport;
	}
	return from2;
}

static __always_inline __u64 cf_ct_lifetime_ns(__u8 proto, __u32 flags)
{
	__u32 s;

	if (proto != IPPROTO_TCP)
		s = cfg_ct_lifetime_other;
	else if ((flags & CF_CT_F_RST) ||
		 (flags & (CF_CT_F_FIN_ORIG | CF_CT_F_FIN_REPLY)) ==
			 (CF_CT_F_FIN_ORIG | CF_CT_F_FIN_REPLY))
		s = cfg_ct_lifetime_close;
	else if (flags & CF_CT_F_SEEN_REPLY)
		s = cfg_ct_lifetime_tcp;
	else
		s = cfg_ct_lifetime_syn;
	return (__u64)s * CF_NSEC_PER_SEC;
}

static __always_inline int cf_tcp_is_syn_only(__u8 tcp_flags)
{
	return (tcp_flags & (CF_TCP_SYN | CF_TCP_ACK)) == CF_TCP_SYN;
}

/*
 * Live entry for key, or NULL. A dead entry (expired) is deleted so the packet is treated
 * like the first of a new connection; the agent's GC would have removed it anyway.
 */
static __always_inline struct cf_ct_entry *cf_ct_get(const struct cf_ct_key *key, __u64 now)
{
	struct cf_ct_entry *e = bpf_map_lookup_elem(&cf_ct_v1, key);

	if (e && e->expires_ns < now) {
		bpf_map_delete_elem(&cf_ct_v1, key);
		return NULL;
	}
	return e;
}

/*
 * Classify a packet whose key (and orientation from2) cf_ct_key_of() built. *entry is set
 * for ESTABLISHED and REPLY, and when *reopened: a SYN re-using the tuple of a closing
 * connection (from either side) starts a new connection, and the caller resets the entry
 * in place once policy let the SYN through.
 */
static __always_inline int cf_ct_lookup(const struct cf_ct_key *key, int from2, __u8 tcp_flags, __u64 now,
					struct cf_ct_entry **entry, int *reopened)
{
	struct cf_ct_entry *e;
	int orig;

	*entry = NULL;
	*reopened = 0;
	e = cf_ct_get(key, now);
	if (!e)
		return CF_CT_NEW;
	*entry = e;
	if (key->proto == IPPROTO_TCP && cf_tcp_is_syn_only(tcp_flags) && (e->flags & CF_CT_F_CLOSING)) {
		*reopened = 1;
		return CF_CT_NEW;
	}
	orig = !!(e->flags & CF_CT_F_ORIG_FROM2) == !!from2;
	return orig ? CF_CT_ESTABLISHED : CF_CT_REPLY;
}

/* An ICMP error is related when its embedded packet belongs to a tracked connection. */
static __always_inline int cf_ct_is_related(const struct cf_tuple *inner, __u32 ep_id, __u64 now)
{
	struct cf_ct_key key;

	cf_ct_key_of(&key, inner, ep_id);
	return cf_ct_get(&key, now) != NULL;
}

/* Returns 0, or -1 when the map refused the entry. */
static __always_inline int cf_ct_create(const struct cf_ct_key *key, int from2, __u8 direction, __u32 rule_ref,
					__u8 tcp_flags, __u64 now)
{
	struct cf_ct_entry e = {};

	e.created_ns = now;
	if (from2)
		e.flags |= CF_CT_F_ORIG_FROM2;
	e.direction = direction;
	e.rule_ref = rule_ref;
	e.tcp_flags_orig = tcp_flags;
	if (tcp_flags & CF_TCP_RST)
		e.flags |= CF_CT_F_RST;
	if (tcp_flags & CF_TCP_FIN)
		e.flags |= CF_CT_F_FIN_ORIG;
	e.expires_ns = now + cf_ct_lifetime_ns(key->proto, e.flags);
	return bpf_map_update_elem(&cf_ct_v1, key, &e, BPF_ANY) ? -1 : 0;
}

/* Reset an entry whose tuple a new SYN re-opened (possibly from the other end). */
static __always_inline void cf_ct_reopen(struct cf_ct_entry *e, int from2, __u8 direction, __u32 rule_ref,
					 __u8 tcp_flags, __u64 now)
{
	e->created_ns = now;
	e->direction = direction;
	e->rule_ref = rule_ref;
	e->tcp_flags_orig = tcp_flags;
	e->tcp_flags_reply = 0;
	e->flags = from2 ? CF_CT_F_ORIG_FROM2 : 0;
	e->expires_ns = now + cf_ct_lifetime_ns(IPPROTO_TCP, 0);
}

/*
 * Track a packet of a known connection. Returns 1 when this is the first reply of the
 * connection (the caller's sampling reports it like a first packet).
 *
 * Everything here writes only on change: flag bits when a new one appears (atomically, as
 * both directions may run at once on different CPUs), the deadline when it moves by more
 * than a second or the connection starts closing. A busy flow then only reads its entry.
 */
static __always_inline int cf_ct_update(struct cf_ct_entry *e, __u8 proto, int reply, __u8 tcp_flags,
					__u64 now)
{
	__u32 add = 0, old = e->flags, flags;
	int first_reply = 0;
	__u64 expires;

	if (reply) {
		if (!(old & CF_CT_F_SEEN_REPLY))
			add |= CF_CT_F_SEEN_REPLY;
		if (tcp_flags & CF_TCP_FIN)
			add |= CF_CT_F_FIN_REPLY;
		if ((e->tcp_flags_reply | tcp_flags) != e->tcp_flags_reply)
			e->tcp_flags_reply |= tcp_flags;
	} else {
		if (tcp_flags & CF_TCP_FIN)
			add |= CF_CT_F_FIN_ORIG;
		if ((e->tcp_flags_orig | tcp_flags) != e->tcp_flags_orig)
			e->tcp_flags_orig |= tcp_flags;
	}
	if (tcp_flags & CF_TCP_RST)
		add |= CF_CT_F_RST;
	add &= ~old;
	if (add) {
		/* Only one CPU wins the SEEN_REPLY transition, so only one reports it. */
		old = __sync_fetch_and_or(&e->flags, add);
		first_reply = (add & CF_CT_F_SEEN_REPLY) && !(old & CF_CT_F_SEEN_REPLY);
	}
	flags = old | add;
	expires = now + cf_ct_lifetime_ns(proto, flags);
	if (add || expires > e->expires_ns + CF_NSEC_PER_SEC)
		e->expires_ns = expires;
	return first_reply;
}

#endif /* CF_CONNTRACK_H */
