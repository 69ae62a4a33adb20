// SPDX-License-Identifier: GPL-2.0
/* collector.c: one pass per interval:
 *   1. find the namespaces; from a dedicated thread, setns() into each to read its limits
 *      and, every --correct-every seconds, the kernel's truth (iter/tcp, INET_DIAG);
 *   2. read the kernel's maps; expire the TIME_WAIT model (60 s) and correct it from truth
 *      (a big model is read in full only every TW_FULL_READ_NS, see struct tw_cache);
 *   3. fill the snapshot: usage against capacity per destination, failures, losses. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "connpressure.skel.h"
#include "bindcap.h"
#include "census.h"
#include "collector.h"
#include "deststats.h"
#include "gaugecheck.h"
#include "holders.h"
#include "log.h"
#include "maps.h"
#include "prune.h"
#include "truth.h"
#include "twmodel.h"

#define NSEC 1000000000ULL

/* Reading tw_socks costs a lock per entry: under a connection storm (hundreds of thousands of
 * entries) most of this process's CPU. A model bigger than TW_SMALL is read in full only every
 * TW_FULL_READ_NS (well under the 60 s an entry lives) and whenever a truth check needs it; the
 * passes between follow it with the per-destination hand-off and reuse counts. A smaller one
 * is read whenever the kernel side changed it (tw_changes()): the read walks every bucket of
 * the map (262,144 by default), which was a third of an idle host's CPU for this process. */
#define TW_SMALL	4096
#define TW_FULL_READ_NS	(10 * NSEC)

/* What the collector remembers of a namespace between passes. */
struct ns_state {
	__u64 cookie;
	bool seeded;			/* its sockets have been adopted once */
	__u64 next_truth_ns;		/* when its TIME_WAIT model is next checked */
	__u64 model_tw;			/* entries the model held for it at the last pass */
	unsigned int quiet_checks;	/* checks in a row that found nothing to correct */
	struct cp_local_list truth_binds;	/* bind-held (address, port) in the last truth pass */
	bool bound_inactive_left;	/* the last INET_DIAG dump found bound-only sockets */
	__u64 corr_last, corr_total;
	__u64 gauge_corr_last, gauge_corr_total;	/* gaugecheck's, at its checks */
	bool seen;
};

/* One namespace's share of this pass, filled by the netns thread. */
struct ns_work {
	const struct cp_netns_ref *ref;
	__u64 cookie;
	int err;			/* entering it or reading its cookie failed */
	struct cp_limits limits;
	int limits_err;
	bool truth_taken;
	bool bound_dumped;		/* the truth has the INET_DIAG bound-only dump */
	__u64 truth_ns;			/* CLOCK_MONOTONIC when the truth pass began */
	struct cp_truth truth;
	struct cp_local_list udp;	/* UDP sockets' local (address, port), every pass */
	int udp_err;
	struct cp_udp_ranged udp_ranged;	/* those with their own range (iter/udp) */
	bool seeding;			/* first truth pass of this netns */
};

/* A sorted (key, value) table for the previous pass's running totals. */
struct totals {
	void *keys;
	__u64 *vals;
	size_t n, key_size;
};

/* The TIME_WAIT model as last read in full, and each destination's hand-off and reuse
 * counts at that moment: TIME_WAIT now = entries of that read not yet 60 s old
 * + hand-offs since - reuses since. */
struct tw_cache {
	bool valid;
	__u64 read_ns;
	__u64 changes;			/* tw_changes() just before that read */
	__u64 n_read;			/* live entries at that read */
	struct tw_view view;		/* tw_socks as read, corrected, by (destination, owner) */
	struct totals tw_in, tw_out;	/* cp_dest_key -> cp_dest_stats.tw_in / tw_out */
};

struct collector {
	struct collector_opts o;
	struct tw_cache twc;
	struct gaugecheck gc;
	bool tw_full;			/* this pass read tw_socks in full */
	bool seeded;
	__u64 last_pass_ns;
	struct ns_state *ns;
	size_t n_ns, cap_ns;
	struct totals prev_connects;	/* cp_dest_key -> connects */
	struct totals prev_fails;	/* cp_fail_key -> count */
	__u64 events;
	struct pruner prune_dests, prune_holders, prune_binds, prune_fails;
	__u64 last_prune_ns;
	struct dest_names names;	/* the destination ids slots name (census.h) */
	__u64 unnamed_warned;
};

static bool dest_empty(const void *val)
{
	const struct cp_dest_stats *s = val;

	return s->syn_sent <= 0 && s->established <= 0 && s->other <= 0 && s->ranged <= 0;
}

static bool holder_empty(const void *val)
{
	return ((const struct cp_holder_val *)val)->ports <= 0;
}

static bool bind_empty(const void *val)
{
	return ((const struct cp_bind_val *)val)->sockets <= 0;
}

/* A failure row holds nothing: the pruner's "unchanged for a round" is all it takes. */
static bool fail_idle(const void *val)
{
	(void)val;
	return true;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static double real_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct collector *collector__new(const struct collector_opts *opts)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->o = *opts;
	pruner__init(&c->prune_dests, bpf_map__fd(opts->loader->skel->maps.dest_stats),
		     sizeof(struct cp_dest_key), sizeof(struct cp_dest_stats), dest_empty);
	pruner__set_fold(&c->prune_dests,
			 bpf_map__value_size(opts->loader->skel->maps.dest_stats), dest_stats__fold);
	pruner__init(&c->prune_holders, bpf_map__fd(opts->loader->skel->maps.holder_ports),
		     sizeof(struct cp_holder_key), sizeof(struct cp_holder_val), holder_empty);
	pruner__init(&c->prune_binds, bpf_map__fd(opts->loader->skel->maps.bind_ports),
		     sizeof(struct cp_bind_key), sizeof(struct cp_bind_val), bind_empty);
	pruner__init(&c->prune_fails, bpf_map__fd(opts->loader->skel->maps.failures),
		     sizeof(struct cp_fail_key), sizeof(struct cp_fail_val), fail_idle);
	c->prev_connects.key_size = sizeof(struct cp_dest_key);
	c->prev_fails.key_size = sizeof(struct cp_fail_key);
	c->twc.tw_in.key_size = c->twc.tw_out.key_size = sizeof(struct cp_dest_key);
	return c;
}

