/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* account.bpf.h: the accounting every hook shares: gauges per destination, holders,
 * the TIME_WAIT hand-off, bind-held ports and failures. One place, so that the
 * tracepoints, the bind hooks and the iterator count a socket the same way. */
#ifndef CP_ACCOUNT_BPF_H
#define CP_ACCOUNT_BPF_H

#include "maps.bpf.h"
#include "core_fixes.bpf.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define EEXIST		17
#define EADDRNOTAVAIL	99

/* With -n, the one netns to account for (its cookie); 0: every netns. Set by user space
 * before the hooks are attached. */
volatile __u64 only_netns;

/* sock_slots' size - 1 (a power of two - 1), set by user space before loading. */
const volatile __u32 sock_slot_mask = CP_DEF_SOCK_SLOTS - 1;

/* Zero when tw_socks is empty, which lets connect() skip looking for a TIME_WAIT 4-tuple to
 * reuse: user space stores the count it read each interval, a hand-off makes it non-zero. */
volatile __u64 tw_entries;

static __always_inline bool netns_wanted(__u64 cookie)
{
	return !only_netns || cookie == only_netns;
}

/* The same for a socket, without reading its netns when every netns is wanted. */
static __always_inline bool sk_netns_wanted(const struct sock *sk)
{
	return !only_netns || sk_netns_cookie(sk) == only_netns;
}

static __always_inline void counter_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)	/* per-CPU slot, but a softirq may interrupt us on this CPU */
		__sync_fetch_and_add(v, 1);
}

/* Insert a zeroed value unless present; a full map is counted, never silent. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *zero)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		counter_inc(CP_CNT_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(map, key);
}

/* Stripes in a dest_stats value - 1 (a power of two - 1), set by user space before loading. */
const volatile __u32 dest_stripe_mask = CP_DEST_STRIPES - 1;

/* A new destination's value: zero (a global: the value is too big for the stack). */
static const struct cp_dest_entry dest_zero;

/* This CPU's stripe of an entry (see struct cp_dest_entry). */
static __always_inline struct cp_dest_stats *dest_stripe(struct cp_dest_entry *e)
{
	return e ? &e->stripe[bpf_get_smp_processor_id() & dest_stripe_mask].s : NULL;
}

/* The counters of a destination to change from this CPU, or NULL. */
static __always_inline struct cp_dest_stats *dest_lookup(const struct cp_dest_key *dest)
{
	return dest_stripe(bpf_map_lookup_elem(&dest_stats, dest));
}

/* A destination's entry, made when it is new (NULL when the map is full: counted). */
static __always_inline struct cp_dest_entry *dest_entry_get(const struct cp_dest_key *dest)
{
	return lookup_or_init(&dest_stats, dest, &dest_zero);
}

/* The last destination id handed out; ids are never reused, so a slot that names a pruned
 * entry still names its destination (user space remembers the key). */
__u64 last_dest_id;

/* The entry's id, given on first use: only a new destination pays the atomic. */
static __always_inline __u32 dest_id_of(struct cp_dest_entry *e)
{
	__u64 id = e->id, old;

	if (id)
		return id;
	id = __sync_add_and_fetch(&last_dest_id, 1);
	if (!(__u32)id)	/* after 2^32 destinations: 0 means "none" in a slot */
		id = __sync_add_and_fetch(&last_dest_id, 1);
	old = __sync_val_compare_and_swap(&e->id, 0, id);
	return old ? old : id;	/* another CPU named it first */
}

static __always_inline void addr_v4mapped(__u8 *dst, __u32 addr_be)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr_be, 4);
}

/* Local and remote address of a socket (a BTF pointer), IPv4 as v4-mapped IPv6. */
static __always_inline void sk_read_addrs(const struct sock *sk, __u8 *saddr, __u8 *daddr)
{
	const struct sock_common *skc = &sk->__sk_common;

	if (skc->skc_family == AF_INET) {
		addr_v4mapped(saddr, skc->skc_rcv_saddr);
		addr_v4mapped(daddr, skc->skc_daddr);
	} else {
		__builtin_memcpy(saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(daddr, &skc->skc_v6_daddr, 16);
	}
}

static __always_inline void dest_key_from_sk(struct cp_dest_key *k, const struct sock *sk)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns_cookie = sk_netns_cookie(sk);
	sk_read_addrs(sk, k->saddr, k->daddr);
	k->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	k->proto = IPPROTO_TCP;
}

