/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cf_events_v1: one ring buffer for every event the datapath reports.
 *
 * A single fixed-size record type keeps the consumer a plain array decoder. `type` and
 * `verdict` use Hubble's numbers (event_type.type, Verdict), so the observer maps them
 * without a table.
 */
#ifndef CF_EVENTS_H
#define CF_EVENTS_H

#include "common.h"
#include "metrics.h"

/* cf_event.type = Hubble event_type.type */
#define CF_EVENT_DROP 1
#define CF_EVENT_TRACE 4
#define CF_EVENT_POLICY_VERDICT 5

/* cf_event.verdict = Hubble Verdict */
#define CF_EV_FORWARDED 1
#define CF_EV_DROPPED 2
#define CF_EV_AUDIT 4
#define CF_EV_REDIRECTED 5

/* Trace observation points (cf_event.subtype of TRACE), raw Cilium numbering. */
#define CF_OBS_TO_ENDPOINT 0
#define CF_OBS_TO_HOST 2
#define CF_OBS_FROM_ENDPOINT 5
#define CF_OBS_FROM_NETWORK 10
#define CF_OBS_TO_NETWORK 11

/* cf_event.flags */
#define CF_EVF_REPLY 0x01
#define CF_EVF_AUDIT 0x02
#define CF_EVF_NEW 0x04 /* first packet of a connection (or of its reply direction) */
#define CF_EVF_IPV6 0x08
#define CF_EVF_RELATED 0x10
#define CF_EVF_FRAGMENT 0x20

struct cf_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u8 type;
	__u8 subtype; /* DROP: drop reason & 0xff; TRACE: observation point; else 0 */
	__u8 verdict;
	__u8 direction; /* CF_DIR_* of the endpoint */
	__u8 flags;
	__u8 ct_state; /* CF_CT_* */
	__u8 match_type; /* CF_MATCH_* (policy verdicts) */
	__u8 proto;
	__u16 drop_reason; /* DROP, denied/audited POLICY_VERDICT; else 0 */
	__u16 proxy_port;
	__u32 ifindex;
	__u32 ep_id;
	__u32 src_identity;
	__u32 dst_identity;
	__u32 rule_ref;
	__u32 pkt_len; /* skb->len: bytes of this packet (whole GSO super-packet) */
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport; /* TCP/UDP/SCTP ports; 0 for ICMP */
	__be16 dport;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 pad;
	__u32 pad2; /* explicit tail padding: the record is a multiple of 8 bytes */
};

/*
 * BTF only describes types that maps, globals or function signatures use, and a ring
 * buffer has no value type. This never-read constant puts struct cf_event into the
 * object's BTF, so bpftool and the codec test can check its layout. It lives in .rodata,
 * which the object has anyway for its configuration.
 */
const volatile struct cf_event cf_abi_event = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* 4 MiB: about 45k events, 45 ms of a 1M/s burst while the consumer is off CPU. */
	__uint(max_entries, 1 << 22);
} cf_events_v1 SEC(".maps");

/*
 * Reserve a zeroed record, or count a lost event. Reserve+submit (not output) avoids a
 * copy; zeroing matters because ring memory is reused and the record is read by userspace.
 */
static __always_inline struct cf_event *cf_event_reserve(__u8 direction)
{
	struct cf_event *e = bpf_ringbuf_reserve(&cf_events_v1, sizeof(*e), 0);

	if (!e) {
		cf_metrics_add(direction, CF_METRIC_LOST_EVENTS, 0);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/*
 * Every wakeup costs a context switch of the consumer thread and then of the JS thread, on
 * the CPUs the traffic needs. Events are submitted silently and a wakeup is forced only
 * when enough data is pending (the kernel's adaptive mode would never wake once a silent
 * record sits unconsumed ahead of this one).
 */
static __always_inline void cf_event_submit(struct cf_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (cfg_event_wakeup_bytes == 0)
		flags = 0;
	else if (bpf_ringbuf_query(&cf_events_v1, BPF_RB_AVAIL_DATA) + sizeof(*e) >= cfg_event_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

#endif /* CF_EVENTS_H */