static void totals_free(struct totals *t)
{
	free(t->keys);
	free(t->vals);
	t->keys = NULL;
	t->vals = NULL;
	t->n = 0;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	totals_free(&c->prev_connects);
	totals_free(&c->prev_fails);
	totals_free(&c->twc.tw_in);
	totals_free(&c->twc.tw_out);
	twview__free(&c->twc.view);
	gaugecheck__free(&c->gc);
	pruner__free(&c->prune_dests);
	pruner__free(&c->prune_holders);
	pruner__free(&c->prune_binds);
	pruner__free(&c->prune_fails);
	dest_names__free(&c->names);
	for (size_t i = 0; i < c->n_ns; i++)
		local_list__free(&c->ns[i].truth_binds);
	free(c->ns);
	free(c);
}

int collector__on_event(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;

	if (size >= sizeof(struct cp_event))
		c->events++;	/* counts live in the failures map; the event only announces */
	return 0;
}

/* ---- the netns thread ---------------------------------------------------------------- */

static struct ns_state *ns_state_get(struct collector *c, __u64 cookie);

struct ns_pass {
	struct ns_work *work;
	size_t n;
	struct collector *c;
	__u64 now;
	size_t next;			/* the next work item a thread takes (atomic) */
	unsigned int slots;		/* threads started: each takes a connect_rec_tids slot */
	pthread_mutex_t lock;		/* around c->ns, which the threads share */
};

/* Threads that read namespaces at once: a check is mostly kernel time walking the machine's
 * sockets, so start-up with many namespaces goes as fast as there are CPUs to walk on. */
#define NS_THREADS_MAX CP_ITER_THREADS

/*
 * The iterator and INET_DIAG walk every socket of the machine for each netns they are run
 * in (the kernel filters by netns as it goes), so a pass costs namespaces x sockets. Take
 * it where it can find something: once to seed a netns, then every --correct-every seconds
 * where TIME_WAIT sockets or entries of the model, or bind-held ports only the truth knows,
 * exist. (The gauge check rides along: it adds no walk of its own.)
 */
static bool truth_wanted(const struct ns_state *st, const struct cp_sockstat *ss, __u64 now)
{
	if (!st->seeded)
		return true;
	if (now < st->next_truth_ns)
		return false;
	return ss->tw > 0 || st->model_tw > 0 || st->truth_binds.n > 0;
}

/* iter/udp records grouped by (local address, own range). */
static int cmp_udp_rec(const void *a, const void *b)
{
	const struct cp_udp_rec *x = a, *y = b;
	int r = memcmp(x->saddr, y->saddr, sizeof(x->saddr));

	if (r)
		return r;
	if (x->range_lo != y->range_lo)
		return x->range_lo < y->range_lo ? -1 : 1;
	return x->range_hi < y->range_hi ? -1 : x->range_hi > y->range_hi;
}

static void read_one_netns(struct ns_work *w, struct ns_pass *p, unsigned int slot)
{
	struct cp_sockstat ss;
	struct ns_state *st;
	bool have_ss, wanted, dump_bound;
	int fd;

	w->err = netns__enter(w->ref);
	if (!w->err)
		w->err = netns__cookie(&w->cookie);
	if (w->err)
		return;
	/* /proc/sys/net and /proc/thread-self/net follow the calling thread's netns. */
	w->limits_err = limits__read("/proc/sys", &w->limits);
	have_ss = !truth__read_sockstat(&ss);
	/* UDP has no port-choosing hook we can afford: its truth is cheap, take it each pass
	 * (unless sockstat says there is no UDP socket at all). */
	if (!have_ss || ss.udp_inuse > 0) {
		w->udp_err = truth__read_udp(&w->udp);
		fd = loader__iter_udp_fd(p->c->o.loader);
		if (fd >= 0 && truth__read_udp_ranged(fd, &w->udp_ranged))
			log_debug("iter/udp in netns %s failed", w->ref->path);
		if (w->udp_ranged.n)
			qsort(w->udp_ranged.v, w->udp_ranged.n, sizeof(*w->udp_ranged.v),
			      cmp_udp_rec);
	}
	pthread_mutex_lock(&p->lock);	/* the main thread waits meanwhile */
	st = ns_state_get(p->c, w->cookie);
	wanted = st && truth_wanted(st, have_ss ? &ss : &(struct cp_sockstat){ .tw = 1 }, p->now);
	w->seeding = st && !st->seeded;
	dump_bound = w->seeding || (st && st->bound_inactive_left);
	pthread_mutex_unlock(&p->lock);
	if (!wanted)
		return;
	w->truth_ns = mono_ns();
	if (!have_ss || ss.tcp_inuse + ss.tw > 0) {
		/* The gauge check wants the live connect()-side sockets; a first pass does not. */
		p->c->o.loader->skel->bss->connect_rec_tids[slot] = w->seeding ? 0 : gettid();
		fd = loader__iter_fd(p->c->o.loader);
		if (fd < 0 || truth__read_iter(fd, &w->truth)) {
			log_debug("iter/tcp in netns %s failed", w->ref->path);
			return;
		}
	}
	/* Bound-only sockets are seen by no iterator, only by an INET_DIAG dump, which walks
	 * every socket of the machine (twice: once per family): a tenth of this process's CPU in
	 * a client-close storm. Those bound after the start are followed live (post_bind, then
	 * the release or tcp_destroy_sock), so the dump is for those bound before it, which can
	 * only go away: it is taken when a netns is seeded, and again only while the last dump
	 * found some. */
	if (dump_bound && truth__read_bound_inactive(&w->truth))
		log_debug("INET_DIAG bound-inactive dump in netns %s failed", w->ref->path);
	w->bound_dumped = dump_bound;
	w->truth_taken = true;
}

