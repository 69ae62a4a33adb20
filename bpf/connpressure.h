/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* connpressure.h: the one header shared by bpf/ and user/: map keys, values, records. */
#ifndef CONNPRESSURE_H
#define CONNPRESSURE_H

/*
 * Fixed-width kernel types only: the BPF side gets them from vmlinux.h, user space from
 * <linux/types.h>. Padding is explicit and every key is zeroed before it is filled,
 * because hash maps compare keys byte by byte.
 */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CP_COMM_LEN 16
#define CP_TW_SECONDS 60	/* TCP_TIMEWAIT_LEN: fixed in the kernel */

/* Default map sizes; each can be changed with --max-* on the command line. */
#define CP_DEF_MAX_DESTS	16384
#define CP_DEF_MAX_HOLDERS	16384
#define CP_DEF_MAX_TW		262144
#define CP_DEF_MAX_BINDS	16384
#define CP_DEF_MAX_FAILURES	4096
#define CP_DEF_SOCK_SLOTS	262144	/* a power of two: 4 MB */
#define CP_SLOT_WAYS		4	/* the slots a socket may take (a set of 4: 64 bytes) */
#define CP_SLOTS_PER_PAGE	256	/* 4 KB of slots: a page of slot_pages' bitmap */
#define CP_RINGBUF_BYTES	(64 * 1024)

/* Where a socket's local port came from (enum cp_role in struct cp_sock_state). */
enum cp_role {
	CP_ROLE_NONE = 0,
	CP_ROLE_CONNECT = 1,	/* chosen by connect(): counts against its destination */
	CP_ROLE_BIND = 2,	/* held by bind(): lowers every destination's capacity */
};

/* The state buckets a destination's ports are counted in. */
enum cp_bucket {
	CP_BUCKET_NONE = 0,
	CP_BUCKET_SYN_SENT = 1,
	CP_BUCKET_ESTABLISHED = 2,	/* and SYN_RECV: a simultaneous open */
	CP_BUCKET_OTHER = 3,	/* FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING */
};

/* Indexes of the per-CPU `counters` array: what the kernel side could not record. */
enum cp_counter {
	CP_CNT_MAP_FULL = 0,	/* an insert refused because a map was full */
	CP_CNT_RINGBUF_DROPS,	/* an event the ring buffer had no room for */
	CP_CNT_SEEDED,		/* sockets adopted by the iterator (start-up and corrections) */
	CP_CNT_TW_REUSED,	/* TIME_WAIT entries released by a new connect() on their 4-tuple */
	CP_CNT_SLOT_TAKEN,	/* connect()s whose sock_slots slot was taken: sk_storage instead */
	CP_CNT_TW_BOUND_IN,	/* bind()-held ports handed to the TIME_WAIT model (connect()'s
				 * are counted per destination, in cp_dest_stats.tw_in) */
	CP_CNT_MAX,
};

/* A TCP destination: (netns, saddr, daddr, dport). Addresses are IPv6, IPv4 as v4-mapped. */
struct cp_dest_key {
	__u64 netns_cookie;
	__u8  saddr[16];
	__u8  daddr[16];
	__u16 dport;		/* host order */
	__u8  proto;		/* IPPROTO_TCP */
	__u8  pad[5];
};

/* Gauges per destination (ports held now, by state) of the sockets followed with sk_storage
 * (those with a slot are counted by the census), and a running total of ports taken. */
struct cp_dest_stats {
	__s64 syn_sent;
	__s64 established;
	__s64 other;
	__u64 connects;		/* ports handed out by connect() since the tool started */
	__u16 range_lo;		/* IP_LOCAL_PORT_RANGE of its sockets (last seen); 0: none */
	__u16 range_hi;
	__s32 ranged;		/* live sockets (with sk_storage) that set IP_LOCAL_PORT_RANGE */
	/* Entries this destination's sockets put into the TIME_WAIT model, and live ones
	 * connect() took out again (reuse): user space follows the model between full reads of
	 * tw_socks with these (monotonic) counts. */
	__u64 tw_in;
	__u64 tw_out;
};

/*
 * How dest_stats stores them: one copy (a stripe) per group of CPUs, summed by user space. A
 * storm to one destination changes its counters from every CPU (connect() on one, the peer's
 * FIN on another); with one copy, each change pulled the cache line over from the other core.
 * A stripe is written by its own CPUs only, and spaced so that no two stripes' counters, nor
 * the key before them, can share a 64-byte line wherever the kernel places the entry. Measured
 * in a server-close storm: the runs where client and server ran on different cores cost
 * 1,900-1,940 ns of programs per connection with one copy, 1,500-1,630 with stripes.
 */
#define CP_DEST_STRIPES		4	/* at most; user space sizes the value for its CPUs */
#define CP_DEST_HEAD		64	/* keeps stripe 0 off the key's cache line */
#define CP_DEST_STRIPE_SIZE	128	/* >= 64 + sizeof(struct cp_dest_stats) */

struct cp_dest_stripe {
	struct cp_dest_stats s;
	__u8 pad[CP_DEST_STRIPE_SIZE - sizeof(struct cp_dest_stats)];
};

