/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing into a conntrack tuple plus what policy needs.
 *
 * Headers are copied out (cf_load): straight from the linear area when it holds them, the
 * common case, else with bpf_skb_load_bytes(), as a veth skb may carry headers in paged
 * data (GRO, sendpage). Copies need no pull/revalidate dance and keep the rest simple.
 */
#ifndef CF_PARSE_H
#define CF_PARSE_H

#include "common.h"
#include "conntrack.h"
#include "drop.h"

/* Headers never start deeper than this (Ethernet + IPv6 + 4 extension headers + ICMP). */
#define CF_MAX_HDR_OFF 512

/*
 * Copy n (a constant) bytes at off. The bound on off lets the verifier accept the variable
 * packet offset; the helper fallback costs ~10 ns more per header.
 */
static __always_inline int cf_load(struct __sk_buff *skb, __u32 off, void *to, const __u32 n)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (off <= CF_MAX_HDR_OFF && data + off + n <= end) {
		__builtin_memcpy(to, data + off, n);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, to, n);
}

#define CF_PARSE_OK 0
#define CF_PARSE_NOT_IP 1

#define CF_IP_MF 0x2000
#define CF_IP_OFFSET 0x1fff

struct cf_pkt {
	struct cf_tuple tuple;
	/* ICMP errors: the embedded packet's tuple (has_inner). */
	struct cf_tuple inner;
	__u32 len;
	/* What policy matches as the port: TCP/UDP/SCTP destination port, ICMP type. */
	__be16 policy_port;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 has_inner;
	/* L4 header present (not a later fragment, not an unknown next header). */
	__u8 has_l4;
	/* IPv4 first fragment of a datagram that has more (ports are remembered). */
	__u8 first_frag;
	/* IPv4/IPv6 fragment with offset != 0: no L4 header of its own. */
	__u8 later_frag;
	/* Neighbour discovery and MLD: pass outside policy, IPv6 does not work without them. */
	__u8 control;
	__be16 frag_id;
};

static __always_inline int cf_is_port_proto(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/*
 * Ports of an L4 header at off into key. ICMP echo uses the identifier as a port, on the
 * request's source side and the reply's destination side, so a reply's reversed tuple is
 * the request's tuple.
 */
static __always_inline int cf_parse_inner_l4(struct __sk_buff *skb, __u32 off, struct cf_tuple *key)
{
	__u8 icmp[8];

	if (cf_is_port_proto(key->proto)) {
		__be16 ports[2];

		if (cf_load(skb, off, ports, sizeof(ports)) < 0)
			return -1;
		key->sport = ports[0];
		key->dport = ports[1];
	} else if (key->proto == IPPROTO_ICMP || key->proto == IPPROTO_ICMPV6) {
		__u8 req = key->proto == IPPROTO_ICMP ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
		__u8 rep = key->proto == IPPROTO_ICMP ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY;

		if (cf_load(skb, off, icmp, sizeof(icmp)) < 0)
			return -1;
		if (icmp[0] == req)
			__builtin_memcpy(&key->sport, &icmp[4], 2);
		else if (icmp[0] == rep)
			__builtin_memcpy(&key->dport, &icmp[4], 2);
	}
	return 0;
}

static __always_inline int cf_icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB ||
	       type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT;
}

static __always_inline int cf_icmp6_is_error(__u8 type)
{
	return type >= 1 && type <= 4;
}

static __always_inline int cf_icmp6_is_control(__u8 type)
{
	/* MLD query/report/done (130-132), RS/RA/NS/NA/redirect (133-137), MLDv2 report (143). */
	return (type >= 130 && type <= 137) || type == 143;
}

/* The embedded header of an ICMPv4 error: its tuple, for the RELATED lookup. */
static __always_inline void cf_parse_icmp4_inner(struct __sk_buff *skb, __u32 off, struct cf_pkt *p)
{
	struct iphdr ip;

	if (cf_load(skb, off, &ip, sizeof(ip)) < 0 || ip.ihl < 5)
		return;
	p->inner.family = 4;
	p->inner.proto = ip.protocol;
	p->inner.saddr[0] = ip.saddr;
	p->inner.daddr[0] = ip.daddr;
	if (cf_parse_inner_l4(skb, off + ip.ihl * 4, &p->inner) < 0)
		return;
	p->has_inner = 1;
}

static __always_inline void cf_parse_icmp6_inner(struct __sk_buff *skb, __u32 off, struct cf_pkt *p)
{
	struct ipv6hdr ip6;

	/* Extension headers inside the embedded packet are not walked: rare, and a miss only
	 * means the error is judged by policy like any other ICMPv6 packet. */
	if (cf_load(skb, off, &ip6, sizeof(ip6)) < 0)
		return;
	p->inner.family = 6;
	p->inner.proto = ip6.nexthdr;
	__builtin_memcpy(p->inner.saddr, &ip6.saddr, 16);
	__builtin_memcpy(p->inner.daddr, &ip6.daddr, 16);
	if (cf_parse_inner_l4(skb, off + sizeof(ip6), &p->inner) < 0)
		return;
	p->has_inner = 1;
}