static void *netns_thread(void *arg)
{
	struct ns_pass *p = arg;
	unsigned int slot = __atomic_fetch_add(&p->slots, 1, __ATOMIC_RELAXED);
	size_t i;

	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n)
		read_one_netns(&p->work[i], p, slot);
	p->c->o.loader->skel->bss->connect_rec_tids[slot] = 0;
	return NULL;	/* the thread ends here, and its namespace with it */
}

/* setns() changes only the calling thread: do it in threads of their own. */
static int read_namespaces(struct ns_pass *p)
{
	pthread_t t[NS_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = 0, want = cpus > 1 ? (size_t)cpus : 1;
	int err = 0;

	if (want > NS_THREADS_MAX)
		want = NS_THREADS_MAX;
	if (want > p->n)
		want = p->n ? p->n : 1;
	pthread_mutex_init(&p->lock, NULL);
	p->next = 0;
	p->slots = 0;
	while (n < want && !(err = pthread_create(&t[n], NULL, netns_thread, p)))
		n++;
	for (size_t i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p->lock);
	return n ? 0 : -err;
}

/* ---- helpers over sorted tables --------------------------------------------------------- */

static size_t key_size_cmp;
static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, key_size_cmp);
}

static __u64 totals_get(const struct totals *t, const void *key, bool *found)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = memcmp((char *)t->keys + mid * t->key_size, key, t->key_size);

		if (!r) {
			*found = true;
			return t->vals[mid];
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return 0;
}

/* Replace t with (key, value) pairs taken from a dump, sorted by key. */
static int totals_set(struct totals *t, const struct map_dump *d, size_t val_off)
{
	struct { char key[64]; __u64 val; } *pairs;
	size_t i;

	totals_free(t);
	if (!d->n)
		return 0;
	pairs = malloc(d->n * sizeof(*pairs));
	t->keys = malloc(d->n * t->key_size);
	t->vals = malloc(d->n * sizeof(__u64));
	if (!pairs || !t->keys || !t->vals) {
		free(pairs);
		totals_free(t);
		return -ENOMEM;
	}
	for (i = 0; i < d->n; i++) {
		memset(pairs[i].key, 0, sizeof(pairs[i].key));
		memcpy(pairs[i].key, map_dump__key(d, i), t->key_size);
		memcpy(&pairs[i].val, (char *)map_dump__val(d, i) + val_off, sizeof(__u64));
	}
	key_size_cmp = t->key_size;
	qsort(pairs, d->n, sizeof(*pairs), cmp_key);
	for (i = 0; i < d->n; i++) {
		memcpy((char *)t->keys + i * t->key_size, pairs[i].key, t->key_size);
		t->vals[i] = pairs[i].val;
	}
	t->n = d->n;
	free(pairs);
	return 0;
}

static struct ns_state *ns_state_get(struct collector *c, __u64 cookie)
{
	for (size_t i = 0; i < c->n_ns; i++)
		if (c->ns[i].cookie == cookie)
			return &c->ns[i];
	if (c->n_ns == c->cap_ns) {
		size_t cap = c->cap_ns ? c->cap_ns * 2 : 8;
		void *v = realloc(c->ns, cap * sizeof(*c->ns));

		if (!v)
			return NULL;
		c->ns = v;
		c->cap_ns = cap;
	}
	memset(&c->ns[c->n_ns], 0, sizeof(c->ns[0]));
	c->ns[c->n_ns].cookie = cookie;
	return &c->ns[c->n_ns++];
}

/* Namespaces gone since the last pass are forgotten. */
static void ns_state_prune(struct collector *c)
{
	size_t i = 0;

	while (i < c->n_ns) {
		if (!c->ns[i].seen) {
			local_list__free(&c->ns[i].truth_binds);
			c->ns[i] = c->ns[--c->n_ns];
			continue;
		}
		c->ns[i].seen = false;
		i++;
	}
}

static struct ns_state *ns_state_find(struct collector *c, struct ns_state *last, __u64 cookie)
{
	if (last && last->cookie == cookie)
		return last;
	for (size_t j = 0; j < c->n_ns; j++)
		if (c->ns[j].cookie == cookie)
			return &c->ns[j];
	return NULL;
}

/* TIME_WAIT model entries left per netns after expiry: which namespaces need checking. */
static void count_model_tw(struct collector *c, const struct tw_view *tw)
{
	struct ns_state *st = NULL;

	for (size_t i = 0; i < c->n_ns; i++)
		c->ns[i].model_tw = 0;
	for (size_t i = 0; i < tw->n_groups; i++) {
		st = ns_state_find(c, st, tw->groups[i].dest.netns_cookie);
		if (st)
			st->model_tw += tw_group_live(&tw->groups[i]);
	}
	for (size_t i = 0; i < tw->n_bound; i++) {
		st = ns_state_find(c, st, tw->bound[i].key.netns_cookie);
		if (st && tw->bound[i].entered_ns)
			st->model_tw++;
	}
}

/* ---- building the snapshot --------------------------------------------------------------- */