struct cp_dest_entry {
	__u64 id;		/* set once, when the entry is made: slots name it by its low 32 bits */
	__u8 head[CP_DEST_HEAD - 8];
	struct cp_dest_stripe stripe[CP_DEST_STRIPES];
};

/* A process that took ports of a destination: its comm, and the ports its sockets with
 * sk_storage hold (those with a slot are counted by the census; TIME_WAIT ones are in
 * tw_socks). */
struct cp_holder_key {
	struct cp_dest_key dest;
	__u32 pid;		/* tgid of the process that called connect(); 0 when unknown */
	__u32 pad;
};

struct cp_holder_val {
	__s64 ports;
	char  comm[CP_COMM_LEN];
};

/* A TIME_WAIT (or FIN_WAIT2-substate) socket of the model, keyed by its 4-tuple. Its
 * destination's fields come first, dport before sport, so that a dump sorted by key has the
 * entries of each destination side by side (user space counts them in one pass). */
struct cp_tw_key {
	__u64 netns_cookie;
	__u8  saddr[16];
	__u8  daddr[16];
	__u16 dport;
	__u16 sport;
	__u8  proto;
	__u8  pad[3];
};

#define CP_TW_BOUND	(1u << 0)	/* its port was held by bind(): counts against capacity */
#define CP_TW_SEEDED	(1u << 1)	/* found by the iterator, not seen entering TIME_WAIT */

struct cp_tw_val {
	__u64 entered_ns;	/* CLOCK_MONOTONIC (bpf_ktime_get_ns) of the hand-off */
	__u32 pid;
	__u32 flags;		/* CP_TW_* */
	char  comm[CP_COMM_LEN];
};

/* Ports held by bind() per (netns, local address, port): sockets holding it. */
struct cp_bind_key {
	__u64 netns_cookie;
	__u8  addr[16];
	__u16 port;
	__u8  proto;
	__u8  pad[5];
};

struct cp_bind_val {
	__s64 sockets;
	__u32 pid;
	__u32 pad;
	char  comm[CP_COMM_LEN];
};

/* connect() failures, per destination, process and error. */
struct cp_fail_key {
	struct cp_dest_key dest;
	__u32 pid;
	__s32 err;		/* positive errno: EADDRNOTAVAIL */
};

struct cp_fail_val {
	__u64 count;
	__u64 last_ns;
	char  comm[CP_COMM_LEN];
};

/*
 * A connect()-side socket followed without sk_storage (creating and freeing that record
 * cost ~1 us per connection): a slot in the sock_slots array, at the low bits of the socket's
 * cookie, holds what the socket itself does not say. The slots are the gauges: user space
 * counts the live ones per destination, state and process (a census, user/census.c), so a
 * state change writes one word of its slot and looks up no map. Only a destination's new
 * ports (connects) and TIME_WAIT hand-offs are counted in dest_stats.
 */
#define CP_SLOT_RANGED	(1u << 0)	/* the socket set IP_LOCAL_PORT_RANGE */

/* owner: pid << 8 | flags << 2 | bucket, one word so that a state change is one store and
 * user space never reads half of one (PID_MAX_LIMIT is 2^22: the pid fits in 24 bits). */
#define CP_SLOT_OWNER(pid, flags, bucket) \
	((__u32)(pid) << 8 | (__u32)(flags) << 2 | (__u32)(bucket))
#define CP_SLOT_PID(owner)	((owner) >> 8)
#define CP_SLOT_FLAGS(owner)	(((owner) >> 2) & 0x3f)
#define CP_SLOT_BUCKET(owner)	((owner) & 3)

/*
 * Which pages of sock_slots may hold live slots, one bit per CP_SLOTS_PER_PAGE slots in the
 * slot_pages array (64 a word), so that the census reads only those (a storm's sockets take
 * neighbouring slots: a few pages an interval, not the whole 4 MB). The kernel sets a page's
 * bit after it fills a slot there, with a full barrier between the two; user space clears it
 * before it reads the page and sets it again when the page still has a slot in use. Either
 * the census sees the slot, or the kernel sees the bit cleared and sets it.
 */
#define CP_SLOT_PAGE_WORDS(slots) \
	((((slots) + CP_SLOTS_PER_PAGE - 1) / CP_SLOTS_PER_PAGE + 63) / 64)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "struct cp_sock_slot: dest_id and owner are written as one little-endian word"
#endif
struct cp_sock_slot {
	__u64 cookie;		/* the socket's cookie (never reused); 0: free */
	__u32 dest_id;		/* its destination's cp_dest_entry.id; 0: not counted (yet) */
	__u32 owner;		/* CP_SLOT_OWNER(tgid that called connect(), CP_SLOT_*, enum cp_bucket) */
};

/* sk_storage of the other sockets the tool accounts for: bind()-held ports, sockets
 * adopted by the iterator, and connect()s whose slot was taken. */
