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
 * The live connect()-side entries of a dump (removed and bind()-held ones skipped), counted
 * per (destination, owner pid): fn gets each count with the owner's comm. A dump sorted by
 * key (see struct cp_tw_key) gives one call per pair, or a few for a destination with many
 * owners; an unsorted one may give several per pair, which the caller sums. Stops at, and
 * returns, fn's first non-zero return.
 */
typedef int (*tw_owner_fn)(void *arg, const struct cp_dest_key *dest, __u32 pid,
			   const char *comm, __u64 n);
int twmodel__each_owner(const struct map_dump *tw, tw_owner_fn fn, void *arg);

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
