// SPDX-License-Identifier: GPL-2.0
/* test_bindcap.c: ports held per local address and what bind(0) can still get there. */
#include <stdlib.h>
#include "unit.h"
#include "bindcap.h"

static struct cp_local v4(unsigned char a, unsigned char b, unsigned char c, unsigned char d,
			  __u16 port)
{
	struct cp_local l = { .addr = { [10] = 0xff, [11] = 0xff, [12] = a, [13] = b, [14] = c,
					[15] = d }, .port = port };
	return l;
}

static const struct cp_addr_row *row_for(const struct cp_addr_usage *u, unsigned char last)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->rows[i].addr[15] == last)
			return &u->rows[i];
	return NULL;
}

int main(void)
{
	struct cp_limits *l = calloc(1, sizeof(*l));
	struct cp_addr_usage *u = calloc(1, sizeof(*u));
	struct cp_local pairs[] = {
		v4(127, 0, 0, 1, 40000), v4(127, 0, 0, 1, 40000),	/* SO_REUSEPORT twin */
		v4(127, 0, 0, 1, 40001), v4(127, 0, 0, 2, 40002),
		v4(0, 0, 0, 0, 40003), v4(127, 0, 0, 1, 5000),		/* outside the range */
		v4(127, 0, 0, 2, 40009),				/* reserved */
	};
	const struct cp_addr_row *r;

	l->port_lo = 40000;
	l->port_hi = 40009;
	limits_parse_port_list("40009", &l->reserved);
	l->reserved_in_range = 1;
	ASSERT_EQ(bindcap__compute(pairs, 7, l, u), 0, "bindcap: computes");
	ASSERT_EQ(u->in_use, 4, "bindcap: distinct in-range unreserved ports, any address");
	ASSERT_EQ(u->n, 3, "bindcap: one row per address holding ports in the range");
	r = row_for(u, 1);
	ASSERT_EQ(r ? r->in_use : 0, 2, "bindcap: 127.0.0.1 holds 2 ports (duplicates once)");
	ASSERT_EQ(r ? r->capacity : 0, 8, "bindcap: specific address loses the wildcard's port");
	r = row_for(u, 0);
	ASSERT_EQ(r ? r->in_use : 0, 1, "bindcap: 0.0.0.0 holds 1 port");
	ASSERT_EQ(r ? r->capacity : 0, 6, "bindcap: wildcard loses every other address's ports");
	ASSERT_EQ(port_set_has(&u->held, 5000), 1, "bindcap: held set keeps out-of-range ports");
	ASSERT_EQ(addr_is_wildcard(pairs[4].addr), 1, "bindcap: 0.0.0.0 is a wildcard");
	bindcap__free(u);
	free(u);
	free(l);
	return unit_failed;
}
