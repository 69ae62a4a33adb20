// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* connpressure.bpf.c: the hooks. Only tracepoints, cgroup bind hooks and an iterator: all
 * of them work on kernels without kprobes or fentry. (A sockops program would see the port
 * chosen a little earlier, but the kernel calls it a dozen times per connection for every
 * socket: it cost 14% of a loopback storm's rate. See README.md.) */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "account.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SOCK_BINDPORT_LOCK 8

static __always_inline struct cp_sock_state *state_of(const void *sk, bool create)
{
	return bpf_sk_storage_get(&sock_state, (void *)sk, 0,
				  create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
}

/* The same without creating it, and without a helper call for a socket that has no
 * sk_storage at all (most: accepted children, connect()s with a slot). */
static __always_inline struct cp_sock_state *stored_state_of(const struct sock *sk)
{
	return sk->sk_bpf_storage ? state_of(sk, false) : NULL;
}

static __always_inline __u32 current_pid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline bool bindport_locked(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD(sk, sk_userlocks) & SOCK_BINDPORT_LOCK;
}

/*
 * CLOSE -> SYN_SENT: connect() is about to pick a local port (process context: the pid is
 * the caller's). The destination is known already (the route set saddr); the port comes
 * next, in inet_hash_connect(). Count it now: if no port is found, SYN_SENT -> CLOSE with
 * no port follows and takes it back. A socket that has a port already got it from bind().
 * The socket is followed in a slot, or with sk_storage when its slot is taken.
 */
/* Rarer paths are __noinline subprograms, laid out after the hot path's code (the program
 * is 13 KB JITed). In a 12-round server-close run this changed nothing measurable: 0.97 and 0.97. */
static __noinline int connect_start_stored(const struct sock *sk)
{
	struct cp_sock_state *st = state_of(sk, true);

	if (!st) {
		counter_inc(CP_CNT_MAP_FULL);
		return 0;
	}
	if (st->released)	/* connect() again on a socket that gave its port back */
		__builtin_memset(st, 0, sizeof(*st));
	if (st->role != CP_ROLE_NONE)
		return 0;
	bpf_get_current_comm(st->comm, sizeof(st->comm));
	adopt_connect(st, sk, BPF_TCP_SYN_SENT, current_pid(), true);
	return 0;
}

static __always_inline void on_connect_start(const struct sock *sk)
{
	struct cp_sock_slot *slot;

	if (sk->__sk_common.skc_num || !sk_netns_wanted(sk))
		return;
	slot = slot_claim(sk);
	if (slot) {
		slot_connect_start(slot, sk, current_pid());
		return;
	}
	counter_inc(CP_CNT_SLOT_TAKEN);
	connect_start_stored(sk);
}

/* SYN_SENT -> anything: the port is known now. A 4-tuple the model had in TIME_WAIT was
 * reused by this connect(): the kernel killed that TIME_WAIT socket. */
static __always_inline void check_tw_reuse(const struct cp_dest_key *dest, __u16 sport)
{
	struct cp_dest_stats *s;
	struct cp_tw_key twk;
	struct cp_tw_val *tw;
	bool live;

	if (!tw_entries)
		return;		/* the model is empty: nothing to reuse */
	tw_key_from(&twk, dest, sport);
	tw = bpf_map_lookup_elem(&tw_socks, &twk);
	if (!tw)
		return;
	/* An entry past its 60 s is one user space counts as expired already. */
	live = !(tw->flags & CP_TW_BOUND) &&
	       bpf_ktime_get_ns() - tw->entered_ns < CP_TW_SECONDS * 1000000000ULL;
	if (bpf_map_delete_elem(&tw_socks, &twk))
		return;		/* user space expired or corrected it meanwhile */
	counter_inc(CP_CNT_TW_REUSED);
	if (live && (s = dest_lookup(dest)))
		__sync_fetch_and_add(&s->tw_out, 1);
}

/* SYN_SENT -> CLOSE with no local port: inet_hash_connect() found none free. The
 * tracepoint fires after inet_put_port() cleared skc_num; inet_sport stays. */
static __always_inline bool no_port_found(const struct sock *sk, int oldstate, int newstate)
{
	return oldstate == BPF_TCP_SYN_SENT && newstate == BPF_TCP_CLOSE &&
	       BPF_CORE_READ((struct inet_sock *)sk, inet_sport) == 0;
}

/* A state change of a socket with a slot: the census counts the slot, so this only writes
 * it. The destination, when needed, is read from the socket. */
static __always_inline void on_slot_transition(struct cp_sock_slot *slot, const struct sock *sk,
					       int oldstate, int newstate)
{
	__u32 owner = slot->owner;
	__u8 to = bucket_of_state(newstate);
	struct cp_dest_stats *s;
	struct cp_dest_key dest;

	if (no_port_found(sk, oldstate, newstate)) {
		dest_key_from_sk(&dest, sk);
		s = dest_lookup(&dest);
		if (s)
			__sync_fetch_and_add(&s->connects, -1);	/* no port was taken */
		slot_free(slot);
		record_failure(sk, EADDRNOTAVAIL);
		return;
	}
	if (newstate == BPF_TCP_CLOSE) {
		if (hands_off(oldstate, sk->sk_err))
			slot_handoff(slot, sk);
		slot_free(slot);
		return;
	}
	if (oldstate == BPF_TCP_SYN_SENT && tw_entries) {	/* the port is known now */
		dest_key_from_sk(&dest, sk);
		check_tw_reuse(&dest, sk->__sk_common.skc_num);
	}
	if (to != CP_SLOT_BUCKET(owner))
		*(volatile __u32 *)&slot->owner = (owner & ~3u) | to;
}

/* bind() took a port (not called for IP_BIND_ADDRESS_NO_PORT nor on failure). */
static __always_inline int on_post_bind(struct bpf_sock *ctx, bool v6)
{
	struct cp_sock_state *st;

	if (ctx->protocol != IPPROTO_TCP || !ctx->src_port ||
	    !netns_wanted(bpf_get_netns_cookie(ctx)))
		return 1;
	st = state_of(ctx, true);
	if (!st) {
		counter_inc(CP_CNT_MAP_FULL);
		return 1;
	}
	if (st->role != CP_ROLE_NONE)
		return 1;
	st->dest.netns_cookie = bpf_get_netns_cookie(ctx);
	if (v6) {
		/* ctx fields must be loaded one word at a time */
		__u32 *a = (__u32 *)st->dest.saddr;

		a[0] = ctx->src_ip6[0];
		a[1] = ctx->src_ip6[1];
		a[2] = ctx->src_ip6[2];
		a[3] = ctx->src_ip6[3];
	} else {
		addr_v4mapped(st->dest.saddr, ctx->src_ip4);
	}
	st->dest.proto = IPPROTO_TCP;
	st->sport = ctx->src_port;
	st->pid = current_pid();
	bpf_get_current_comm(st->comm, sizeof(st->comm));
	st->role = CP_ROLE_BIND;
	bind_add(st, 1);
	return 1;
}

SEC("cgroup/post_bind4")
int handle_post_bind4(struct bpf_sock *ctx)
{
	return on_post_bind(ctx, false);
}

SEC("cgroup/post_bind6")
int handle_post_bind6(struct bpf_sock *ctx)
{
	return on_post_bind(ctx, true);
}

/* A state change of a socket without a slot that has sk_storage (bind()-held ports,
 * listeners, adopted sockets, connect()s whose slot set was full), or a connect() that
 * found no port. */
static __noinline int on_stored_transition(struct cp_sock_state *st, const struct sock *sk,
					   int oldstate, int newstate)
{
	if (no_port_found(sk, oldstate, newstate)) {
		if (st && st->role == CP_ROLE_CONNECT) {
			struct cp_dest_stats *s = dest_lookup(&st->dest);

			if (s && st->bucket != CP_BUCKET_NONE)
				__sync_fetch_and_add(&s->connects, -1);	/* no port was taken */
			release_port(st, false);
		}
		record_failure(sk, EADDRNOTAVAIL);
		return 0;
	}
	if (!st)
		return 0;
	if (newstate == BPF_TCP_LISTEN && st->role == CP_ROLE_NONE &&
	    sk_netns_wanted(sk)) {
		/* listen() without bind() picked its port itself. */
		dest_key_from_sk(&st->dest, sk);
		__builtin_memset(st->dest.daddr, 0, sizeof(st->dest.daddr));
		st->dest.dport = 0;
		st->sport = sk->__sk_common.skc_num;
		st->pid = current_pid();
		bpf_get_current_comm(st->comm, sizeof(st->comm));
		st->role = CP_ROLE_BIND;
		bind_add(st, 1);
		return 0;
	}
	if (st->role == CP_ROLE_NONE)
		return 0;
	if (oldstate == BPF_TCP_SYN_SENT && st->role == CP_ROLE_CONNECT) {
		st->sport = sk->__sk_common.skc_num;
		check_tw_reuse(&st->dest, st->sport);
	}
	account_transition(st, oldstate, newstate, bindport_locked(sk), sk->sk_err);
	return 0;
}

/*
 * Every TCP state change on the machine passes here, so the common case must be cheap: most
 * return after a compare of the states, or after one load (no cookie: no slot) and one
 * sk_storage lookup. tp_btf arguments are typed: plain loads, no probe-read helper calls.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct cp_sock_slot *slot;
	struct cp_sock_state *st;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (oldstate == BPF_TCP_CLOSE && newstate == BPF_TCP_SYN_SENT) {
		on_connect_start(sk);
		return 0;
	}
	/* Most changes stay within a bucket (SYN_RECV -> ESTABLISHED, FIN_WAIT1 -> FIN_WAIT2,
	 * CLOSE_WAIT -> LAST_ACK): no count changes, for any socket. */
	if (oldstate != BPF_TCP_CLOSE && newstate != BPF_TCP_CLOSE &&
	    bucket_of_state(oldstate) == bucket_of_state(newstate))
		return 0;
	/* Leaving CLOSE otherwise (listen(), an accepted child) is never a slot's socket. */
	if (oldstate != BPF_TCP_CLOSE && (slot = slot_of(sk))) {
		on_slot_transition(slot, sk, oldstate, newstate);
		return 0;
	}
	st = newstate == BPF_TCP_LISTEN ? state_of(sk, true) : stored_state_of(sk);
	if (st || no_port_found(sk, oldstate, newstate))
		on_stored_transition(st, sk, oldstate, newstate);
	return 0;
}

/* Sockets that never change state (bound, never connected) end here. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(handle_tcp_destroy_sock, struct sock *sk)
{
	struct cp_sock_state *st = stored_state_of(sk);
	struct cp_sock_slot *slot;

	if (st && st->role != CP_ROLE_NONE)
		release_port(st, false);
	/* A slot is freed when its socket enters CLOSE. When that change went unseen (the
	 * program was busy on this CPU: lost.recursion_misses), give the port back now; the
	 * slot must not outlive its socket. */
	slot = slot_of(sk);
	if (slot)
		slot_free(slot);
	return 0;
}

