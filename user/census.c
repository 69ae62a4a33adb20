// SPDX-License-Identifier: GPL-2.0
/* census.c: counting the live slots of sock_slots and adding them to the dumps (census.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "census.h"

/* One live slot as read. */
struct slot_seen {
	__u32 dest_id;
	__u32 owner;
};

/* Read one slot that the kernel may be writing: its fields are taken only when the cookie
 * and dest_id are the same before and after (the kernel writes dest_id last when it fills a
 * slot and first when it frees one). */
static bool read_slot(const struct cp_sock_slot *slot, struct slot_seen *out)
{
	const volatile struct cp_sock_slot *s = slot;
	__u64 cookie = s->cookie;
	__u32 id, owner;

	if (!cookie)
		return false;
	id = s->dest_id;
	if (!id)
		return false;	/* claimed, not filled yet */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	owner = s->owner;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (s->dest_id != id || s->cookie != cookie)
		return false;
	out->dest_id = id;
	out->owner = owner;
	return true;
}

static size_t hash_row(__u32 dest_id, __u32 pid, size_t mask)
{
	__u64 h = ((__u64)dest_id << 32 | pid) * 0x9E3779B97F4A7C15ULL;	/* Fibonacci hashing */

	return (size_t)(h >> 32) & mask;
}

/* The index slot of (dest_id, pid): its row's, or the empty one where it goes. */
static __u32 *index_at(const struct census *c, __u32 dest_id, __u32 pid)
{
	size_t i = hash_row(dest_id, pid, c->index_mask);

	for (;; i = (i + 1) & c->index_mask) {
		const struct census_row *r;

		if (!c->index[i])
			return &c->index[i];
		r = &c->rows[c->index[i] - 1];
		if (r->dest_id == dest_id && r->pid == pid)
			return &c->index[i];
	}
}

/* Room for one more row, with the index at most half full. */
static int make_room(struct census *c)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct census_row *p = realloc(c->rows, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->rows = p;
		c->cap = cap;
	}
	if (!c->index || (c->n + 1) * 2 > c->index_mask + 1) {
		size_t size = c->index ? (c->index_mask + 1) * 2 : 1024;
		__u32 *old = c->index;

		c->index = calloc(size, sizeof(*c->index));
		if (!c->index) {
			c->index = old;
			return -ENOMEM;
		}
		c->index_mask = size - 1;
		for (size_t i = 0; i < c->n; i++)
			*index_at(c, c->rows[i].dest_id, c->rows[i].pid) = i + 1;
		free(old);
	}
	return 0;
}

int census__add(struct census *c, const struct cp_sock_slot *slots, size_t n)
{
	struct slot_seen one;
	int in_use = 0;

	for (size_t i = 0; i < n; i++) {
		struct census_row *r;
		__u32 *at, pid;
		int err;

		/* A claimed slot not filled yet is in use too: its page must be read again. */
		in_use += ((const volatile struct cp_sock_slot *)&slots[i])->cookie != 0;
		if (!read_slot(&slots[i], &one))
			continue;
		pid = CP_SLOT_PID(one.owner);
		at = c->index ? index_at(c, one.dest_id, pid) : NULL;
		if (!at || !*at) {
			err = make_room(c);
			if (err)
				return err;
			at = index_at(c, one.dest_id, pid);	/* the index may have grown */
			r = &c->rows[c->n++];
			memset(r, 0, sizeof(*r));
			r->dest_id = one.dest_id;
			r->pid = pid;
			*at = c->n;
		}
		r = &c->rows[*at - 1];
		r->ports[CP_SLOT_BUCKET(one.owner)]++;
		r->ranged += !!(CP_SLOT_FLAGS(one.owner) & CP_SLOT_RANGED);
	}
	return in_use;
}

static int cmp_row(const void *a, const void *b)
{
	const struct census_row *x = a, *y = b;

	if (x->dest_id != y->dest_id)
		return x->dest_id < y->dest_id ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int census__finish(struct census *c)
{
	free(c->index);
	c->index = NULL;
	c->index_mask = 0;
	qsort(c->rows, c->n, sizeof(*c->rows), cmp_row);
	return 0;
}

int census__take(struct census *c, const struct cp_sock_slot *slots, size_t n)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = census__add(c, slots, n);
	return err < 0 ? err : census__finish(c);
}

