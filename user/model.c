// SPDX-License-Identifier: GPL-2.0
/* model.c: capacity and pressure arithmetic, and the snapshot's ordering and lifetime. */
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

__u64 model_capacity(const struct cp_limits *l, const struct cp_port_set *bind_held,
		     __u32 *bind_held_in_range)
{
	__u64 range = l->port_hi >= l->port_lo ? l->port_hi - l->port_lo + 1 : 0;
	__u32 held = 0;

	/* A bind-held port that is also reserved is taken away once. */
	for (unsigned int p = l->port_lo; p <= l->port_hi && p < 65536; p++)
		if (port_set_has(bind_held, p) && !port_set_has(&l->reserved, p))
			held++;
	if (bind_held_in_range)
		*bind_held_in_range = held;
	return range - l->reserved_in_range - held;
}

double model_pressure(__u64 in_use, __u64 capacity)
{
	return capacity ? (double)in_use / (double)capacity : 1.0;
}

static int cmp_pressure(const void *a, const void *b)
{
	const struct cp_dest_row *x = a, *y = b;

	if (x->pressure != y->pressure)
		return x->pressure < y->pressure ? 1 : -1;
	if (x->in_use != y->in_use)
		return x->in_use < y->in_use ? 1 : -1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

void model_sort_dests(struct cp_dest_row *rows, size_t n)
{
	qsort(rows, n, sizeof(*rows), cmp_pressure);
}

void snapshot__free(struct cp_snapshot *s)
{
	for (size_t i = 0; i < s->n_netns; i++) {
		free(s->netns[i].dests);
		free(s->netns[i].fails);
		free(s->netns[i].binds);
		free(s->netns[i].udp_addrs);
		free(s->netns[i].udp_ranges);
	}
	free(s->netns);
	memset(s, 0, sizeof(*s));
}
