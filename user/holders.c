// SPDX-License-Identifier: GPL-2.0
/* holders.c: merge live and TIME_WAIT holders per (destination, pid) and look them up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "holders.h"
#include "twmodel.h"

static int cmp_holder(const void *a, const void *b)
{
	const struct holder_row *x = a, *y = b;
	int r = memcmp(&x->dest, &y->dest, sizeof(x->dest));

	if (r)
		return r;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void add(struct holders *h, const struct cp_dest_key *dest, __u32 pid, __u64 ports,
		const char *comm)
{
	struct holder_row *r = &h->rows[h->n++];

	memset(r, 0, sizeof(*r));
	r->dest = *dest;
	r->pid = pid;
	r->ports = ports;
	memcpy(r->comm, comm, CP_COMM_LEN);
}

static int add_tw_owner(void *arg, const struct cp_dest_key *dest, __u32 pid, const char *comm,
			__u64 n)
{
	add(arg, dest, pid, n, comm);
	return 0;
}

int holders__build(struct holders *h, const struct map_dump *live, const struct tw_view *tw)
{
	size_t i, want = live->n + tw->n_groups + 1, out = 0;

	h->n = 0;
	h->rows = malloc(want * sizeof(*h->rows));
	if (!h->rows)
		return -ENOMEM;
	for (i = 0; i < live->n; i++) {
		const struct cp_holder_key *k = map_dump__key(live, i);
		const struct cp_holder_val *v = map_dump__val(live, i);

		if (v->ports > 0)
			add(h, &k->dest, k->pid, v->ports, v->comm);
	}
	/* TIME_WAIT entries as one row per (destination, owner), from the model's groups. */
	twview__each_owner(tw, add_tw_owner, h);
	qsort(h->rows, h->n, sizeof(*h->rows), cmp_holder);
	for (i = 0; i < h->n; i++) {	/* one row per (dest, pid), ports summed */
		if (out && !cmp_holder(&h->rows[out - 1], &h->rows[i])) {
			h->rows[out - 1].ports += h->rows[i].ports;
			if (!h->rows[out - 1].comm[0])
				memcpy(h->rows[out - 1].comm, h->rows[i].comm, CP_COMM_LEN);
			continue;
		}
		h->rows[out++] = h->rows[i];
	}
	h->n = out;
	return 0;
}

const struct holder_row *holders__top(const struct holders *h, const struct cp_dest_key *dest)
{
	struct holder_row probe = { .dest = *dest };
	const struct holder_row *top = NULL;
	size_t lo = 0, hi = h->n;

	while (lo < hi) {	/* first row of this destination */
		size_t mid = (lo + hi) / 2;

		if (cmp_holder(&h->rows[mid], &probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < h->n && !memcmp(&h->rows[lo].dest, dest, sizeof(*dest)); lo++)
		if (h->rows[lo].pid && (!top || h->rows[lo].ports > top->ports))
			top = &h->rows[lo];
	return top;
}

__u64 holders__ports(const struct holders *h, const struct cp_dest_key *dest, __u32 pid)
{
	struct holder_row probe = { .dest = *dest, .pid = pid };
	const struct holder_row *r = bsearch(&probe, h->rows, h->n, sizeof(*h->rows), cmp_holder);

	return r ? r->ports : 0;
}

void holders__free(struct holders *h)
{
	free(h->rows);
	h->rows = NULL;
	h->n = 0;
}