struct pass_data {
	struct map_dump dests, holders, binds, fails;
	struct map_dump tw, tw_added;	/* a full read of tw_socks, and what correction added */
	const struct tw_view *view;	/* the model for this pass (the cache's) */
	__u32 *dest_ids;		/* each dests entry's id, as read */
	struct census cen;		/* the live slots, counted before the maps are read */
	struct holders hold;		/* ports per (destination, pid), TIME_WAIT included */
};

/* The destination's largest holder with a known pid. */
static void top_holder(const struct pass_data *pd, struct cp_dest_row *row)
{
	const struct holder_row *top = holders__top(&pd->hold, &row->key);

	if (!top)
		return;
	row->top_pid = top->pid;
	row->top_count = top->ports;
	memcpy(row->top_comm, top->comm, CP_COMM_LEN);
}

/* TIME_WAIT model entries per destination: a dump of (cp_dest_key, __u64 count), sorted. */
static int cmp_dest(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct cp_dest_key));
}

static int add_tw_dest(void *arg, const struct cp_dest_key *dest, __u32 pid, const char *comm,
		       __u64 n)
{
	struct map_dump *t = arg;

	(void)pid, (void)comm;
	if (t->n && !cmp_dest(map_dump__key(t, t->n - 1), dest)) {
		*(__u64 *)map_dump__val(t, t->n - 1) += n;	/* the same destination's next owner */
		return 0;
	}
	return map_dump__append(t, dest, &n);
}

/* Count the model's entries per destination: the view's groups come in destination (key)
 * order, so a destination's owners are side by side and the dump is sorted as it is made. */
static int tw_dests_build(struct map_dump *t, const struct pass_data *pd)
{
	t->key_size = sizeof(struct cp_dest_key);
	t->val_size = sizeof(__u64);
	return twview__each_owner(pd->view, add_tw_dest, t);
}

static __u64 tw_count(const struct map_dump *t, const struct cp_dest_key *key)
{
	const __u64 *n = map_dump__find(t, key);

	return n ? *n : 0;
}

/* (address, port) pairs held by TCP bind() in one netns: live from the kernel, bound
 * TIME_WAIT entries of the model, and the truth's (listeners, accepted and bind-then-connect
 * sockets, bound-only sockets). */
static int bind_pairs(const struct pass_data *pd, const struct ns_state *st, __u64 cookie,
		      struct cp_local_list *out)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < st->truth_binds.n; i++)
		err = local_list__add(out, st->truth_binds.v[i].addr, st->truth_binds.v[i].port);
	for (i = 0; !err && i < pd->binds.n; i++) {
		const struct cp_bind_key *k = map_dump__key(&pd->binds, i);
		const struct cp_bind_val *v = map_dump__val(&pd->binds, i);

		if (k->netns_cookie == cookie && v->sockets > 0)
			err = local_list__add(out, k->addr, k->port);
	}
	for (i = 0; !err && i < pd->view->n_bound; i++) {
		const struct tw_bound *b = &pd->view->bound[i];

		if (b->key.netns_cookie == cookie && b->entered_ns)
			err = local_list__add(out, b->key.saddr, b->key.sport);
	}
	return err;
}

static int copy_rows(struct cp_addr_usage *u, struct cp_addr_row **rows, size_t *n)
{
	*rows = u->rows;	/* ownership moves to the snapshot */
	*n = u->n;
	u->rows = NULL;
	u->n = 0;
	return 0;
}

/* The range a socket's IP_LOCAL_PORT_RANGE leaves within the netns's, as the kernel takes it
 * (inet_sk_get_local_port_range): an end outside the netns range is ignored. */
static void limits_narrow(struct cp_limits *l, unsigned int lo, unsigned int hi)
{
	if (l->port_lo <= lo && lo <= l->port_hi)
		l->port_lo = lo;
	if (l->port_lo <= hi && hi <= l->port_hi)
		l->port_hi = hi;
	l->reserved_in_range = port_set_count(&l->reserved, l->port_lo, l->port_hi);
}

static int cmp_udp_range_rows(const void *a, const void *b)
{
	const struct cp_udp_range_row *x = a, *y = b;

	if (x->usage.pressure != y->usage.pressure)
		return x->usage.pressure < y->usage.pressure ? 1 : -1;
	return memcmp(x->usage.addr, y->usage.addr, sizeof(x->usage.addr));
}

/* UDP usage within each (local address, own range) of the sockets that set one: every UDP
 * port there counts, whoever holds it. */
static int fill_udp_ranges(const struct ns_work *w, struct cp_netns_snap *ns)
{
	const struct cp_udp_rec *recs = w->udp_ranged.v;	/* sorted by read_one_netns() */
	size_t n = w->udp_ranged.n, i, j;
	struct cp_addr_usage *u = calloc(1, sizeof(*u));
	struct cp_limits *l = malloc(sizeof(*l));
	int err = 0;

	ns->udp_ranges = calloc(n + 1, sizeof(*ns->udp_ranges));
	if (!u || !l || !ns->udp_ranges) {
		free(u);
		free(l);
		return -ENOMEM;
	}
	for (i = 0; !err && i < n; i = j) {
		struct cp_udp_range_row *row = &ns->udp_ranges[ns->n_udp_ranges];

		for (j = i + 1; j < n && !cmp_udp_rec(&recs[i], &recs[j]); j++)
			;
		*l = ns->limits;
		limits_narrow(l, recs[i].range_lo, recs[i].range_hi);
		err = bindcap__compute(w->udp.v, w->udp.n, l, u);
		for (size_t k = 0; !err && k < u->n; k++) {
			if (memcmp(u->rows[k].addr, recs[i].saddr, 16))
				continue;
			row->usage = u->rows[k];
			row->range_lo = l->port_lo;
			row->range_hi = l->port_hi;
			row->sockets = j - i;
			ns->n_udp_ranges++;
			break;
		}
		bindcap__free(u);
	}
	qsort(ns->udp_ranges, ns->n_udp_ranges, sizeof(*ns->udp_ranges), cmp_udp_range_rows);
	free(u);
	free(l);
	return err;
}