/* Was this socket's local port taken by bind() (or a listener)? The kernel marks bind
 * buckets that connect() created with fastreuse == fastreuseport == -1; connect() skips
 * every other bucket for all destinations (__inet_hash_connect). */
static __always_inline bool bucket_made_by_bind(const struct inet_bind_bucket *tb)
{
	if (!tb)
		return false;
	return tb->fastreuse >= 0 || tb->fastreuseport >= 0;
}

static __always_inline __u8 bucket_of_state(int state)
{
	switch (state) {
	case BPF_TCP_SYN_SENT:
		return CP_BUCKET_SYN_SENT;
	case BPF_TCP_ESTABLISHED:
	case BPF_TCP_SYN_RECV:	/* a connect() meeting a connect(): nearly established */
		return CP_BUCKET_ESTABLISHED;
	default:
		return CP_BUCKET_OTHER;
	}
}

static __always_inline void stats_add(struct cp_dest_stats *s, __u8 bucket, __s64 delta)
{
	if (bucket == CP_BUCKET_SYN_SENT)
		__sync_fetch_and_add(&s->syn_sent, delta);
	else if (bucket == CP_BUCKET_ESTABLISHED)
		__sync_fetch_and_add(&s->established, delta);
	else if (bucket == CP_BUCKET_OTHER)
		__sync_fetch_and_add(&s->other, delta);
}

/* The holder entry of (dest, pid), made when new; NULL when holder_ports had no room
 * (counted). A new holder is named comm, or the current task's when comm is NULL (process
 * context): the helper call is made only then, not for every connect() of a known holder. */
static __always_inline struct cp_holder_val *holder_get(const struct cp_dest_key *dest,
							__u32 pid, const char *comm)
{
	struct cp_holder_key key = {};
	struct cp_holder_val zero = {}, *v;

	key.dest = *dest;
	key.pid = pid;
	v = bpf_map_lookup_elem(&holder_ports, &key);
	if (v)
		return v;
	if (comm)
		__builtin_memcpy(zero.comm, comm, sizeof(zero.comm));
	else
		bpf_get_current_comm(zero.comm, sizeof(zero.comm));
	return lookup_or_init(&holder_ports, &key, &zero);
}

/* Bumped by user space after it deletes holder entries (pruning): every CPU's holder_seen
 * is stale then, so the next connect() of each pair looks its entry up again. */
volatile __u32 holders_gen;

/* A connect() of pid to dest (entry dest_id): make sure its holder entry exists, so that the
 * process is named. A per-CPU cache of recent pairs skips the lookup for a known holder:
 * hashing the 56-byte key was ~40 ns of a connection's ~330 ns of programs. */
static __always_inline void holder_note(const struct cp_dest_key *dest, __u32 dest_id, __u32 pid)
{
	__u64 pair = (__u64)dest_id << 32 | pid;
	__u32 i = (dest_id * 0x9e3779b1u ^ pid) & (CP_HOLDER_SEEN_WAYS - 1);
	struct cp_holder_seen *seen = bpf_map_lookup_elem(&holder_seen, &i);
	__u32 gen = holders_gen;

	if (seen && seen->pair == pair && seen->gen == gen)
		return;
	if (!holder_get(dest, pid, NULL) || !seen)
		return;		/* no room (counted): try again next time */
	seen->pair = pair;
	seen->gen = gen;
}

/* One more port of dest held by pid (a socket with sk_storage); false when there was no
 * room (counted). */
static __always_inline bool holder_inc(const struct cp_dest_key *dest, __u32 pid,
				       const char *comm)
{
	struct cp_holder_val *v = holder_get(dest, pid, comm);

	if (!v)
		return false;
	__sync_fetch_and_add(&v->ports, 1);
	return true;
}

/* The holder's comm to comm (for a TIME_WAIT entry); delta its ports. */
static __always_inline void holder_put(const struct cp_dest_key *dest, __u32 pid, char *comm,
				       __s64 delta)
{
	struct cp_holder_key key = {};
	struct cp_holder_val *v;

	key.dest = *dest;
	key.pid = pid;
	v = bpf_map_lookup_elem(&holder_ports, &key);
	if (!v)
		return;
	if (delta)
		__sync_fetch_and_add(&v->ports, delta);
	__builtin_memcpy(comm, v->comm, CP_COMM_LEN);
}

