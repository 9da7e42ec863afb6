// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Deliberately rejected by the verifier: reads packet bytes without checking data_end.
 * The loader test expects the verifier's own message in the load error.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int cf_broken(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)skb->data;

	return data[20] == 6 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