/* Bind-held and UDP ports of one netns, and the connect() capacity they leave.
 * held receives every bind-held port (for destinations with their own range). */
static int fill_ports(const struct pass_data *pd, const struct ns_work *w,
		      const struct ns_state *st, struct cp_netns_snap *ns, struct cp_port_set *held)
{
	struct cp_local_list pairs = {};
	struct cp_addr_usage *u;
	int err;

	if (!ns->limits_ok)
		return 0;
	u = malloc(sizeof(*u));
	if (!u)
		return -ENOMEM;
	err = bind_pairs(pd, st, w->cookie, &pairs);
	if (!err)
		err = bindcap__compute(pairs.v, pairs.n, &ns->limits, u);
	if (!err) {
		*held = u->held;
		ns->capacity = model_capacity(&ns->limits, held, &ns->bind_held_in_range);
		copy_rows(u, &ns->binds, &ns->n_binds);
	}
	if (!err && !w->udp_err) {
		err = bindcap__compute(w->udp.v, w->udp.n, &ns->limits, u);
		if (!err) {
			ns->udp_ok = true;
			ns->udp_in_use = u->in_use;
			ns->udp_capacity = ns->limits.port_hi - ns->limits.port_lo + 1 -
					   ns->limits.reserved_in_range;
			ns->udp_pressure = model_pressure(ns->udp_in_use, ns->udp_capacity);
			copy_rows(u, &ns->udp_addrs, &ns->n_udp_addrs);
		}
		if (!err && w->udp_ranged.n)
			err = fill_udp_ranges(w, ns);
	}
	local_list__free(&pairs);
	free(u);
	return err;
}

/* Capacity of a destination whose sockets set IP_LOCAL_PORT_RANGE: the kernel intersects it
 * with the netns range (a zero end keeps the netns's). */
static __u64 own_range_capacity(struct cp_dest_row *row, const struct cp_netns_snap *ns,
				const struct cp_port_set *held)
{
	struct cp_limits *l = malloc(sizeof(*l));
	__u64 cap;

	if (!l)
		return ns->capacity;
	*l = ns->limits;
	limits_narrow(l, row->range_lo, row->range_hi);
	row->range_lo = l->port_lo;
	row->range_hi = l->port_hi;
	cap = model_capacity(l, held, NULL);
	free(l);
	return cap;
}

/* A destination's TIME_WAIT count: the model's entries as last read (still under 60 s old),
 * plus what its sockets handed to the model since, minus what connect() reused. */
static __u64 tw_since_read(const struct collector *c, const struct cp_dest_key *k,
			   const struct cp_dest_stats *v, __u64 from_read)
{
	__u64 in, out;
	__s64 n;
	bool found;

	if (c->tw_full)
		return from_read;
	in = totals_get(&c->twc.tw_in, k, &found);
	out = totals_get(&c->twc.tw_out, k, &found);
	if (v->tw_in < in || v->tw_out < out)
		in = out = 0;	/* the entry was pruned and made again since */
	n = (__s64)from_read + (__s64)(v->tw_in - in) - (__s64)(v->tw_out - out);
	return n > 0 ? n : 0;
}

static int fill_dests(struct collector *c, const struct pass_data *pd,
		      const struct map_dump *twd, __u64 cookie, struct cp_netns_snap *ns,
		      const struct cp_port_set *held, double elapsed)
{
	__u32 pid = c->o.cfg->pid;
	size_t i, n_rows = pd->dests.n;

	/* Rows: live gauges, then destinations holding only TIME_WAIT entries (seeded, or
	 * whose gauges never fitted in the map). */
	n_rows += twd->n;
	ns->dests = calloc(n_rows + 1, sizeof(*ns->dests));
	if (!ns->dests)
		return -ENOMEM;
	for (i = 0; i < pd->dests.n + twd->n; i++) {
		const struct cp_dest_stats *v = NULL;
		const struct cp_dest_key *k;
		struct cp_dest_row *row;
		__u64 prev;
		bool found;

		if (i < pd->dests.n) {
			k = map_dump__key(&pd->dests, i);
			v = map_dump__val(&pd->dests, i);
		} else {
			size_t t = i - pd->dests.n;

			k = map_dump__key(twd, t);
			if (bsearch(k, pd->dests.keys, pd->dests.n, sizeof(*k), cmp_dest))
				continue;	/* counted already */
		}
		if (k->netns_cookie != cookie)
			continue;
		row = &ns->dests[ns->n_dests];
		memset(row, 0, sizeof(*row));
		row->key = *k;
		row->time_wait = tw_count(twd, k);
		if (v) {
			__s64 off[GAUGE_N], n;

			row->time_wait = tw_since_read(c, k, v, row->time_wait);
			gaugecheck__offsets(&c->gc, k, off);
			n = v->syn_sent + off[GAUGE_SYN_SENT];
			row->syn_sent = n > 0 ? n : 0;
			n = v->established + off[GAUGE_ESTABLISHED];
			row->established = n > 0 ? n : 0;
			n = v->other + off[GAUGE_OTHER];
			row->other = n > 0 ? n : 0;
			/* An entry the last pass did not see was made since: its count is all new. */
			prev = totals_get(&c->prev_connects, k, &found);
			row->new_per_second = elapsed > 0 && v->connects >= prev ?
					      (v->connects - prev) / elapsed : 0;
			/* Its own range only when every live socket of it set one. */
			if (v->ranged > 0 && (__u64)v->ranged == row->syn_sent + row->established +
							      row->other) {
				row->range_lo = v->range_lo;
				row->range_hi = v->range_hi;
			}
		}
		row->in_use = row->syn_sent + row->established + row->other + row->time_wait;
		if (!row->in_use && row->new_per_second == 0)
			continue;	/* idle destinations are not news */
		if (pid && !(row->pid_ports = holders__ports(&pd->hold, k, pid)))
			continue;
		row->own_range = row->range_lo || row->range_hi;
		row->capacity = row->own_range && ns->limits_ok ?
				own_range_capacity(row, ns, held) : ns->capacity;
		row->pressure = model_pressure(row->in_use, row->capacity);
		top_holder(pd, row);
		ns->n_dests++;
	}
	model_sort_dests(ns->dests, ns->n_dests);
	return 0;
}