static __always_inline void bind_add(struct cp_sock_state *st, __s64 delta)
{
	struct cp_bind_key key = {};
	struct cp_bind_val zero = {}, *v;

	key.netns_cookie = st->dest.netns_cookie;
	__builtin_memcpy(key.addr, st->dest.saddr, sizeof(key.addr));
	key.port = st->sport;
	key.proto = IPPROTO_TCP;
	if (delta > 0) {
		zero.pid = st->pid;
		__builtin_memcpy(zero.comm, st->comm, sizeof(zero.comm));
		v = lookup_or_init(&bind_ports, &key, &zero);
	} else {
		v = bpf_map_lookup_elem(&bind_ports, &key);
	}
	if (v)
		__sync_fetch_and_add(&v->sockets, delta);
}

static __always_inline void tw_key_from(struct cp_tw_key *k, const struct cp_dest_key *dest,
					__u16 sport)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns_cookie = dest->netns_cookie;
	__builtin_memcpy(k->saddr, dest->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, dest->daddr, sizeof(k->daddr));
	k->sport = sport;
	k->dport = dest->dport;
	k->proto = IPPROTO_TCP;
}

/* The socket passed its 4-tuple to a TIME_WAIT socket, which has no events of its own.
 * False when the model had no room (counted). */
static __always_inline bool tw_handoff(const struct cp_dest_key *dest, __u16 sport, __u32 pid,
				       const char *comm, __u32 flags)
{
	struct cp_tw_key key;
	struct cp_tw_val val = {};

	tw_key_from(&key, dest, sport);
	val.entered_ns = bpf_ktime_get_ns();
	val.pid = pid;
	val.flags = flags;
	__builtin_memcpy(val.comm, comm, sizeof(val.comm));
	if (bpf_map_update_elem(&tw_socks, &key, &val, BPF_ANY)) {
		counter_inc(CP_CNT_MAP_FULL);
		return false;
	}
	/* Written only when it was zero: an add per hand-off moved its cache line (and the
	 * globals beside it, which every connect() reads) between CPUs 30,000 times a second. */
	if (!tw_entries)
		tw_entries = 1;
	return true;
}

/* A port a socket with sk_storage took (connect() or bind() role) goes back to the kernel,
 * or on to a TIME_WAIT socket when handoff. */
static __always_inline void release_port(struct cp_sock_state *st, bool handoff)
{
	if (st->released)
		return;
	st->released = 1;
	if (st->role == CP_ROLE_CONNECT) {
		struct cp_dest_stats *s = dest_lookup(&st->dest);
		char comm[CP_COMM_LEN] = {};

		if (s) {	/* one lookup for every change below */
			stats_add(s, st->bucket, -1);
			if (st->ranged)
				__sync_fetch_and_add(&s->ranged, -1);
		}
		if (st->holder_counted)
			holder_put(&st->dest, st->pid, comm, -1);
		if (handoff && tw_handoff(&st->dest, st->sport, st->pid, comm, 0) && s)
			__sync_fetch_and_add(&s->tw_in, 1);
		st->bucket = CP_BUCKET_NONE;
		st->holder_counted = 0;
	} else if (st->role == CP_ROLE_BIND) {
		bind_add(st, -1);
		if (handoff && tw_handoff(&st->dest, st->sport, st->pid, st->comm, CP_TW_BOUND))
			counter_inc(CP_CNT_TW_BOUND_IN);
	}
}

/* FIN_WAIT2/CLOSING -> CLOSE hands the 4-tuple to a TIME_WAIT socket (tcp_time_wait()),
 * unless a reset closed it (sk_err set by tcp_reset()). */
static __always_inline bool hands_off(int oldstate, int sk_err)
{
	return (oldstate == BPF_TCP_FIN_WAIT2 || oldstate == BPF_TCP_CLOSING) && !sk_err;
}

/* One state change of a socket with sk_storage, whichever hook saw it. */
static __always_inline void account_transition(struct cp_sock_state *st, int oldstate,
					       int newstate, bool bindport_locked, int sk_err)
{
	struct cp_dest_stats *s;
	__u8 bucket;

	if (st->released)
		return;
	if (newstate == BPF_TCP_CLOSE) {
		bool handoff = hands_off(oldstate, sk_err);

		/* A port bind() took explicitly stays with the socket until it is destroyed. */
		if (st->role == CP_ROLE_BIND && !handoff && bindport_locked)
			return;
		release_port(st, handoff);
		return;
	}
	if (st->role != CP_ROLE_CONNECT || st->bucket == CP_BUCKET_NONE)
		return;
	bucket = bucket_of_state(newstate);
	if (bucket == st->bucket)
		return;
	s = dest_lookup(&st->dest);	/* one lookup for both moves */
	if (s) {
		stats_add(s, st->bucket, -1);
		stats_add(s, bucket, 1);
	}
	st->bucket = bucket;
}

