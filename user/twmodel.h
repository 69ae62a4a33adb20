/* SPDX-License-Identifier: GPL-2.0 */
/* twmodel.h: the TIME_WAIT model's user-space half. TIME_WAIT sockets have no events: the
 * kernel side inserts an entry at the hand-off and deletes it on reuse; here entries expire
 * after TCP_TIMEWAIT_LEN and are checked against the kernel's own sockets. */
#ifndef CP_TWMODEL_H
#define CP_TWMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>
#include "connpressure.h"
#include "maps.h"

/* An entry of a dump that expiry or correction removed in this pass. */
static inline bool tw_removed(const struct cp_tw_val *v)
{
	return v->entered_ns == 0;
}

/* The destination a TIME_WAIT entry counts against. */
static inline void twmodel_dest_of(struct cp_dest_key *d, const struct cp_tw_key *k)
{
	memset(d, 0, sizeof(*d));
	d->netns_cookie = k->netns_cookie;
	memcpy(d->saddr, k->saddr, 16);
	memcpy(d->daddr, k->daddr, 16);
	d->dport = k->dport;
	d->proto = k->proto;
}

/*
 * The model as the passes between two full reads of tw_socks need it: its live
 * connect()-side entries grouped by (destination, owner pid), each group's hand-off times
 * oldest first, and the bind()-held entries apart. Between full reads the model changes here
 * only by age (the kernel's hand-off and reuse counts are added per destination), and what
 * turned 60 s old is at the front of each group: a pass costs one step per group, not a walk
 * over every entry (a storm's model holds hundreds of thousands; five such walks a pass were
 * most of this process's CPU).
 */
struct tw_group {
	struct cp_dest_key dest;
	__u32 pid;
	__u32 pad;
	char comm[CP_COMM_LEN];	/* the first one known among its entries, oldest first */
	size_t first, end;	/* its live entries' times: times[first..end) */
};

struct tw_bound {
	struct cp_tw_key key;
	__u64 entered_ns;	/* 0: expired */
};

struct tw_view {
	struct tw_group *groups;	/* by destination (cp_dest_key's byte order), then pid */
	size_t n_groups;
	__u64 *times;			/* hand-off times (CLOCK_MONOTONIC ns), per group ascending */
	struct tw_bound *bound;		/* bind()-held entries (few) */
	size_t n_bound;
};

/* Build v from dumps of tw_socks (in any order; left as they are); removed entries are left
 * out. */
int twview__build(struct tw_view *v, const struct map_dump *const dumps[], size_t n_dumps);
/* Drop the entries 60 s old at now (CLOCK_MONOTONIC ns). */
void twview__expire(struct tw_view *v, __u64 now);
/* Live entries, bind()-held ones included. */
__u64 twview__live(const struct tw_view *v);
void twview__free(struct tw_view *v);

/* fn gets each group's live count with its owner's comm (groups left empty are skipped);
 * stops at, and returns, fn's first non-zero return. */
typedef int (*tw_owner_fn)(void *arg, const struct cp_dest_key *dest, __u32 pid,
			   const char *comm, __u64 n);
int twview__each_owner(const struct tw_view *v, tw_owner_fn fn, void *arg);

static inline size_t tw_group_live(const struct tw_group *g)
{
	return g->end - g->first;
}

/* Delete entries older than 60 s at now (CLOCK_MONOTONIC ns); they are marked removed. */
void twmodel__expire(int map_fd, struct map_dump *tw, __u64 now);

/*
 * Check the model of one netns against the iterator's records taken at truth_ns: entries
 * the kernel no longer has are deleted, connect()-side TIME_WAIT sockets the model missed
 * are inserted (and appended to added, up to its cap). Returns entries added plus removed.
 */
__u64 twmodel__correct(int map_fd, struct map_dump *tw, const struct cp_iter_rec *recs,
		       size_t n_recs, __u64 cookie, __u64 truth_ns, __u64 now,
		       struct map_dump *added);

#endif