static int fill_fails(struct collector *c, const struct pass_data *pd, __u64 cookie,
		      struct cp_netns_snap *ns)
{
	__u32 pid = c->o.cfg->pid;

	ns->fails = calloc(pd->fails.n + 1, sizeof(*ns->fails));
	if (!ns->fails)
		return -ENOMEM;
	for (size_t i = 0; i < pd->fails.n; i++) {
		const struct cp_fail_key *k = map_dump__key(&pd->fails, i);
		const struct cp_fail_val *v = map_dump__val(&pd->fails, i);
		struct cp_fail_row *row;
		__u64 prev;
		bool found;

		if (k->dest.netns_cookie != cookie || (pid && k->pid != pid))
			continue;
		prev = totals_get(&c->prev_fails, k, &found);
		row = &ns->fails[ns->n_fails++];
		row->key = k->dest;
		row->pid = k->pid;
		row->err = k->err;
		memcpy(row->comm, v->comm, CP_COMM_LEN);
		row->total = v->count;
		row->count = v->count >= prev ? v->count - prev : v->count;
	}
	return 0;
}

static int fill_netns(struct collector *c, struct pass_data *pd, const struct map_dump *twd,
		      const struct ns_work *w, struct ns_state *st, struct cp_netns_snap *ns,
		      double elapsed)
{
	struct cp_port_set *held = calloc(1, sizeof(*held));
	int err;

	if (!held)
		return -ENOMEM;
	ns->cookie = w->cookie;
	ns->inum = w->ref->inum;
	ns->pid = w->ref->pid;
	snprintf(ns->name, sizeof(ns->name), "%s", w->ref->name);
	snprintf(ns->cgroup, sizeof(ns->cgroup), "%s", w->ref->cgroup);
	ns->limits = w->limits;
	ns->limits_ok = !w->limits_err;
	ns->tw_correction_last = st->corr_last;
	ns->tw_correction_total = st->corr_total;
	ns->gauge_correction_last = st->gauge_corr_last;
	ns->gauge_correction_total = st->gauge_corr_total;

	err = fill_ports(pd, w, st, ns, held);
	if (!err)
		err = fill_dests(c, pd, twd, w->cookie, ns, held, elapsed);
	if (!err)
		err = fill_fails(c, pd, w->cookie, ns);
	free(held);
	return err;
}

static int cmp_fail_rows(const void *a, const void *b)
{
	const struct cp_fail_row *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

/* Every map but tw_socks, which the pass reads after them when it is due (the hand-off and
 * reuse counts of dest_stats must not be newer than that read). */
static int dump_maps(const struct loader *ld, struct pass_data *pd)
{
	struct connpressure_bpf *s = ld->skel;
	const struct {
		const struct bpf_map *map;
		struct map_dump *dump;
	} maps[] = {
		{ s->maps.dest_stats, &pd->dests },
		{ s->maps.holder_ports, &pd->holders },
		{ s->maps.bind_ports, &pd->binds },
		{ s->maps.failures, &pd->fails },
	};
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(maps) / sizeof(maps[0]); i++)
		err = map_dump__read(bpf_map__fd(maps[i].map), bpf_map__key_size(maps[i].map),
				     bpf_map__value_size(maps[i].map), maps[i].dump);
	if (err)
		return err;
	pd->dest_ids = malloc((pd->dests.n + 1) * sizeof(*pd->dest_ids));
	if (!pd->dest_ids)
		return -ENOMEM;
	dest_stats__fold_dump(&pd->dests, pd->dest_ids);	/* the stripes summed */
	return 0;
}

static int census_add(void *cen, const struct cp_sock_slot *slots, size_t n)
{
	return census__add(cen, slots, n);
}

/* Count the live slots: before the maps are read, so that every destination id a slot
 * names was in dest_stats already (its entry is made before the slot names it). */
static int take_census(struct collector *c, struct pass_data *pd)
{
	int err = loader__read_slots(c->o.loader, census_add, &pd->cen);

	return err ? err : census__finish(&pd->cen);
}

/* Add the census to the gauges and holders just read. */
static int add_census(struct collector *c, struct pass_data *pd)
{
	int err = census__merge(&pd->cen, &pd->dests, pd->dest_ids, &pd->holders, &c->names);

	if (!err && pd->cen.unnamed > c->unnamed_warned) {
		/* Cannot happen by design (the census runs first, ids are never reused, names
		 * outlive their entries): say so rather than show fewer ports. */
		log_warn("%llu ports in slots name an unknown destination: not shown",
			 (unsigned long long)pd->cen.unnamed);
		c->unnamed_warned = pd->cen.unnamed;
	}
	return err;
}

/* Entries the kernel side put into tw_socks or took out, so far: hand-offs of connect()
 * ports (per destination, summed), of bind() ports, and reuses. A model whose count has not
 * moved since its last read is still as read (user space ages it itself). */
