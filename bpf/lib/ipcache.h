/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cf_ipcache_v1: longest-prefix match from an address to its security identity. */
#ifndef CF_IPCACHE_H
#define CF_IPCACHE_H

#include "common.h"

/* Bits of family + pad that precede the address; every key's prefixlen includes them. */
#define CF_IPCACHE_PREFIX_BASE 32

struct cf_ipcache_key {
	__u32 prefixlen;
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

#define CF_IPCACHE_F_LOCAL 0x01

struct cf_ipcache_value {
	__u32 identity;
	__be32 tunnel_endpoint;
	__u8 flags;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	/* LPM tries cannot be preallocated. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cf_ipcache_key);
	__type(value, struct cf_ipcache_value);
} cf_ipcache_v1 SEC(".maps");

/* addr points at 4 (family 4) or 16 (family 6) bytes in network order. */
static __always_inline __u32 cf_ipcache_identity(__u8 family, const __be32 *addr)
{
	struct cf_ipcache_key key = {};
	struct cf_ipcache_value *v;

	key.family = family;
	if (family == 4) {
		key.prefixlen = CF_IPCACHE_PREFIX_BASE + 32;
		__builtin_memcpy(key.addr, addr, 4);
	} else {
		key.prefixlen = CF_IPCACHE_PREFIX_BASE + 128;
		__builtin_memcpy(key.addr, addr, 16);
	}
	v = bpf_map_lookup_elem(&cf_ipcache_v1, &key);
	return v ? v->identity : CF_ID_WORLD;
}

#endif /* CF_IPCACHE_H */
