// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark baseline: a tc program that passes everything, to separate the cost of the
 * clsact hook itself from the cost of the datapath's work. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int cft_noop(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
