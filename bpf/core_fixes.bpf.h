/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* core_fixes.bpf.h: CO-RE shims for kernel fields that changed type across versions.
 * The socket is a BTF pointer (tp_btf and iterator arguments): plain loads, which the
 * verifier turns into guarded loads, cost a fraction of a bpf_probe_read_kernel() call. */
#ifndef CP_CORE_FIXES_BPF_H
#define CP_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* struct net gained its cookie in Linux 5.7 as `atomic64_t net_cookie`; later kernels
 * (this project's 6.x among them) hold a plain `u64 net_cookie`. Read whichever exists. */
struct net___atomic_cookie {
	atomic64_t net_cookie;
} __attribute__((preserve_access_index));

static __always_inline __u64 sk_netns_cookie(const struct sock *sk)
{
	struct net *net = sk->__sk_common.skc_net.net;
	struct net___atomic_cookie *old = (void *)net;

	if (bpf_core_field_exists(old->net_cookie.counter))
		return old->net_cookie.counter;
	return net->net_cookie;
}

/* The same for a struct net reached through other pointers (probe reads). */
static __always_inline __u64 net_cookie_of(const struct net *net)
{
	struct net___atomic_cookie *old = (void *)net;

	if (bpf_core_field_exists(old->net_cookie.counter))
		return BPF_CORE_READ(old, net_cookie.counter);
	return BPF_CORE_READ(net, net_cookie);
}

/* IP_LOCAL_PORT_RANGE (Linux 6.3) keeps a per-socket range in inet_sock: lo | hi << 16.
 * 0 when unset or on kernels without it. */
static __always_inline __u32 sk_local_port_range(const struct sock *sk)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;

	if (!bpf_core_field_exists(inet->local_port_range))
		return 0;
	return BPF_CORE_READ(inet, local_port_range);	/* beyond struct sock: probe-read */
}

#endif /* CP_CORE_FIXES_BPF_H */
