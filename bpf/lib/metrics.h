/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cf_metrics_v1: per-CPU packet and byte counters by outcome and direction.
 *
 * Index = direction << 8 | code, where code is a drop reason (130..255) or one of the
 * small codes below. A per-CPU array needs no hashing and no atomics; the agent sums CPUs.
 */
#ifndef CF_METRICS_H
#define CF_METRICS_H

#include "common.h"

#define CF_METRIC_FORWARDED 0
#define CF_METRIC_AUDIT 1 /* forwarded, but policy would have dropped it */
#define CF_METRIC_LOST_EVENTS 2 /* events that found the ring buffer full (packets = events) */
#define CF_METRIC_REDIRECTED 3 /* reserved for the L7 proxy redirect */

#define CF_METRICS_SIZE 512

struct cf_metrics_value {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CF_METRICS_SIZE);
	__type(key, __u32);
	__type(value, struct cf_metrics_value);
} cf_metrics_v1 SEC(".maps");

static __always_inline void cf_metrics_add(__u8 direction, __u8 code, __u32 bytes)
{
	__u32 idx = ((__u32)(direction & 1) << 8) | code;
	struct cf_metrics_value *v = bpf_map_lookup_elem(&cf_metrics_v1, &idx);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

#endif /* CF_METRICS_H */
