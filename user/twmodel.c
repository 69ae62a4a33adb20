// SPDX-License-Identifier: GPL-2.0
/* twmodel.c: expiry and correction of the TIME_WAIT model (see twmodel.h). */
#define _GNU_SOURCE	/* qsort_r */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "twmodel.h"

#define NSEC 1000000000ULL

static bool tw_expired(__u64 entered_ns, __u64 now)
{
	return entered_ns < now && now - entered_ns >= CP_TW_SECONDS * NSEC;
}

void twmodel__expire(int fd, struct map_dump *tw, __u64 now)
{
	struct cp_tw_key *dead = malloc(tw->n * sizeof(*dead) + 1);
	size_t n = 0;

	if (!dead)
		return;
	for (size_t i = 0; i < tw->n; i++) {
		struct cp_tw_val *v = map_dump__val(tw, i);

		if (tw_expired(v->entered_ns, now)) {
			dead[n++] = *(struct cp_tw_key *)map_dump__key(tw, i);
			v->entered_ns = 0;
		}
	}
	map_delete_keys(fd, dead, sizeof(*dead), n);
	free(dead);
}

/* The dumps a view is built from, and an entry of them by one index: dump 0's first. */
struct view_src {
	const struct map_dump *const *dumps;
	size_t n_dumps;
};

static void src_entry(const struct view_src *src, __u32 i, const struct cp_tw_key **k,
		      const struct cp_tw_val **v)
{
	size_t d = 0;

	while (i >= src->dumps[d]->n)
		i -= src->dumps[d++]->n;
	*k = map_dump__key(src->dumps[d], i);
	*v = map_dump__val(src->dumps[d], i);
}

/* Destination (the key's fields before sport, then proto: struct cp_dest_key's byte order),
 * then owner, then age. */
static int cmp_entry(const void *a, const void *b, void *arg)
{
	const struct cp_tw_key *ka, *kb;
	const struct cp_tw_val *va, *vb;
	int r;

	src_entry(arg, *(const __u32 *)a, &ka, &va);
	src_entry(arg, *(const __u32 *)b, &kb, &vb);
	r = memcmp(ka, kb, offsetof(struct cp_tw_key, sport));
	if (r)
		return r;
	if (ka->proto != kb->proto)
		return ka->proto < kb->proto ? -1 : 1;
	if (va->pid != vb->pid)
		return va->pid < vb->pid ? -1 : 1;
	return va->entered_ns < vb->entered_ns ? -1 : va->entered_ns > vb->entered_ns;
}

static int add_bound(struct tw_view *v, size_t *cap, const struct cp_tw_key *k, __u64 entered_ns)
{
	if (v->n_bound == *cap) {
		size_t n = *cap ? 2 * *cap : 16;
		struct tw_bound *b = realloc(v->bound, n * sizeof(*b));

		if (!b)
			return -ENOMEM;
		v->bound = b;
		*cap = n;
	}
	v->bound[v->n_bound].key = *k;
	v->bound[v->n_bound++].entered_ns = entered_ns;
	return 0;
}

int twview__build(struct tw_view *v, const struct map_dump *const dumps[], size_t n_dumps)
{
	struct view_src src = { dumps, n_dumps };
	size_t total = 0, n = 0, cap_bound = 0, i;
	struct tw_group *g = NULL;
	__u32 *order;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < n_dumps; i++)
		total += dumps[i]->n;
	if (total > UINT32_MAX)
		return -E2BIG;
	order = malloc((total + 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < total; i++) {
		const struct cp_tw_key *k;
		const struct cp_tw_val *val;

		src_entry(&src, i, &k, &val);
		if (tw_removed(val))
			continue;
		if (!(val->flags & CP_TW_BOUND))
			order[n++] = i;
		else if (add_bound(v, &cap_bound, k, val->entered_ns))
			goto nomem;
	}
	/* Indexes, not records, are sorted: the dumps stay as read. */
	qsort_r(order, n, sizeof(*order), cmp_entry, &src);
	v->groups = malloc((n + 1) * sizeof(*v->groups));
	v->times = malloc((n + 1) * sizeof(*v->times));
	if (!v->groups || !v->times)
		goto nomem;
	for (i = 0; i < n; i++) {
		const struct cp_tw_key *k;
		const struct cp_tw_val *val;
		struct cp_dest_key dest;

		src_entry(&src, order[i], &k, &val);
		twmodel_dest_of(&dest, k);
		if (!g || g->pid != val->pid || memcmp(&g->dest, &dest, sizeof(dest))) {
			g = &v->groups[v->n_groups++];
			memset(g, 0, sizeof(*g));
			g->dest = dest;
			g->pid = val->pid;
			g->first = i;
		}
		if (!g->comm[0])
			memcpy(g->comm, val->comm, CP_COMM_LEN);
		v->times[i] = val->entered_ns;
		g->end = i + 1;
	}
	free(order);
	return 0;
nomem:
	free(order);
	twview__free(v);
	return -ENOMEM;
}

