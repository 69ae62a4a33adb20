// SPDX-License-Identifier: GPL-2.0
/* twmodel.c: expiry and correction of the TIME_WAIT model (see twmodel.h). */
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "twmodel.h"

#define NSEC 1000000000ULL

void twmodel__expire(int fd, struct map_dump *tw, __u64 now)
{
	struct cp_tw_key *dead = malloc(tw->n * sizeof(*dead) + 1);
	size_t n = 0;

	if (!dead)
		return;
	for (size_t i = 0; i < tw->n; i++) {
		struct cp_tw_val *v = map_dump__val(tw, i);

		if (v->entered_ns < now && now - v->entered_ns >= CP_TW_SECONDS * NSEC) {
			dead[n++] = *(struct cp_tw_key *)map_dump__key(tw, i);
			v->entered_ns = 0;
		}
	}
	map_delete_keys(fd, dead, sizeof(*dead), n);
	free(dead);
}

/* Owners of the destination whose entries are being counted: a few at a time. */
#define RUN_OWNERS 8

struct owner_run {
	struct cp_dest_key dest;
	size_t n;
	struct {
		__u32 pid;
		__u64 count;
		const char *comm;
	} o[RUN_OWNERS];
};

static int run_flush(struct owner_run *r, tw_owner_fn fn, void *arg)
{
	int err = 0;

	for (size_t i = 0; i < r->n && !err; i++)
		err = fn(arg, &r->dest, r->o[i].pid, r->o[i].comm, r->o[i].count);
	r->n = 0;
	return err;
}

int twmodel__each_owner(const struct map_dump *tw, tw_owner_fn fn, void *arg)
{
	struct owner_run run = { .n = 0 };
	struct cp_dest_key dest;
	int err = 0;

	for (size_t i = 0; i < tw->n && !err; i++) {
		const struct cp_tw_val *v = map_dump__val(tw, i);
		size_t j;

		if (tw_removed(v) || (v->flags & CP_TW_BOUND))
			continue;
		twmodel_dest_of(&dest, map_dump__key(tw, i));
		if (run.n && memcmp(&dest, &run.dest, sizeof(dest)))
			err = run_flush(&run, fn, arg);	/* the next destination */
		run.dest = dest;
		for (j = 0; j < run.n && run.o[j].pid != v->pid; j++)
			;
		if (j == RUN_OWNERS) {	/* many owners: give these, go on with the rest */
			err = err ?: run_flush(&run, fn, arg);
			j = 0;
		}
		if (j == run.n) {
			run.o[j].pid = v->pid;
			run.o[j].count = 0;
			run.o[j].comm = v->comm;
			run.n++;
		}
		if (!run.o[j].comm[0])
			run.o[j].comm = v->comm;
		run.o[j].count++;
	}
	return err ?: run_flush(&run, fn, arg);
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