/* Threads (tids) whose iter/tcp pass wants the live connect()-side sockets: a check does
 * (the gauge check), a first pass of a netns does not (it counts them itself, and a
 * million-socket netns would give half a million records for nothing). */
volatile __u32 connect_rec_tids[CP_ITER_THREADS];

static __always_inline bool connect_recs_wanted(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	for (int i = 0; i < CP_ITER_THREADS; i++)
		if (connect_rec_tids[i] == tid)
			return true;
	return false;
}

/*
 * The kernel's truth, one netns per pass (the netns of the thread that created the
 * iterator). Sockets that existed before connpressure started are adopted here, so that
 * their later changes are counted; user space gets a record only of what it needs:
 * TIME_WAIT sockets (to check the model), live connect()-side sockets (to check the
 * gauges) and sockets on bind()-made ports. The seq file
 * may show a socket twice when its buffer fills, so adoption is idempotent.
 */
SEC("iter/tcp")
int iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct tcp_timewait_sock *tw;
	struct cp_sock_state *st;
	struct cp_iter_rec rec = {};
	struct tcp_sock *tp;
	int state;

	if (!skc)
		return 0;
	state = skc->skc_state;
	if (state == BPF_TCP_NEW_SYN_RECV)
		return 0;	/* request sockets hold the listener's port */
	sk_read_addrs((const struct sock *)skc, rec.saddr, rec.daddr);
	rec.sport = skc->skc_num;
	rec.dport = bpf_ntohs(skc->skc_dport);
	rec.state = state;

	if (state == BPF_TCP_TIME_WAIT) {
		tw = bpf_skc_to_tcp_timewait_sock(skc);
		if (!tw)
			return 0;
		rec.flags |= CP_REC_TW;
		if (bucket_made_by_bind(tw->tw_sk.tw_tb))
			rec.flags |= CP_REC_BINDPORT;
		bpf_seq_write(seq, &rec, sizeof(rec));
		return 0;
	}
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	if (bucket_made_by_bind(tp->inet_conn.icsk_bind_hash))
		rec.flags |= CP_REC_BINDPORT;
	if (state == BPF_TCP_LISTEN) {
		/* A listener holds its port until it closes: track it live from now on. */
		rec.flags |= CP_REC_LISTEN;
		st = state_of(tp, true);
		if (st && st->role == CP_ROLE_NONE) {
			st->dest.netns_cookie = sk_netns_cookie((const struct sock *)tp);
			sk_read_addrs((const struct sock *)tp, st->dest.saddr, st->dest.daddr);
			__builtin_memset(st->dest.daddr, 0, sizeof(st->dest.daddr));
			st->dest.proto = IPPROTO_TCP;
			st->sport = rec.sport;
			st->role = CP_ROLE_BIND;
			bind_add(st, 1);
		}
		return 0;
	}
	if (!(rec.flags & CP_REC_BINDPORT) && state != BPF_TCP_CLOSE) {
		/* Not counted yet unless it has a slot or sk_storage: adopt it. */
		st = slot_of((const struct sock *)tp) ? NULL : state_of(tp, true);
		if (st && st->role == CP_ROLE_NONE) {
			adopt_connect(st, (const struct sock *)tp, state, 0, false);
			counter_inc(CP_CNT_SEEDED);
		}
		if (connect_recs_wanted()) {
			rec.flags |= CP_REC_CONNECT;
			bpf_seq_write(seq, &rec, sizeof(rec));
		}
		return 0;
	}
	if (rec.flags & CP_REC_BINDPORT)	/* accepted, or bind() then connect() */
		bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

