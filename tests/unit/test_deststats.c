// SPDX-License-Identifier: GPL-2.0
/* test_deststats.c: the stripes of dest_stats values: how many, their size, and their sums. */
#include <stdlib.h>
#include "unit.h"
#include "deststats.h"

int main(void)
{
	size_t size2 = dest_stats__value_size(2);
	struct cp_dest_entry e = {};
	struct cp_dest_stats sum;
	struct map_dump d = {};
	__u32 ids[2];

	ASSERT_EQ(dest_stats__stripes(1), 1, "stripes: 1 CPU");
	ASSERT_EQ(dest_stats__stripes(2), 2, "stripes: 2 CPUs");
	ASSERT_EQ(dest_stats__stripes(3), 2, "stripes: 3 CPUs (a power of two)");
	ASSERT_EQ(dest_stats__stripes(64), CP_DEST_STRIPES, "stripes: many CPUs, the most");
	ASSERT_EQ(dest_stats__stripes(-1), 1, "stripes: CPU count unknown");
	ASSERT_EQ(size2, CP_DEST_HEAD + 2 * CP_DEST_STRIPE_SIZE, "value size with 2 stripes");

	/* 5 sockets counted in on CPU 0; 2 of them moved to established and 1 released on CPU 1 */
	e.stripe[0].s.syn_sent = 5;
	e.stripe[0].s.connects = 5;
	e.stripe[1].s.syn_sent = -3;
	e.stripe[1].s.established = 2;
	e.stripe[1].s.tw_in = 1;
	e.stripe[1].s.range_lo = 40000;
	e.stripe[1].s.range_hi = 40009;
	e.stripe[2].s.syn_sent = 100;	/* beyond a 2-stripe value: not read */
	dest_stats__fold(&e, size2, &sum);
	ASSERT_EQ(sum.syn_sent, 2, "fold: syn_sent summed across stripes");
	ASSERT_EQ(sum.established, 2, "fold: established");
	ASSERT_EQ(sum.connects, 5, "fold: connects");
	ASSERT_EQ(sum.tw_in, 1, "fold: tw_in");
	ASSERT_EQ(sum.range_lo == 40000 && sum.range_hi == 40009, 1, "fold: the range a stripe saw");

	d.n = 2;
	d.val_size = size2;
	d.vals = calloc(2, size2);
	((struct cp_dest_entry *)d.vals)->stripe[1].s.other = 7;
	((struct cp_dest_entry *)((char *)d.vals + size2))->stripe[0].s.other = 3;
	((struct cp_dest_entry *)((char *)d.vals + size2))->stripe[1].s.other = 1;
	((struct cp_dest_entry *)d.vals)->id = (1ULL << 32) | 7;	/* after 2^32 ids */
	((struct cp_dest_entry *)((char *)d.vals + size2))->id = 9;
	dest_stats__fold_dump(&d, ids);
	ASSERT_EQ(ids[0], 7, "fold_dump: ids, as slots hold them (low 32 bits)");
	ASSERT_EQ(ids[1], 9, "fold_dump: second id");
	ASSERT_EQ(d.val_size, sizeof(struct cp_dest_stats), "fold_dump: values are cp_dest_stats now");
	ASSERT_EQ(((struct cp_dest_stats *)d.vals)[0].other, 7, "fold_dump: first value");
	ASSERT_EQ(((struct cp_dest_stats *)d.vals)[1].other, 4, "fold_dump: second value");
	free(d.vals);
	return unit_failed;
}