static int tw_changes(const struct collector *c, const struct pass_data *pd, __u64 *changes)
{
	__u64 cnt[CP_CNT_MAX];
	int err = loader__read_counters(c->o.loader, cnt, CP_CNT_MAX);

	if (err)
		return err;
	*changes = cnt[CP_CNT_TW_REUSED] + cnt[CP_CNT_TW_BOUND_IN];
	for (size_t i = 0; i < pd->dests.n; i++)
		*changes += ((const struct cp_dest_stats *)map_dump__val(&pd->dests, i))->tw_in;
	return 0;
}

/* Read tw_socks in full this pass? */
static bool tw_full_read_due(const struct collector *c, const struct ns_work *work, size_t n,
			     __u64 now, __u64 changes)
{
	if (!c->twc.valid || now - c->twc.read_ns >= TW_FULL_READ_NS ||
	    (c->twc.n_read < TW_SMALL && changes != c->twc.changes))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!work[i].err && work[i].truth_taken)
			return true;	/* a correction works on a fresh read */
	return false;
}

/* Before a full read: the last one goes (a storm's model is megabytes). */
static void tw_cache_drop(struct collector *c)
{
	twview__free(&c->twc.view);
	c->twc.valid = false;
}

/* A full read, expired and corrected: the view every pass works on until the next one. The
 * dumps go as soon as it is made. */
static int tw_cache_build(struct collector *c, struct pass_data *pd)
{
	const struct map_dump *const dumps[] = { &pd->tw, &pd->tw_added };
	int err = twview__build(&c->twc.view, dumps, 2);

	map_dump__free(&pd->tw);
	map_dump__free(&pd->tw_added);
	return err;
}

/* After a full pass: the counts its read matches, for the passes until the next. */
static void tw_cache_keep(struct collector *c, struct pass_data *pd, __u64 read_ns,
			  __u64 changes)
{
	c->twc.read_ns = read_ns;
	c->twc.changes = changes;
	c->twc.n_read = twview__live(&c->twc.view);
	c->twc.valid =
		!totals_set(&c->twc.tw_in, &pd->dests, offsetof(struct cp_dest_stats, tw_in)) &&
		!totals_set(&c->twc.tw_out, &pd->dests, offsetof(struct cp_dest_stats, tw_out));
}

static void pass_data_free(struct pass_data *pd)
{
	map_dump__free(&pd->dests);
	map_dump__free(&pd->holders);
	map_dump__free(&pd->tw);
	map_dump__free(&pd->tw_added);
	map_dump__free(&pd->binds);
	map_dump__free(&pd->fails);
	free(pd->dest_ids);
	census__free(&pd->cen);
	holders__free(&pd->hold);
}

/* The truth's bind-held ports: listeners, sockets on bind()-made buckets, bound-only ones. */
static int truth_bind_pairs(const struct ns_work *w, struct cp_local_list *out)
{
	size_t i;
	int err = 0;

	out->n = 0;
	for (i = 0; !err && i < w->truth.bound_inactive.n; i++)
		err = local_list__add(out, w->truth.bound_inactive.v[i].addr,
				      w->truth.bound_inactive.v[i].port);
	for (i = 0; !err && i < w->truth.n; i++)
		if (w->truth.recs[i].flags & CP_REC_BINDPORT)	/* listeners are tracked live */
			err = local_list__add(out, w->truth.recs[i].saddr, w->truth.recs[i].sport);
	if (!err)
		local_list__unique(out);
	return err;
}