static int cmp_name(const void *a, const void *b)
{
	const struct dest_name *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct dest_name *name_of(const struct dest_names *names, __u32 id)
{
	struct dest_name probe = { .id = id };

	return bsearch(&probe, names->v, names->n, sizeof(*names->v), cmp_name);
}

/* This pass's names: every entry of the dump, and the earlier names that slots still use. */
static int names_update(struct dest_names *names, const struct map_dump *dests,
			const __u32 *ids, size_t n_dumped, const struct census *c)
{
	struct dest_names now = {}, dumped;
	size_t i;

	now.v = malloc((n_dumped + c->n + 1) * sizeof(*now.v));
	if (!now.v)
		return -ENOMEM;
	for (i = 0; i < n_dumped; i++) {
		if (!ids[i])
			continue;	/* made by the iterator or sk_storage only: no slot names it */
		now.v[now.n].id = ids[i];
		now.v[now.n].pad = 0;
		now.v[now.n].key = *(const struct cp_dest_key *)map_dump__key(dests, i);
		now.n++;
	}
	qsort(now.v, now.n, sizeof(*now.v), cmp_name);
	dumped = now;	/* the sorted part, while names are added after it */
	for (i = 0; i < c->n; i++) {
		const struct dest_name *old;

		if ((i && c->rows[i - 1].dest_id == c->rows[i].dest_id) ||
		    name_of(&dumped, c->rows[i].dest_id))
			continue;
		old = name_of(names, c->rows[i].dest_id);
		if (old)
			now.v[now.n++] = *old;	/* its entry was pruned: the name stays */
	}
	qsort(now.v, now.n, sizeof(*now.v), cmp_name);
	dest_names__free(names);
	*names = now;
	return 0;
}

/* A dump position by destination id. */
struct id_pos {
	__u32 id;
	__u32 pos;
};

static int cmp_id_pos(const void *a, const void *b)
{
	const struct id_pos *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The folded value of a destination in dests; appended (zero) when its entry is gone. */
static struct cp_dest_stats *dest_val(struct map_dump *dests, const struct id_pos *index,
				      size_t n_index, const struct dest_name *name)
{
	static const struct cp_dest_stats zero;
	struct id_pos probe = { .id = name->id }, *at;

	at = bsearch(&probe, index, n_index, sizeof(*index), cmp_id_pos);
	if (at)
		return map_dump__val(dests, at->pos);
	/* A pruned entry that slots still name (rare): the key may be back under a new id. */
	for (size_t i = 0; i < dests->n; i++)
		if (!memcmp(map_dump__key(dests, i), &name->key, sizeof(name->key)))
			return map_dump__val(dests, i);
	if (map_dump__append(dests, &name->key, &zero))
		return NULL;
	return map_dump__val(dests, dests->n - 1);
}

/* Sort a holder_ports dump and sum entries with the same key (appended ones). */
static int holders_sort(struct map_dump *holders)
{
	size_t out = 0;
	int err = map_dump__sort(holders);

	if (err)
		return err;
	for (size_t i = 0; i < holders->n; i++) {
		struct cp_holder_val *v = map_dump__val(holders, i);

		if (out && !memcmp(map_dump__key(holders, out - 1), map_dump__key(holders, i),
				   holders->key_size)) {
			((struct cp_holder_val *)map_dump__val(holders, out - 1))->ports += v->ports;
			continue;
		}
		if (out != i) {
			memcpy(map_dump__key(holders, out), map_dump__key(holders, i),
			       holders->key_size);
			memcpy(map_dump__val(holders, out), v, holders->val_size);
		}
		out++;
	}
	holders->n = out;
	return 0;
}

int census__merge(struct census *c, struct map_dump *dests, const __u32 *ids,
		  struct map_dump *holders, struct dest_names *names)
{
	size_t n_dumped = dests->n, n_index = 0, i;
	struct map_dump extra = { .key_size = holders->key_size, .val_size = holders->val_size };
	struct cp_dest_stats *v = NULL;
	struct id_pos *index;
	int err;

	err = names_update(names, dests, ids, n_dumped, c);
	if (err)
		return err;
	err = map_dump__sort(holders);
	if (err)
		return err;
	index = malloc((n_dumped + 1) * sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (i = 0; i < n_dumped; i++)
		if (ids[i])
			index[n_index++] = (struct id_pos){ .id = ids[i], .pos = i };
	qsort(index, n_index, sizeof(*index), cmp_id_pos);
	for (i = 0; i < c->n; i++) {
		const struct census_row *r = &c->rows[i];
		__u64 ports = r->ports[CP_BUCKET_SYN_SENT] + r->ports[CP_BUCKET_ESTABLISHED] +
			      r->ports[CP_BUCKET_OTHER];
		const struct dest_name *name = name_of(names, r->dest_id);
		struct cp_holder_key hk = {};
		struct cp_holder_val *hv;

		if (!name) {
			c->unnamed += ports;
			continue;
		}
		if (!i || c->rows[i - 1].dest_id != r->dest_id)
			v = dest_val(dests, index, n_index, name);
		if (v) {
			v->syn_sent += r->ports[CP_BUCKET_SYN_SENT];
			v->established += r->ports[CP_BUCKET_ESTABLISHED];
			v->other += r->ports[CP_BUCKET_OTHER];
			v->ranged += r->ranged;
		}
		hk.dest = name->key;
		hk.pid = r->pid;
		hv = map_dump__find(holders, &hk);
		if (hv) {
			hv->ports = (hv->ports > 0 ? hv->ports : 0) + ports;
		} else {
			/* No entry (pruned meanwhile, or the map was full): the ports count,
			 * the comm is unknown. */
			struct cp_holder_val nv = { .ports = ports };

			err = map_dump__append(&extra, &hk, &nv);
			if (err)
				break;
		}
	}
	for (i = 0; !err && i < extra.n; i++)
		err = map_dump__append(holders, map_dump__key(&extra, i), map_dump__val(&extra, i));
	if (!err && extra.n)
		err = holders_sort(holders);
	map_dump__free(&extra);
	free(index);
	return err;
}

void census__free(struct census *c)
{
	free(c->rows);
	free(c->index);
	memset(c, 0, sizeof(*c));
}

void dest_names__free(struct dest_names *names)
{
	free(names->v);
	names->v = NULL;
	names->n = 0;
}