/*
 * UDP sockets that narrowed their own ephemeral range (IP_LOCAL_PORT_RANGE, Linux 6.3): an
 * autobind gets a port only there, so they run out before the netns range does. INET_DIAG
 * does not show the option; this walk (one netns per pass, like iter/tcp) writes only them.
 */
SEC("iter/udp")
int iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct cp_udp_rec rec = {};
	__u8 daddr[16];
	__u32 range;

	if (!udp || !bpf_core_field_exists(udp->inet.local_port_range))
		return 0;
	range = udp->inet.local_port_range;
	rec.sport = udp->inet.sk.__sk_common.skc_num;
	if (!range || !rec.sport)
		return 0;
	sk_read_addrs((const struct sock *)udp, rec.saddr, daddr);
	rec.range_lo = range & 0xffff;
	rec.range_hi = range >> 16;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* Bumped by user space before each walk of iter_task: what netns_walked holds from an
 * earlier walk does not count. */
volatile __u32 task_walk;

/* A task's id in the pid namespace at `level` (0: it has none there). */
static __always_inline __u32 pid_nr_at(const struct pid *pid, __u32 level)
{
	struct upid up = {};

	if (!pid || BPF_CORE_READ(pid, level) < level)
		return 0;
	bpf_core_read(&up, sizeof(up), &pid->numbers[level]);
	return up.nr;
}

