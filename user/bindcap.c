// SPDX-License-Identifier: GPL-2.0
/* bindcap.c: per-address usage of held ports and the capacity left to bind(0) there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bindcap.h"

bool addr_is_wildcard(const __u8 a[16])
{
	static const __u8 any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, any6, 16) || !memcmp(a, any4, 16);
}

static bool counts(const struct cp_limits *l, unsigned int port)
{
	return port >= l->port_lo && port <= l->port_hi && !port_set_has(&l->reserved, port);
}

static int cmp_rows(const void *a, const void *b)
{
	const struct cp_addr_row *x = a, *y = b;

	if (x->pressure != y->pressure)
		return x->pressure < y->pressure ? 1 : -1;
	return memcmp(x->addr, y->addr, 16);
}

int bindcap__compute(const struct cp_local *pairs, size_t n, const struct cp_limits *l,
		     struct cp_addr_usage *out)
{
	struct cp_port_set *wild = calloc(1, sizeof(*wild));
	__u64 range = l->port_hi - l->port_lo + 1 - l->reserved_in_range;
	struct cp_local *v = malloc((n + 1) * sizeof(*v));
	__u32 wild_n = 0;
	size_t i, m = 0;

	memset(out, 0, sizeof(*out));
	out->rows = calloc(n + 1, sizeof(*out->rows));
	if (!wild || !v || !out->rows) {
		free(wild);
		free(v);
		free(out->rows);
		out->rows = NULL;
		return -ENOMEM;
	}
	memcpy(v, pairs, n * sizeof(*v));
	qsort(v, n, sizeof(*v), local_cmp);
	for (i = 0; i < n; i++) {	/* unique pairs, and the union sets */
		if (m && !local_cmp(&v[m - 1], &v[i]))
			continue;
		v[m++] = v[i];
		if (counts(l, v[i].port) && !port_set_has(&out->held, v[i].port))
			out->in_use++;
		port_set_add(&out->held, v[i].port);
		if (addr_is_wildcard(v[i].addr) && counts(l, v[i].port) &&
		    !port_set_has(wild, v[i].port)) {
			port_set_add(wild, v[i].port);
			wild_n++;
		}
	}
	for (i = 0; i < m;) {		/* one row per address */
		struct cp_addr_row *row = &out->rows[out->n];
		__u32 in_wild = 0;
		__u64 blocked;
		size_t j;

		memcpy(row->addr, v[i].addr, 16);
		for (j = i; j < m && !memcmp(v[j].addr, row->addr, 16); j++) {
			if (!counts(l, v[j].port))
				continue;
			row->in_use++;
			in_wild += port_set_has(wild, v[j].port);
		}
		i = j;
		if (!row->in_use)
			continue;
		/* Others' ports that conflict: every held port for a wildcard address, the
		 * wildcards' for a specific one; never its own. */
		blocked = addr_is_wildcard(row->addr) ? out->in_use - row->in_use : wild_n - in_wild;
		row->capacity = range > blocked ? range - blocked : 0;
		row->pressure = model_pressure(row->in_use, row->capacity);
		out->n++;
	}
	qsort(out->rows, out->n, sizeof(*out->rows), cmp_rows);
	free(wild);
	free(v);
	return 0;
}

void bindcap__free(struct cp_addr_usage *u)
{
	free(u->rows);
	u->rows = NULL;
	u->n = 0;
}
