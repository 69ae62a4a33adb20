// SPDX-License-Identifier: GPL-2.0
/* prune.c: two-round deletion of kernel map entries that stayed empty (see prune.h). */
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "prune.h"

void pruner__init(struct pruner *p, int map_fd, size_t key_size, size_t val_size,
		  prune_empty_fn empty)
{
	memset(p, 0, sizeof(*p));
	p->map_fd = map_fd;
	p->key_size = key_size;
	p->val_size = val_size;
	p->empty = empty;
	p->map_val_size = val_size;
}

void pruner__set_fold(struct pruner *p, size_t map_val_size, prune_fold_fn fold)
{
	p->map_val_size = map_val_size;
	p->fold = fold;
}

void pruner__free(struct pruner *p)
{
	free(p->keys);
	free(p->vals);
	p->keys = p->vals = NULL;
	p->n = 0;
}

/* The entry at the last round with this key, or NULL (keys are kept sorted). */
static const void *last_val(const struct pruner *p, const void *key)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = memcmp((char *)p->keys + mid * p->key_size, key, p->key_size);

		if (!r)
			return (char *)p->vals + mid * p->val_size;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static size_t sort_key_size;
static int cmp_prefix(const void *a, const void *b)
{
	return memcmp(a, b, sort_key_size);
}

size_t pruner__round(struct pruner *p, const struct map_dump *d)
{
	size_t rec = p->key_size + p->val_size, n = 0, deleted = 0;
	char *now = malloc(d->n * rec + 1), *val = malloc(p->map_val_size);
	char *folded = malloc(p->val_size);

	if (!now || !val || !folded) {
		free(now);
		free(val);
		free(folded);
		return 0;
	}
	for (size_t i = 0; i < d->n; i++) {
		const void *k = map_dump__key(d, i), *v = map_dump__val(d, i), *before;

		if (!p->empty(v))
			continue;
		before = last_val(p, k);
		if (before && !memcmp(before, v, p->val_size)) {
			/* Empty for a whole round: delete, reading it back atomically. One
			 * that changed since the dump (a connect() slipped in) is put back. */
			if (bpf_map_lookup_and_delete_elem(p->map_fd, k, val) == 0) {
				if (p->fold)
					p->fold(val, p->map_val_size, folded);
				if (!memcmp(p->fold ? folded : val, v, p->val_size))
					deleted++;
				else
					bpf_map_update_elem(p->map_fd, k, val, BPF_NOEXIST);
			}
			continue;
		}
		memcpy(now + n * rec, k, p->key_size);
		memcpy(now + n * rec + p->key_size, v, p->val_size);
		n++;
	}
	/* Remember what is empty now, sorted by key, for the next round. */
	sort_key_size = p->key_size;
	qsort(now, n, rec, cmp_prefix);
	pruner__free(p);
	p->keys = malloc(n * p->key_size + 1);
	p->vals = malloc(n * p->val_size + 1);
	if (p->keys && p->vals) {
		for (size_t i = 0; i < n; i++) {
			memcpy((char *)p->keys + i * p->key_size, now + i * rec, p->key_size);
			memcpy((char *)p->vals + i * p->val_size, now + i * rec + p->key_size,
			       p->val_size);
		}
		p->n = n;
	}
	free(now);
	free(val);
	free(folded);
	return deleted;
}
