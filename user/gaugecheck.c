// SPDX-License-Identifier: GPL-2.0
/* gaugecheck.c: the live gauges against the iterator's sockets (see gaugecheck.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "gaugecheck.h"

#define TCP_ESTABLISHED	1
#define TCP_SYN_SENT	2
#define TCP_SYN_RECV	3

static int cmp_dest(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct cp_dest_key));
}

/* A record against a destination key of the same netns, in the key's memcmp order. */
static int cmp_rec_dest(const struct cp_iter_rec *r, const struct cp_dest_key *k)
{
	int c = memcmp(r->saddr, k->saddr, 16);

	if (!c)
		c = memcmp(r->daddr, k->daddr, 16);
	if (!c)
		c = memcmp(&r->dport, &k->dport, sizeof(r->dport));
	return c;
}

/* Records by destination (as above), then local port. */
static int cmp_rec(const void *a, const void *b)
{
	const struct cp_iter_rec *x = a, *y = b;
	int c = memcmp(x->saddr, y->saddr, 16);

	if (!c)
		c = memcmp(x->daddr, y->daddr, 16);
	if (!c)
		c = memcmp(&x->dport, &y->dport, sizeof(x->dport));
	return c ? c : (int)x->sport - (int)y->sport;
}

static int gauge_of(int state)
{
	if (state == TCP_SYN_SENT)
		return GAUGE_SYN_SENT;
	if (state == TCP_ESTABLISHED || state == TCP_SYN_RECV)	/* as bucket_of_state() */
		return GAUGE_ESTABLISHED;
	return GAUGE_OTHER;
}

static struct gauge_offset *offset_find(const struct gaugecheck *g, const struct cp_dest_key *k)
{
	return bsearch(k, g->v, g->n, sizeof(*g->v), cmp_dest);
}

static struct gauge_offset *offset_add(struct gaugecheck *g, const struct cp_dest_key *k)
{
	struct gauge_offset *o;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		void *v = realloc(g->v, cap * sizeof(*g->v));

		if (!v)
			return NULL;
		g->v = v;
		g->cap = cap;
	}
	o = &g->v[g->n++];
	memset(o, 0, sizeof(*o));
	o->key = *k;
	qsort(g->v, g->n, sizeof(*g->v), cmp_dest);
	return offset_find(g, k);
}

/* Sockets of one destination in sorted records, by gauge; *i moves past them. */
static void count_dest(const struct cp_iter_rec *t, size_t n, size_t *i, __s64 count[GAUGE_N])
{
	const struct cp_iter_rec *first = &t[*i];

	memset(count, 0, GAUGE_N * sizeof(count[0]));
	for (; *i < n && !memcmp(t[*i].saddr, first->saddr, 16) &&
	       !memcmp(t[*i].daddr, first->daddr, 16) && t[*i].dport == first->dport; (*i)++)
		if (*i == 0 || cmp_rec(&t[*i - 1], &t[*i]))	/* the seq file may repeat one */
			count[gauge_of(t[*i].state)]++;
}

__u64 gaugecheck__check(struct gaugecheck *g, __u64 cookie, struct cp_iter_rec *recs,
			size_t n_recs, const struct map_dump *dests)
{
	struct cp_iter_rec *t = recs, tmp;
	size_t nt = 0, ti = 0;
	__u64 moved = 0;

	/* The connect()-side records to the front, sorted there: no copy (a check of a
	 * million-socket netns has half a million of them). */
	for (size_t i = 0; i < n_recs; i++) {
		if (!(recs[i].flags & CP_REC_CONNECT))
			continue;
		tmp = recs[nt];
		recs[nt++] = recs[i];
		recs[i] = tmp;
	}
	qsort(t, nt, sizeof(*t), cmp_rec);

	for (size_t i = 0; i < dests->n; i++) {
		const struct cp_dest_key *k = map_dump__key(dests, i);
		const struct cp_dest_stats *v = map_dump__val(dests, i), *before;
		__s64 truth[GAUGE_N] = { 0 }, gauge[GAUGE_N], want;
		struct gauge_offset *o;
		int r = 1;

		if (k->netns_cookie != cookie)
			continue;
		while (ti < nt && (r = cmp_rec_dest(&t[ti], k)) < 0)
			ti++;	/* sockets of destinations without an entry: not in the gauges */
		if (ti < nt && r == 0)
			count_dest(t, nt, &ti, truth);
		before = map_dump__find(&g->prev, k);
		if (!before || memcmp(before, v, sizeof(*v)))
			continue;	/* busy around the check (or new): not comparable */
		gauge[GAUGE_SYN_SENT] = v->syn_sent;
		gauge[GAUGE_ESTABLISHED] = v->established;
		gauge[GAUGE_OTHER] = v->other;
		o = offset_find(g, k);
		for (int b = 0; b < GAUGE_N; b++) {
			want = truth[b] - gauge[b];
			if (want == (o ? o->off[b] : 0))
				continue;
			if (!o && !(o = offset_add(g, k)))
				break;
			moved += want > o->off[b] ? want - o->off[b] : o->off[b] - want;
			o->off[b] = want;
		}
	}
	return moved;
}

void gaugecheck__offsets(const struct gaugecheck *g, const struct cp_dest_key *k,
			 __s64 off[GAUGE_N])
{
	const struct gauge_offset *o = offset_find(g, k);

	for (int b = 0; b < GAUGE_N; b++)
		off[b] = o ? o->off[b] : 0;
}

int gaugecheck__end_pass(struct gaugecheck *g, const struct map_dump *dests)
{
	size_t keep = 0;

	for (size_t i = 0; i < g->n; i++)	/* still sorted: order is kept */
		if (map_dump__find(dests, &g->v[i].key))
			g->v[keep++] = g->v[i];
	g->n = keep;
	map_dump__free(&g->prev);
	g->prev.key_size = dests->key_size;
	g->prev.val_size = dests->val_size;
	g->prev.keys = malloc(dests->n * dests->key_size + 1);
	g->prev.vals = malloc(dests->n * dests->val_size + 1);
	if (!g->prev.keys || !g->prev.vals) {
		map_dump__free(&g->prev);
		return -ENOMEM;
	}
	memcpy(g->prev.keys, dests->keys, dests->n * dests->key_size);
	memcpy(g->prev.vals, dests->vals, dests->n * dests->val_size);
	g->prev.n = g->prev.cap = dests->n;
	return 0;
}

void gaugecheck__free(struct gaugecheck *g)
{
	free(g->v);
	map_dump__free(&g->prev);
	memset(g, 0, sizeof(*g));
}
