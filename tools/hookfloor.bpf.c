// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* hookfloor.bpf.c: connpressure's per-connection tracepoints with programs that return at
 * once. What any tool on these hooks pays before it does anything (see tools/hookfloor.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(floor_tcp_destroy_sock, struct sock *sk)
{
	return 0;
}
