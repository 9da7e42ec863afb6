/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared includes, constants and load-time configuration of the conform datapath.
 *
 * uapi headers are used instead of vmlinux.h: the datapath needs no CO-RE (it only touches
 * __sk_buff and packet bytes), so the object does not depend on the build host's kernel.
 */
#ifndef CF_COMMON_H
#define CF_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * ICMP numbers. <linux/icmp.h> pulls libc's <sys/socket.h> through <linux/if.h>, which does
 * not build for -target bpf, so the few values needed are spelled out here.
 */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT 5
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMP_FRAG_NEEDED 4
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

/* Policy direction, always from the endpoint's point of view. */
#define CF_DIR_INGRESS 0
#define CF_DIR_EGRESS 1

/* Enforcement mode per direction (cf_endpoint.ingress_mode / egress_mode). */
#define CF_MODE_NONE 0
#define CF_MODE_ENFORCE 1
#define CF_MODE_AUDIT 2

/* Reserved security identities (Cilium numbering). */
#define CF_ID_UNKNOWN 0
#define CF_ID_HOST 1
#define CF_ID_WORLD 2

#define CF_NSEC_PER_SEC 1000000000ULL

/*
 * Load-time knobs. The loader rewrites .rodata before load, so the verifier sees them as
 * constants and prunes the branches a configuration does not use.
 */

/* 0: trace every packet; 1: first packet of each connection and direction, plus every
 * drop; 2: no trace events (drops and policy verdicts only). */
const volatile __u8 cfg_trace_mode = 0;
/* Admit ICMP fragmentation-needed whatever the policy says (Cilium's default), so path MTU
 * discovery keeps working for flows the peer's policy does not track. */
const volatile __u8 cfg_allow_icmp_frag_needed = 1;
/*
 * Wake the event consumer only once this many bytes are pending in cf_events_v1 (0: on
 * every event). Below it the consumer finds events on its own short poll interval, so a
 * trickle of events costs no thread wakeups on the packet path.
 */
const volatile __u32 cfg_event_wakeup_bytes = 65536;
/* Conntrack lifetimes in seconds (Cilium's defaults). */
const volatile __u32 cfg_ct_lifetime_tcp = 21600;
const volatile __u32 cfg_ct_lifetime_syn = 60;
const volatile __u32 cfg_ct_lifetime_close = 10;
const volatile __u32 cfg_ct_lifetime_other = 60;

#define CF_TRACE_ALL 0
#define CF_TRACE_FIRST 1
#define CF_TRACE_NONE 2

#endif /* CF_COMMON_H */
