// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* syscalls.bpf.c: failures only the system call sees — UDP connect()/sendto() autobind
 * failing with EAGAIN, bind(port 0) failing with EADDRINUSE. Enabling any syscalls:*
 * tracepoint puts every task on the syscall slow path, so user space attaches these only
 * on demand (--arm-syscalls, or while bind/UDP pressure is high). Its maps are the main
 * object's (user space reuses their fds). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "account.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define IPPROTO_UDP	17
#define EAGAIN		11
#define EADDRINUSE	98
#define SA_MAX		28	/* sizeof(struct sockaddr_in6) */

enum { OP_CONNECT = 1, OP_SENDTO, OP_BIND };

struct pending_call {
	__u64 fd;
	__u32 op;
	__u32 salen;
	__u8  sa[SA_MAX];
	__u8  pad[4];
};

/* The arguments of a call in flight, per thread, until its exit tells how it ended. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending SEC(".maps");

static __always_inline int on_enter(__u64 fd, const void *usa, __u64 len, __u32 op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_call call = {};

	call.fd = fd;
	call.op = op;
	if (usa && len >= 2) {
		call.salen = len > SA_MAX ? SA_MAX : len;
		bpf_probe_read_user(call.sa, call.salen & (SA_MAX | 3), usa);
	}
	if (bpf_map_update_elem(&pending, &tid, &call, BPF_ANY))
		counter_inc(CP_CNT_MAP_FULL);
	return 0;
}

/* The socket behind fd in the current task, or NULL. */
static __always_inline struct sock *sock_from_fd(__u64 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;
	struct socket *sock;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)	/* not a socket */
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/* sock_from_fd() returns a plain address, not a BTF pointer: the hooks' plain-load readers
 * (account.bpf.h) do not apply, these probe-read the same fields. */
static __always_inline __u64 probed_netns_cookie(const struct sock *sk)
{
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	struct net___atomic_cookie *old = (void *)net;

	if (bpf_core_field_exists(old->net_cookie.counter))
		return BPF_CORE_READ(old, net_cookie.counter);
	return BPF_CORE_READ(net, net_cookie);
}

static __always_inline void probed_addrs(const struct sock *sk, __u8 *saddr, __u8 *daddr)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET) {
		addr_v4mapped(saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		addr_v4mapped(daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		bpf_core_read(saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* Address and port of a struct sockaddr copied from user space; false if not IP. */
static __always_inline bool sockaddr_parse(const struct pending_call *c, __u8 *addr, __u16 *port)
{
	__u16 family = *(__u16 *)c->sa;

	*port = bpf_ntohs(*(__u16 *)(c->sa + 2));
	if (family == AF_INET && c->salen >= 8) {
		__u32 a4 = *(__u32 *)(c->sa + 4);

		addr_v4mapped(addr, a4);
		return true;
	}
	if (family == AF_INET6 && c->salen >= 24) {
		__builtin_memcpy(addr, c->sa + 8, 16);
		return true;
	}
	return false;
}

static __always_inline int on_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct cp_fail_key key = {};
	struct pending_call *p, call;
	struct sock *sk;
	__u16 port;
	__u8 proto;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	call = *p;
	bpf_map_delete_elem(&pending, &tid);
	if (ret != -EAGAIN && ret != -EADDRINUSE)
		return 0;
	sk = sock_from_fd(call.fd);
	if (!sk)
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	key.dest.netns_cookie = probed_netns_cookie(sk);
	if (!netns_wanted(key.dest.netns_cookie))
		return 0;
	key.dest.proto = proto;

	if (call.op == OP_BIND) {
		/* bind() to port 0 found no free port for that address. */
		if (ret != -EADDRINUSE || !sockaddr_parse(&call, key.dest.saddr, &port) || port)
			return 0;
		key.err = EADDRINUSE;
	} else {
		/* UDP autobind found no port: the socket is still unbound. */
		if (ret != -EAGAIN || proto != IPPROTO_UDP ||
		    BPF_CORE_READ(sk, __sk_common.skc_num))
			return 0;
		if (!sockaddr_parse(&call, key.dest.daddr, &key.dest.dport)) {
			probed_addrs(sk, key.dest.saddr, key.dest.daddr);
			key.dest.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
		key.err = EAGAIN;
	}
	count_failure(&key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], (void *)ctx->args[1], ctx->args[2], OP_CONNECT);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int handle_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int handle_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], (void *)ctx->args[4], ctx->args[5], OP_SENDTO);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int handle_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int handle_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], (void *)ctx->args[1], ctx->args[2], OP_BIND);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int handle_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
