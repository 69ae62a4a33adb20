/* SPDX-License-Identifier: GPL-2.0 */
/* census.h: the connect()-side sockets that have a slot, counted from sock_slots (mapped
 * read-only): ports per (destination, process) and state. For these sockets the slots are
 * the gauges, so that a state change in the kernel writes one word and looks up no map (see
 * struct cp_sock_slot); the counts are added here to the dumps of dest_stats and
 * holder_ports, and everything after reads those as before. */
#ifndef CP_CENSUS_H
#define CP_CENSUS_H

#include <stddef.h>
#include <linux/types.h>
#include "connpressure.h"
#include "maps.h"

/* Live slots of one (destination id, pid). */
struct census_row {
	__u32 dest_id;
	__u32 pid;
	__u32 ports[4];		/* by enum cp_bucket (CP_BUCKET_NONE unused) */
	__u32 ranged;		/* those with their own range (CP_SLOT_RANGED) */
};

/* What slots name: the key of each destination id, kept across passes (struct dest_names). */
struct dest_name {
	__u32 id;
	__u32 pad;
	struct cp_dest_key key;
};

struct dest_names {
	struct dest_name *v;	/* sorted by id */
	size_t n;
};

struct census {
	struct census_row *rows;	/* sorted by (dest_id, pid) after census__finish() */
	size_t n, cap;
	/* Until census__finish(): each row's place, found by hashing (dest_id, pid) (open
	 * addressing; row number + 1, 0 when empty). Half a million slots are one pass over
	 * them, not a sort: sorting them was half of the tool's CPU at 200,000 live slots. */
	__u32 *index;
	size_t index_mask;
	__u64 unnamed;		/* ports of slots whose destination id is unknown (a bug) */
};

/* Count the live slots of slots[0..n) (a slot being written meanwhile is skipped: it is
 * counted at the next pass): census__add() once per part of the array, from a zeroed
 * census, then census__finish(); census__take() for an array in one piece. census__add()
 * returns how many of the slots are in use (claimed, filled or not), or -errno. */
int census__add(struct census *c, const struct cp_sock_slot *slots, size_t n);
int census__finish(struct census *c);
int census__take(struct census *c, const struct cp_sock_slot *slots, size_t n);
/*
 * Add the census to a folded dest_stats dump (ids: each entry's id, from the fold) and to a
 * holder_ports dump; a destination or holder that has slots but no entry gets one appended
 * (its entry was pruned or the map was full). names: the ids of earlier passes, updated to
 * this one's (ids that slots still name are kept).
 */
int census__merge(struct census *c, struct map_dump *dests, const __u32 *ids,
		  struct map_dump *holders, struct dest_names *names);
void census__free(struct census *c);
void dest_names__free(struct dest_names *names);

#endif