/*
 * The network namespaces in use by some task, for their discovery: one record per netns
 * (the first task found in it). Looking at /proc/PID/task/TID/ns/net for every task instead
 * cost this process 0.4-0.5% of a core per 1,000 tasks at a 1 s interval. Ids are given as
 * the walking process's pid namespace numbers them (what its /proc shows), not the kernel's
 * own: connpressure may run in a container with a pid namespace of its own.
 */
SEC("iter/task")
int iter_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task, *me;
	struct cp_task_rec rec = {};
	__u32 walk = task_walk, *seen, level;
	struct net *net;

	if (!task)
		return 0;
	net = BPF_CORE_READ(task, nsproxy, net_ns);
	if (!net)
		return 0;	/* exiting: it has left its namespaces */
	rec.netns_cookie = net_cookie_of(net);
	seen = bpf_map_lookup_elem(&netns_walked, &rec.netns_cookie);
	if (seen && *seen == walk)
		return 0;
	/* Only the one task written per netns pays for its ids. */
	me = (struct task_struct *)bpf_get_current_task();
	level = BPF_CORE_READ(me, thread_pid, level);
	rec.netns_ino = BPF_CORE_READ(net, ns.inum);
	rec.tid = pid_nr_at(BPF_CORE_READ(task, thread_pid), level);
	rec.tgid = pid_nr_at(BPF_CORE_READ(task, group_leader, thread_pid), level);
	if (!rec.tid || !rec.tgid)
		return 0;	/* not numbered where we look (the walk shows only ours) */
	/* Marked once written: when the seq buffer is full, this task is shown again. */
	if (!bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec)))
		bpf_map_update_elem(&netns_walked, &rec.netns_cookie, &walk, BPF_ANY);
	return 0;
}