/* A socket with its own, narrower range (IP_LOCAL_PORT_RANGE) counts against that range:
 * remember the range in its destination. True when it has one. */
static __always_inline bool note_own_range(struct cp_dest_stats *s, const struct sock *sk)
{
	__u32 range = sk_local_port_range(sk);

	if (!range)
		return false;
	s->range_lo = range & 0xffff;
	s->range_hi = range >> 16;
	return true;
}

/* Start counting a socket whose port connect() chose, in `state` now. */
static __always_inline void adopt_connect(struct cp_sock_state *st, const struct sock *sk,
					  int state, __u32 pid, bool new_port)
{
	struct cp_dest_stats *s;

	dest_key_from_sk(&st->dest, sk);
	st->sport = sk->__sk_common.skc_num;
	st->pid = pid;
	st->role = CP_ROLE_CONNECT;
	s = dest_stripe(dest_entry_get(&st->dest));
	if (!s)
		return;		/* counted as map_full; the socket stays uncounted */
	if (new_port)
		__sync_fetch_and_add(&s->connects, 1);
	st->ranged = note_own_range(s, sk);
	if (st->ranged)
		__sync_fetch_and_add(&s->ranged, 1);
	st->bucket = bucket_of_state(state);
	stats_add(s, st->bucket, 1);
	st->holder_counted = holder_inc(&st->dest, pid, st->comm);
}

/*
 * Slots (struct cp_sock_slot): the cheap record of a connect()-side socket, found from the
 * socket's cookie, and counted by user space (the census). connect() gives the socket a
 * cookie; most other sockets never get one, so for them a plain load says "no slot". Only
 * the socket's own state changes write its slot, and the kernel makes them under the
 * socket's lock: no lock beyond the claim.
 */
/* A socket may take any of the CP_SLOT_WAYS slots of its set (one cache line): with 4 ways
 * a set is full far less often than a single slot is taken. The set comes from the cookie's
 * low bits, not a hash of it: the kernel hands out cookies in order (in per-CPU batches), so
 * a storm's sockets take neighbouring slots, in cache lines and pages the CPU has at hand.
 * A hash scattered them over the whole array: 170 ns more per server-close connection. */
static __always_inline struct cp_sock_slot *slot_at(__u64 cookie, __u32 way)
{
	__u32 set = (__u32)cookie & sock_slot_mask;
	__u32 i = (set & ~(CP_SLOT_WAYS - 1)) | way;

	return bpf_map_lookup_elem(&sock_slots, &i);	/* NULL past a tiny map's end */
}

/* sk's slot, or NULL when it has none. */
static __always_inline struct cp_sock_slot *slot_of(const struct sock *sk)
{
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct cp_sock_slot *slot;

	if (!cookie)
		return NULL;
	for (__u32 way = 0; way < CP_SLOT_WAYS; way++) {
		slot = slot_at(cookie, way);
		if (slot && slot->cookie == cookie)
			return slot;
	}
	return NULL;
}

/* Claim a slot for sk at connect(); NULL when its set is full. A connect() again on a
 * socket that still has its slot keeps it. */
static __always_inline struct cp_sock_slot *slot_claim(const struct sock *sk)
{
	/* Only a socket that had a cookie before can have a slot already. */
	struct cp_sock_slot *slot = slot_of(sk);
	__u64 cookie;

	if (slot)
		return slot;
	cookie = bpf_get_socket_cookie((void *)sk);
	for (__u32 way = 0; way < CP_SLOT_WAYS; way++) {
		slot = slot_at(cookie, way);
		if (slot && !slot->cookie &&
		    __sync_val_compare_and_swap(&slot->cookie, 0, cookie) == 0)
			return slot;
	}
	return NULL;
}

/* The socket leaves the census: its slot is free for another. dest_id first, so that a
 * socket claiming the slot next is not counted before its own fields are written. */
static __always_inline void slot_free(struct cp_sock_slot *slot)
{
	*(volatile __u32 *)&slot->dest_id = 0;
	*(volatile __u64 *)&slot->cookie = 0;
}

/* The slot of cookie was just filled: make sure the census reads its page (see
 * CP_SLOT_PAGE_WORDS). The bit is looked at first, so that only the first slot filled in a
 * page since the census last read it writes the shared word. */