/* L4 of the outer packet. Returns 0 or a negative drop reason. */
static __always_inline int cf_parse_l4(struct __sk_buff *skb, __u32 off, struct cf_pkt *p)
{
	struct cf_tuple *t = &p->tuple;

	if (t->proto == IPPROTO_TCP) {
		struct tcphdr tcp;

		if (cf_load(skb, off, &tcp, sizeof(tcp)) < 0)
			return -CF_DROP_CT_TRUNCATED_OR_INVALID_HEADER;
		t->sport = tcp.source;
		t->dport = tcp.dest;
		p->tcp_flags = ((__u8 *)&tcp)[13];
		p->policy_port = tcp.dest;
	} else if (t->proto == IPPROTO_UDP || t->proto == IPPROTO_SCTP) {
		__be16 ports[2];

		if (cf_load(skb, off, ports, sizeof(ports)) < 0)
			return -CF_DROP_CT_TRUNCATED_OR_INVALID_HEADER;
		t->sport = ports[0];
		t->dport = ports[1];
		p->policy_port = ports[1];
	} else if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
		__u8 icmp[8];

		if (cf_load(skb, off, icmp, sizeof(icmp)) < 0)
			return -CF_DROP_CT_TRUNCATED_OR_INVALID_HEADER;
		p->icmp_type = icmp[0];
		p->icmp_code = icmp[1];
		p->policy_port = bpf_htons(icmp[0]);
		if (t->proto == IPPROTO_ICMP) {
			if (icmp[0] == ICMP_ECHO)
				__builtin_memcpy(&t->sport, &icmp[4], 2);
			else if (icmp[0] == ICMP_ECHOREPLY)
				__builtin_memcpy(&t->dport, &icmp[4], 2);
			else if (cf_icmp4_is_error(icmp[0]))
				cf_parse_icmp4_inner(skb, off + 8, p);
		} else {
			if (icmp[0] == ICMPV6_ECHO_REQUEST)
				__builtin_memcpy(&t->sport, &icmp[4], 2);
			else if (icmp[0] == ICMPV6_ECHO_REPLY)
				__builtin_memcpy(&t->dport, &icmp[4], 2);
			else if (cf_icmp6_is_error(icmp[0]))
				cf_parse_icmp6_inner(skb, off + 8, p);
			else if (cf_icmp6_is_control(icmp[0]))
				p->control = 1;
		}
	}
	p->has_l4 = 1;
	return 0;
}

static __always_inline int cf_parse_ipv4(struct __sk_buff *skb, struct cf_pkt *p)
{
	struct iphdr ip;
	__u16 frag;

	if (cf_load(skb, ETH_HLEN, &ip, sizeof(ip)) < 0 || ip.ihl < 5 || ip.version != 4)
		return -CF_DROP_INVALID_PACKET_DROPPED;
	p->tuple.family = 4;
	p->tuple.proto = ip.protocol;
	p->tuple.saddr[0] = ip.saddr;
	p->tuple.daddr[0] = ip.daddr;
	frag = bpf_ntohs(ip.frag_off);
	if (frag & CF_IP_OFFSET) {
		p->later_frag = 1;
		p->frag_id = ip.id;
		return CF_PARSE_OK;
	}
	if (frag & CF_IP_MF) {
		p->first_frag = 1;
		p->frag_id = ip.id;
	}
	return cf_parse_l4(skb, ETH_HLEN + ip.ihl * 4, p);
}

#define CF_IPV6_MAX_EXT 4

static __always_inline int cf_parse_ipv6(struct __sk_buff *skb, struct cf_pkt *p)
{
	struct ipv6hdr ip6;
	__u32 off = ETH_HLEN + sizeof(ip6);
	__u8 nexthdr;
	int i;

	if (cf_load(skb, ETH_HLEN, &ip6, sizeof(ip6)) < 0 || ip6.version != 6)
		return -CF_DROP_INVALID_PACKET_DROPPED;
	p->tuple.family = 6;
	__builtin_memcpy(p->tuple.saddr, &ip6.saddr, 16);
	__builtin_memcpy(p->tuple.daddr, &ip6.daddr, 16);
	nexthdr = ip6.nexthdr;

	/* Bounded walk: the verifier needs a constant trip count. */
#pragma unroll
	for (i = 0; i < CF_IPV6_MAX_EXT; i++) {
		__u8 ext[8];

		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING && nexthdr != IPPROTO_DSTOPTS &&
		    nexthdr != IPPROTO_FRAGMENT && nexthdr != IPPROTO_AH)
			break;
		if (cf_load(skb, off, ext, sizeof(ext)) < 0)
			return -CF_DROP_INVALID_IPV6_EXTENSION_HEADER;
		if (nexthdr == IPPROTO_FRAGMENT) {
			__u16 frag_off = ((__u16)ext[2] << 8) | ext[3];

			if (frag_off & 0xfff8) {
				p->tuple.proto = ext[0];
				p->later_frag = 1;
				return CF_PARSE_OK;
			}
			off += 8;
		} else if (nexthdr == IPPROTO_AH) {
			off += ((__u32)ext[1] + 2) * 4;
		} else {
			off += ((__u32)ext[1] + 1) * 8;
		}
		nexthdr = ext[0];
	}
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING || nexthdr == IPPROTO_DSTOPTS ||
	    nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_AH)
		return -CF_DROP_INVALID_IPV6_EXTENSION_HEADER;
	p->tuple.proto = nexthdr;
	return cf_parse_l4(skb, off, p);
}

/* Returns CF_PARSE_OK, CF_PARSE_NOT_IP (pass untouched: ARP, LLDP...) or -drop reason. */
static __always_inline int cf_parse(struct __sk_buff *skb, struct cf_pkt *p)
{
	p->len = skb->len;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return cf_parse_ipv4(skb, p);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return cf_parse_ipv6(skb, p);
	return CF_PARSE_NOT_IP;
}

#endif /* CF_PARSE_H */