int collector__collect(struct collector *c, struct cp_snapshot *snap)
{
	const struct cp_config *cfg = c->o.cfg;
	struct pass_data pd = {};
	struct cp_netns_list list;
	struct ns_work *work = NULL;
	struct ns_pass pass = {};
	struct map_dump twd = {};
	__u64 now = mono_ns();
	__u64 tw_changed = 0;
	double elapsed;
	int err, tw_fd = bpf_map__fd(c->o.loader->skel->maps.tw_socks);
	size_t i, k, n_seeded;

	memset(snap, 0, sizeof(*snap));
	c->tw_full = false;
	err = netns__discover(&c->o.roots, cfg->netns, &list);
	if (err) {
		log_err("network namespace '%s': %s", cfg->netns,
			err == -ENOENT ? (c->seeded ? "gone" : "not found") : strerror(-err));
		return err;
	}
	work = calloc(list.n + 1, sizeof(*work));
	if (!work) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < list.n; i++)
		work[i].ref = &list.v[i];
	pass.work = work;
	pass.n = list.n;
	pass.c = c;
	pass.now = now;
	err = read_namespaces(&pass);
	if (err)
		goto out;

	err = take_census(c, &pd);
	if (!err)
		err = dump_maps(c->o.loader, &pd);
	if (!err)
		err = tw_changes(c, &pd, &tw_changed);
	if (!err) {
		c->tw_full = tw_full_read_due(c, work, list.n, now, tw_changed);
		if (c->tw_full) {
			tw_cache_drop(c);	/* not both the old read and the new one in memory */
			err = map_dump__read(tw_fd, sizeof(struct cp_tw_key),
					     sizeof(struct cp_tw_val), &pd.tw);
		}
	}
	if (err) {
		log_err("reading BPF maps: %s", strerror(-err));
		goto out;
	}
	err = add_census(c, &pd);
	if (err) {
		log_err("counting sock_slots: %s", strerror(-err));
		goto out;
	}
	now = mono_ns();
	err = map_dump__sort(&pd.dests);	/* searched from here on */
	if (err)
		goto out;
	if (c->tw_full)
		twmodel__expire(tw_fd, &pd.tw, now);
	else
		twview__expire(&c->twc.view, now);	/* the last full read, aged */
	pd.view = &c->twc.view;

	if (c->tw_full) {
		size_t want = 0;

		pd.tw_added.key_size = sizeof(struct cp_tw_key);
		pd.tw_added.val_size = sizeof(struct cp_tw_val);

		for (i = 0; i < list.n; i++)
			want += work[i].truth.n;
		pd.tw_added.keys = malloc((want + 1) * sizeof(struct cp_tw_key));
		pd.tw_added.vals = malloc((want + 1) * sizeof(struct cp_tw_val));
		pd.tw_added.cap = pd.tw_added.keys && pd.tw_added.vals ? want : 0;
	}

	snap->netns = calloc(list.n + 1, sizeof(*snap->netns));
	if (!snap->netns) {
		err = -ENOMEM;
		goto out;
	}
	/* Correct the model first: every netns's rows below must see the corrected model. */
	for (i = 0, n_seeded = 0; i < list.n; i++)
		n_seeded += !work[i].err && work[i].truth_taken && work[i].seeding;
	for (i = 0, k = 0; i < list.n; i++) {
		struct ns_work *w = &work[i];
		struct ns_state *st;
		__u64 changes;

		if (w->err || !w->truth_taken)
			continue;
		st = ns_state_get(c, w->cookie);
		if (!st)
			continue;
		changes = twmodel__correct(tw_fd, &pd.tw, w->truth.recs, w->truth.n, w->cookie,
					   w->truth_ns, mono_ns(), &pd.tw_added);
		if (truth_bind_pairs(w, &st->truth_binds))
			log_warn("out of memory reading bind-held ports");
		if (w->bound_dumped)
			st->bound_inactive_left = w->truth.bound_inactive.n > 0;
		if (w->seeding) {
			/* Seeding, not a correction. Spread the namespaces' first checks over
			 * one period, so that they do not all fall in the same interval. */
			st->seeded = true;
			st->next_truth_ns = now + cfg->correct_every * NSEC * ++k / n_seeded;
		} else {
			/* Not a first pass: the walk listed the live connect()-side sockets. */
			__u64 moved = gaugecheck__check(&c->gc, w->cookie, w->truth.recs,
							w->truth.n, &pd.dests);

			/* A check walks every socket of the machine: while they find nothing to
			 * correct, space them out, up to 8 periods; any correction resets it. */
			st->corr_last = changes;
			st->corr_total += changes;
			st->gauge_corr_last = moved;
			st->gauge_corr_total += moved;
			st->quiet_checks = changes || moved ? 0 : st->quiet_checks + 1;
			st->next_truth_ns = now + cfg->correct_every * NSEC *
					    (1u << (st->quiet_checks < 3 ? st->quiet_checks : 3));
		}
	}
	if (c->tw_full) {
		err = tw_cache_build(c, &pd);
		if (err)
			goto out;
		/* between full reads the kernel's own increments stand */
		c->o.loader->skel->bss->tw_entries = twview__live(pd.view);
	}
	count_model_tw(c, pd.view);
	err = holders__build(&pd.hold, &pd.holders, pd.view);
	if (err)
		goto out;
	err = tw_dests_build(&twd, &pd);
	if (err)
		goto out;

	elapsed = c->last_pass_ns ? (now - c->last_pass_ns) / 1e9 : 0;
	for (i = 0; i < list.n; i++) {
		struct ns_work *w = &work[i];
		struct cp_netns_snap *ns;
		struct ns_state *st;
		bool dup = false;

		if (w->err)
			continue;	/* gone meanwhile, or not ours to enter */
		for (size_t j = 0; j < snap->n_netns; j++)
			dup |= snap->netns[j].cookie == w->cookie;
		if (dup)
			continue;	/* the same netns reached by two paths */
		st = ns_state_get(c, w->cookie);
		if (!st)
			continue;
		st->seen = true;
		ns = &snap->netns[snap->n_netns++];
		err = fill_netns(c, &pd, &twd, w, st, ns, elapsed);
		if (err)
			goto out;
		qsort(ns->fails, ns->n_fails, sizeof(*ns->fails), cmp_fail_rows);
	}
	ns_state_prune(c);

	if (now - c->last_prune_ns >= cfg->prune_after * NSEC) {
		/* After this pass used the dumps: what is deleted was empty anyway. */
		if (pruner__round(&c->prune_dests, &pd.dests))
			c->twc.valid = false;	/* its hand-off counts are gone: read again */
		if (pruner__round(&c->prune_holders, &pd.holders))
			c->o.loader->skel->bss->holders_gen++;	/* the BPF side's caches of them */
		pruner__round(&c->prune_binds, &pd.binds);
		/* Failure totals are history worth keeping; only a map half full gives up the
		 * rows idle since the last round, so that new failures still find room. */
		if (pd.fails.n * 2 >= cfg->max_failures)
			pruner__round(&c->prune_fails, &pd.fails);
		c->last_prune_ns = now;
	}
	totals_set(&c->prev_connects, &pd.dests, offsetof(struct cp_dest_stats, connects));
	if (gaugecheck__end_pass(&c->gc, &pd.dests))
		log_warn("out of memory keeping the destinations for the next gauge check");
	totals_set(&c->prev_fails, &pd.fails, offsetof(struct cp_fail_val, count));
	loader__read_lost(c->o.loader, &snap->lost);
	snap->sock_slots = c->o.loader->sock_slots;
	snap->ts = real_seconds();
	snap->interval = c->seeded ? elapsed : 0;
	c->last_pass_ns = now;
	c->seeded = true;
out:
	if (err)
		snapshot__free(snap);
	for (i = 0; work && i < list.n; i++) {
		truth__free(&work[i].truth);
		local_list__free(&work[i].udp);
		free(work[i].udp_ranged.v);
	}
	free(work);
	map_dump__free(&twd);
	if (c->tw_full && !err)
		tw_cache_keep(c, &pd, now, tw_changed);
	else if (c->tw_full)
		tw_cache_drop(c);
	pass_data_free(&pd);
	netns_list__free(&list);
	return err;
}