static __always_inline void slot_page_mark(__u64 cookie)
{
	__u32 page = ((__u32)cookie & sock_slot_mask) / CP_SLOTS_PER_PAGE;
	__u32 word = page / 64;
	__u64 bit = 1ULL << (page % 64), *w = bpf_map_lookup_elem(&slot_pages, &word);

	if (w && !(*(volatile __u64 *)w & bit))
		__sync_fetch_and_or(w, bit);
}

/* CLOSE -> SYN_SENT of a socket that got a slot: count its port from now on (the census
 * counts it once dest_id is written). */
static __always_inline void slot_connect_start(struct cp_sock_slot *slot, const struct sock *sk,
					       __u32 pid)
{
	struct cp_dest_entry *e;
	struct cp_dest_stats *s;
	struct cp_dest_key dest;
	__u8 flags = 0;
	__u32 id;

	dest_key_from_sk(&dest, sk);
	e = dest_entry_get(&dest);
	if (!e) {	/* counted as map_full; the socket stays uncounted */
		slot_free(slot);
		return;
	}
	s = dest_stripe(e);
	__sync_fetch_and_add(&s->connects, 1);
	if (note_own_range(s, sk))
		flags |= CP_SLOT_RANGED;
	id = dest_id_of(e);
	holder_note(&dest, id, pid);	/* its comm, once per (destination, process) */
	/* dest_id and owner in one 64-bit xchg (little-endian: dest_id is the low half): the
	 * census sees both or neither, and the xchg is the full barrier between filling the
	 * slot and reading its page's bit. */
	__sync_lock_test_and_set((__u64 *)&slot->dest_id,
				 (__u64)CP_SLOT_OWNER(pid, flags, CP_BUCKET_SYN_SENT) << 32 | id);
	slot_page_mark(slot->cookie);
}

/* FIN_WAIT2/CLOSING -> CLOSE of a socket with a slot: its port goes on to a TIME_WAIT socket. */
static __always_inline void slot_handoff(struct cp_sock_slot *slot, const struct sock *sk)
{
	__u32 pid = CP_SLOT_PID(slot->owner);
	char comm[CP_COMM_LEN] = {};
	struct cp_dest_stats *s;
	struct cp_dest_key dest;
	__u16 sport;

	dest_key_from_sk(&dest, sk);
	/* The port was given back to the TIME_WAIT socket: skc_num is 0 now, inet_sport stays. */
	sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	holder_put(&dest, pid, comm, 0);
	if (tw_handoff(&dest, sport, pid, comm, 0) && (s = dest_lookup(&dest)))
		__sync_fetch_and_add(&s->tw_in, 1);
}

/* Count one failure of the calling process; announce only the first of each key. */
static __always_inline void count_failure(struct cp_fail_key *key)
{
	struct cp_fail_val zero = {}, *v;
	struct cp_event *ev;
	long ret;

	key->pid = bpf_get_current_pid_tgid() >> 32;
	v = bpf_map_lookup_elem(&failures, key);
	if (!v) {
		bpf_get_current_comm(zero.comm, sizeof(zero.comm));
		ret = bpf_map_update_elem(&failures, key, &zero, BPF_NOEXIST);
		if (ret && ret != -EEXIST) {
			counter_inc(CP_CNT_MAP_FULL);
			return;
		}
		v = bpf_map_lookup_elem(&failures, key);
		if (!v)
			return;
		/* The count lives in the map: the ring buffer only hears of new keys, so a
		 * storm of failures cannot flood it. */
		ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
		if (ev) {
			ev->ts_ns = bpf_ktime_get_ns();
			ev->type = CP_EV_FAILURE;
			ev->pid = key->pid;
			ev->err = key->err;
			ev->pad = 0;
			ev->dest = key->dest;
			__builtin_memcpy(ev->comm, zero.comm, sizeof(ev->comm));
			bpf_ringbuf_submit(ev, 0);
		} else {
			counter_inc(CP_CNT_RINGBUF_DROPS);
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	v->last_ns = bpf_ktime_get_ns();
}

/* A TCP connect() to sk's destination failed with err (rare: out of line). */
static __noinline int record_failure(const struct sock *sk, int err)
{
	struct cp_fail_key key = {};

	dest_key_from_sk(&key.dest, sk);
	key.err = err;
	if (netns_wanted(key.dest.netns_cookie))
		count_failure(&key);
	return 0;
}

#endif /* CP_ACCOUNT_BPF_H */
