/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* maps.bpf.h: every map of connpressure.bpf.c; sizes are set at run time by user/loader.c. */
#ifndef CP_MAPS_BPF_H
#define CP_MAPS_BPF_H

#include "connpressure.h"

#define CP_HOLDER_SEEN_WAYS 128	/* a power of two: 2 KB per CPU */

/* Per-socket bookkeeping, freed by the kernel with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cp_sock_state);
} sock_state SEC(".maps");

/* connect()-side sockets followed without sk_storage (struct cp_sock_slot); the size, a
 * power of two, is set at run time like the others. User space maps it to count them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CP_DEF_SOCK_SLOTS);
	__type(key, __u32);
	__type(value, struct cp_sock_slot);
} sock_slots SEC(".maps");

/* The pages of sock_slots that may hold live slots (CP_SLOT_PAGE_WORDS); mapped read-write
 * by user space, which clears and sets bits as it reads the pages. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CP_SLOT_PAGE_WORDS(CP_DEF_SOCK_SLOTS));
	__type(key, __u32);
	__type(value, __u64);
} slot_pages SEC(".maps");

/* Gauges per TCP destination: ports held by connect(), by state (struct cp_dest_entry). Given
 * by sizes, not types (so without BTF): user space trims the value to the stripes its CPUs use. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CP_DEF_MAX_DESTS);
	__uint(key_size, sizeof(struct cp_dest_key));
	__uint(value_size, sizeof(struct cp_dest_entry));
} dest_stats SEC(".maps");

/* Per (destination, process): its comm, and ports held with sk_storage; to name the top holder. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CP_DEF_MAX_HOLDERS);
	__type(key, struct cp_holder_key);
	__type(value, struct cp_holder_val);
} holder_ports SEC(".maps");

/* Per CPU: (destination id, pid) pairs known to have a holder_ports entry, so that a connect()
 * of a known holder skips that lookup (see holder_note). */
struct cp_holder_seen {
	__u64 pair;		/* dest_id << 32 | pid, one store: never half of two pairs */
	__u32 gen;		/* holders_gen when it was seen */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CP_HOLDER_SEEN_WAYS);
	__type(key, __u32);
	__type(value, struct cp_holder_seen);
} holder_seen SEC(".maps");

/* The TIME_WAIT model: inserted at hand-off, deleted on reuse here, on expiry by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CP_DEF_MAX_TW);
	__type(key, struct cp_tw_key);
	__type(value, struct cp_tw_val);
} tw_socks SEC(".maps");

/* Ports held by bind(), per (netns, local address, port). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CP_DEF_MAX_BINDS);
	__type(key, struct cp_bind_key);
	__type(value, struct cp_bind_val);
} bind_ports SEC(".maps");

/* connect() failures per (destination, pid, errno): lossless counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CP_DEF_MAX_FAILURES);
	__type(key, struct cp_fail_key);
	__type(value, struct cp_fail_val);
} failures SEC(".maps");

/* Rare events only: one per new failing (destination, pid, error), so a storm cannot flood it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CP_RINGBUF_BYTES);
} events SEC(".maps");

/* iter/task: the namespaces written in a walk, by cookie -> the walk's number (task_walk). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CP_TASK_NETNS_SEEN);
	__type(key, __u64);
	__type(value, __u32);
} netns_walked SEC(".maps");

/* What the kernel side could not record (enum cp_counter). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CP_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

#endif /* CP_MAPS_BPF_H */