void twview__expire(struct tw_view *v, __u64 now)
{
	for (size_t i = 0; i < v->n_groups; i++) {
		struct tw_group *g = &v->groups[i];

		while (g->first < g->end && tw_expired(v->times[g->first], now))
			g->first++;
	}
	for (size_t i = 0; i < v->n_bound; i++)
		if (v->bound[i].entered_ns && tw_expired(v->bound[i].entered_ns, now))
			v->bound[i].entered_ns = 0;
}

__u64 twview__live(const struct tw_view *v)
{
	__u64 n = 0;

	for (size_t i = 0; i < v->n_groups; i++)
		n += tw_group_live(&v->groups[i]);
	for (size_t i = 0; i < v->n_bound; i++)
		n += v->bound[i].entered_ns != 0;
	return n;
}

int twview__each_owner(const struct tw_view *v, tw_owner_fn fn, void *arg)
{
	int err = 0;

	for (size_t i = 0; i < v->n_groups && !err; i++) {
		const struct tw_group *g = &v->groups[i];

		if (tw_group_live(g))
			err = fn(arg, &g->dest, g->pid, g->comm, tw_group_live(g));
	}
	return err;
}

void twview__free(struct tw_view *v)
{
	free(v->groups);
	free(v->times);
	free(v->bound);
	memset(v, 0, sizeof(*v));
}

/* A TIME_WAIT socket the kernel has; bound: its port was bind()'s. */
struct truth_tw {
	struct cp_tw_key key;
	bool bound;
	bool matched;
};

static int cmp_tw(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct cp_tw_key));
}

static void key_from_rec(struct cp_tw_key *k, __u64 cookie, const struct cp_iter_rec *r)
{
	memset(k, 0, sizeof(*k));
	k->netns_cookie = cookie;
	memcpy(k->saddr, r->saddr, 16);
	memcpy(k->daddr, r->daddr, 16);
	k->sport = r->sport;
	k->dport = r->dport;
	k->proto = 6;	/* IPPROTO_TCP */
}

static void append(struct map_dump *d, const struct cp_tw_key *k, const struct cp_tw_val *v)
{
	if (d->n >= d->cap)
		return;
	memcpy(map_dump__key(d, d->n), k, sizeof(*k));
	memcpy(map_dump__val(d, d->n), v, sizeof(*v));
	d->n++;
}

__u64 twmodel__correct(int fd, struct map_dump *tw, const struct cp_iter_rec *recs,
		       size_t n_recs, __u64 cookie, __u64 truth_ns, __u64 now,
		       struct map_dump *added)
{
	struct truth_tw *truth = malloc((n_recs + 1) * sizeof(*truth));
	struct cp_tw_val val = { .entered_ns = now, .flags = CP_TW_SEEDED };
	size_t nt = 0, i;
	__u64 changes = 0;

	if (!truth)
		return 0;
	for (i = 0; i < n_recs; i++) {
		if (!(recs[i].flags & CP_REC_TW))
			continue;
		key_from_rec(&truth[nt].key, cookie, &recs[i]);
		truth[nt].bound = recs[i].flags & CP_REC_BINDPORT;
		truth[nt++].matched = false;
	}
	qsort(truth, nt, sizeof(*truth), cmp_tw);

	for (i = 0; i < tw->n; i++) {
		struct cp_tw_key *k = map_dump__key(tw, i);
		struct cp_tw_val *v = map_dump__val(tw, i);
		struct truth_tw *hit;

		if (k->netns_cookie != cookie || tw_removed(v))
			continue;
		hit = bsearch(k, truth, nt, sizeof(*truth), cmp_tw);
		if (hit) {
			hit->matched = true;
			continue;
		}
		if (v->entered_ns >= truth_ns)
			continue;	/* handed off after the truth was taken */
		if (bpf_map_delete_elem(fd, k) == 0)
			changes++;
		v->entered_ns = 0;
	}
	/* Connect()-side TIME_WAIT sockets the model missed; bind-held ones (a server's, say)
	 * count through the truth's bind-held ports instead. Their age is unknown: they expire
	 * 60 s from now at the latest, or at the next correction. */
	for (i = 0; i < nt; i++) {
		if (truth[i].matched || truth[i].bound)
			continue;
		if (bpf_map_update_elem(fd, &truth[i].key, &val, BPF_NOEXIST))
			continue;
		changes++;
		append(added, &truth[i].key, &val);	/* counted in this pass too */
	}
	free(truth);
	return changes;
}