struct cp_sock_state {
	struct cp_dest_key dest;	/* CONNECT: its destination; BIND: netns_cookie + saddr */
	__u32 pid;
	__u16 sport;
	__u8  role;		/* enum cp_role */
	__u8  bucket;		/* enum cp_bucket currently counted in dest_stats */
	__u8  pad0;
	__u8  released;		/* the port was given back: nothing more to count */
	__u8  holder_counted;	/* holds one unit in holder_ports */
	__u8  ranged;		/* counted in its destination's `ranged` */
	__u8  pad[4];
	char  comm[CP_COMM_LEN];
};

/* Ring buffer events: rare by construction (one per new failing (destination, pid, error)). */
enum cp_event_type {
	CP_EV_FAILURE = 1,
};

struct cp_event {
	__u64 ts_ns;
	__u32 type;		/* enum cp_event_type */
	__u32 pid;
	__s32 err;
	__u32 pad;
	struct cp_dest_key dest;
	char  comm[CP_COMM_LEN];
};

/* One record per socket written by the iter/tcp program (the kernel's truth). */
#define CP_REC_LISTEN	(1u << 0)	/* a listener */
#define CP_REC_TW	(1u << 1)	/* an inet_timewait_sock (TIME_WAIT or FIN_WAIT2 substate) */
#define CP_REC_BINDPORT	(1u << 2)	/* its port's bind bucket was made by bind() (or a listener) */
#define CP_REC_CONNECT	(1u << 3)	/* a live socket on a port connect() chose: in the gauges */

struct cp_iter_rec {
	__u8  saddr[16];
	__u8  daddr[16];
	__u16 sport;
	__u16 dport;
	__u8  state;		/* TCP_* as in the kernel; TIME_WAIT for timewait sockets */
	__u8  flags;		/* CP_REC_* */
	__u8  pad[2];
};

/* Threads that read iter/tcp at once (user space's netns threads), at most. */
#define CP_ITER_THREADS 4

/* iter/udp: a bound UDP socket that set IP_LOCAL_PORT_RANGE (only those are written). */
struct cp_udp_rec {
	__u8  saddr[16];
	__u16 sport;
	__u16 range_lo;		/* as the socket set them; the kernel clamps to the netns range */
	__u16 range_hi;
	__u8  pad[2];
};

/* A task in a network namespace, from iter/task: one per namespace and walk (the discovery of
 * namespaces in use, without a look at every /proc/PID/task/TID). Ids as the walking
 * process's pid namespace numbers them, as its /proc does. */
struct cp_task_rec {
	__u64 netns_cookie;
	__u32 netns_ino;
	__u32 tgid;
	__u32 tid;
	__u32 pad;
};

/* Namespaces iter/task remembers within a walk; past this, some are written twice. */
#define CP_TASK_NETNS_SEEN 4096

#ifdef __cplusplus
#define CP_STATIC_ASSERT static_assert
#else
#define CP_STATIC_ASSERT _Static_assert
#endif
CP_STATIC_ASSERT(sizeof(struct cp_dest_key) == 48, "bpf/user ABI: cp_dest_key");
CP_STATIC_ASSERT(sizeof(struct cp_dest_stats) == 56, "bpf/user ABI: cp_dest_stats");
CP_STATIC_ASSERT(sizeof(struct cp_dest_entry) == CP_DEST_HEAD + CP_DEST_STRIPES * CP_DEST_STRIPE_SIZE,
		 "bpf/user ABI: cp_dest_entry");
CP_STATIC_ASSERT(sizeof(struct cp_holder_key) == 56, "bpf/user ABI: cp_holder_key");
CP_STATIC_ASSERT(sizeof(struct cp_holder_val) == 24, "bpf/user ABI: cp_holder_val");
CP_STATIC_ASSERT(sizeof(struct cp_tw_key) == 48, "bpf/user ABI: cp_tw_key");
CP_STATIC_ASSERT(sizeof(struct cp_tw_val) == 32, "bpf/user ABI: cp_tw_val");
CP_STATIC_ASSERT(sizeof(struct cp_bind_key) == 32, "bpf/user ABI: cp_bind_key");
CP_STATIC_ASSERT(sizeof(struct cp_bind_val) == 32, "bpf/user ABI: cp_bind_val");
CP_STATIC_ASSERT(sizeof(struct cp_fail_key) == 56, "bpf/user ABI: cp_fail_key");
CP_STATIC_ASSERT(sizeof(struct cp_fail_val) == 32, "bpf/user ABI: cp_fail_val");
CP_STATIC_ASSERT(sizeof(struct cp_sock_state) == 80, "bpf/user ABI: cp_sock_state");
CP_STATIC_ASSERT(sizeof(struct cp_sock_slot) == 16, "bpf/user ABI: cp_sock_slot");
CP_STATIC_ASSERT(sizeof(struct cp_event) == 88, "bpf/user ABI: cp_event");
CP_STATIC_ASSERT(sizeof(struct cp_iter_rec) == 40, "bpf/user ABI: cp_iter_rec");
CP_STATIC_ASSERT(sizeof(struct cp_udp_rec) == 24, "bpf/user ABI: cp_udp_rec");
CP_STATIC_ASSERT(sizeof(struct cp_task_rec) == 24, "bpf/user ABI: cp_task_rec");

#endif /* CONNPRESSURE_H */
