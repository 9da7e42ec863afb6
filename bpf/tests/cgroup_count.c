// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test-only cgroup program: counts the packets a cgroup sends, so the loader test can see
 * that a cgroup attach really runs the program. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cft_count SEC(".maps");

SEC("cgroup_skb/egress")
int cft_count_egress(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&cft_count, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
