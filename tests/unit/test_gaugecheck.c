// SPDX-License-Identifier: GPL-2.0
/* test_gaugecheck.c: gauges against the iterator's sockets — only quiet destinations, repeated
 * records counted once, the offset kept and dropped with its entry. */
#include <stdlib.h>
#include "unit.h"
#include "gaugecheck.h"

#define COOKIE 7

static struct cp_dest_key key(__u16 dport)
{
	struct cp_dest_key k = { .netns_cookie = COOKIE, .dport = dport, .proto = 6 };

	k.saddr[15] = 1;
	k.daddr[15] = 1;
	return k;
}

static struct cp_iter_rec rec(__u16 dport, __u16 sport, __u8 state)
{
	struct cp_iter_rec r = { .sport = sport, .dport = dport, .state = state,
				 .flags = CP_REC_CONNECT };

	r.saddr[15] = 1;
	r.daddr[15] = 1;
	return r;
}

/* A one-entry dest_stats dump. */
static void dump1(struct map_dump *d, struct cp_dest_key *k, struct cp_dest_stats *v)
{
	memset(d, 0, sizeof(*d));
	d->keys = k;
	d->vals = v;
	d->n = d->cap = 1;
	d->key_size = sizeof(*k);
	d->val_size = sizeof(*v);
}

int main(void)
{
	struct gaugecheck g = {};
	struct cp_dest_key k = key(5000);
	struct cp_dest_stats v = { .established = 3, .other = 2 };	/* 2 "other" too many */
	struct cp_iter_rec recs[] = {
		rec(5000, 40001, 1), rec(5000, 40002, 1), rec(5000, 40003, 1),
		rec(5000, 40003, 1),			/* the seq file repeated one */
		rec(5001, 40004, 1),			/* a destination without an entry */
	};
	struct map_dump d;
	__s64 off[GAUGE_N];

	dump1(&d, &k, &v);
	ASSERT_EQ(gaugecheck__check(&g, COOKIE, recs, 5, &d), 0,
		  "first check: no previous dump, nothing compared");
	ASSERT_EQ(gaugecheck__end_pass(&g, &d), 0, "end of pass keeps the dump");
	ASSERT_EQ(gaugecheck__check(&g, COOKIE + 1, recs, 5, &d), 0,
		  "another netns's check leaves this one's destinations alone");
	ASSERT_EQ(gaugecheck__check(&g, COOKIE, recs, 5, &d), 2,
		  "quiet destination: 2 sockets moved (other 2 -> 0; repeated record counted once)");
	gaugecheck__offsets(&g, &k, off);
	ASSERT_EQ(off[GAUGE_ESTABLISHED], 0, "established offset 0 (3 = 3)");
	ASSERT_EQ(off[GAUGE_OTHER], -2, "other offset -2");
	ASSERT_EQ(gaugecheck__check(&g, COOKIE, recs, 5, &d), 0, "same check again: no change");

	v.established = 4;	/* busy: differs from the previous pass's dump */
	ASSERT_EQ(gaugecheck__check(&g, COOKIE, recs, 4, &d), 0, "busy destination: not compared");
	gaugecheck__offsets(&g, &k, off);
	ASSERT_EQ(off[GAUGE_OTHER], -2, "the offset stays while busy");

	d.n = 0;		/* the entry is gone (pruned) */
	ASSERT_EQ(gaugecheck__end_pass(&g, &d), 0, "end of pass without the entry");
	gaugecheck__offsets(&g, &k, off);
	ASSERT_EQ(off[GAUGE_OTHER], 0, "offset dropped with its entry");
	gaugecheck__free(&g);
	return unit_failed;
}
