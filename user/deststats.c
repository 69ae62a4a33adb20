// SPDX-License-Identifier: GPL-2.0
/* deststats.c: summing the per-CPU-group stripes of dest_stats values (see deststats.h). */
#include <string.h>
#include "deststats.h"

unsigned int dest_stats__stripes(int ncpus)
{
	unsigned int n = 1;

	while (n * 2 <= CP_DEST_STRIPES && (int)(n * 2) <= ncpus)
		n *= 2;
	return n;
}

size_t dest_stats__value_size(unsigned int stripes)
{
	return CP_DEST_HEAD + (size_t)stripes * CP_DEST_STRIPE_SIZE;
}

void dest_stats__fold(const void *raw, size_t raw_size, void *out)
{
	const struct cp_dest_entry *e = raw;
	size_t stripes = (raw_size - CP_DEST_HEAD) / CP_DEST_STRIPE_SIZE;
	struct cp_dest_stats sum = {};

	for (size_t i = 0; i < stripes && i < CP_DEST_STRIPES; i++) {
		const struct cp_dest_stats *s = &e->stripe[i].s;

		/* A socket counted in on one CPU is often counted out on another: a stripe
		 * alone means nothing, only the sum does. */
		sum.syn_sent += s->syn_sent;
		sum.established += s->established;
		sum.other += s->other;
		sum.connects += s->connects;
		sum.ranged += s->ranged;
		sum.tw_in += s->tw_in;
		sum.tw_out += s->tw_out;
		if (s->range_lo && !sum.range_lo) {
			sum.range_lo = s->range_lo;
			sum.range_hi = s->range_hi;
		}
	}
	memcpy(out, &sum, sizeof(sum));
}

void dest_stats__fold_dump(struct map_dump *d, __u32 *ids)
{
	size_t raw_size = d->val_size;

	/* Folded values are smaller: writing value i never overtakes reading value i + 1. */
	for (size_t i = 0; i < d->n; i++) {
		const struct cp_dest_entry *e = (void *)((char *)d->vals + i * raw_size);
		struct cp_dest_stats sum;

		if (ids)
			ids[i] = (__u32)e->id;
		dest_stats__fold(e, raw_size, &sum);
		memcpy((char *)d->vals + i * sizeof(sum), &sum, sizeof(sum));
	}
	d->val_size = sizeof(struct cp_dest_stats);
}
