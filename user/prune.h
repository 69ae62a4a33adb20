/* SPDX-License-Identifier: GPL-2.0 */
/* prune.h: deletes kernel map entries that stayed empty (a destination nobody connects to any
 * more, a process that let go of its ports), so that a long run keeps room for what is live. */
#ifndef CP_PRUNE_H
#define CP_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "maps.h"

/* Is this entry empty (nothing held, and for a destination no new connect() since)? */
typedef bool (*prune_empty_fn)(const void *val);
/* Turn a value as the map stores it (map_val_size bytes) into one as dumps hold it. */
typedef void (*prune_fold_fn)(const void *raw, size_t map_val_size, void *out);

struct pruner {
	int map_fd;
	size_t key_size, val_size;
	prune_empty_fn empty;
	size_t map_val_size;	/* the map's own value size (val_size unless folded) */
	prune_fold_fn fold;	/* NULL: dumps hold the map's values as they are */
	void *keys;		/* empty at the last round, sorted: deleted if still so now */
	void *vals;
	size_t n;
};

void pruner__init(struct pruner *p, int map_fd, size_t key_size, size_t val_size,
		  prune_empty_fn empty);
/* For a map whose dumps are folded (val_size) from bigger stored values (map_val_size). */
void pruner__set_fold(struct pruner *p, size_t map_val_size, prune_fold_fn fold);
/*
 * One round over a fresh dump of the map: entries empty now and at the previous round, with
 * the same value, are deleted (atomically read back: one that changed since the dump is put
 * back). Rounds are spaced by the caller (a minute). Returns the entries deleted. A dump may
 * hold more than the map (the census's counts): an entry is empty only when both are, and
 * then its value in the dump is the map's own.
 */
size_t pruner__round(struct pruner *p, const struct map_dump *d);
void pruner__free(struct pruner *p);

#endif
