// SPDX-License-Identifier: GPL-2.0
/* maps.c: bulk reads and deletes of BPF hash maps for the collector, and their dumps. */
#define _GNU_SOURCE	/* qsort_r */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include "maps.h"

#define CHUNK 1024

static int grow(struct map_dump *d, size_t want)
{
	size_t cap = d->cap ? d->cap : CHUNK;
	void *k, *v;

	if (want <= d->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	k = realloc(d->keys, cap * d->key_size);
	if (!k)
		return -ENOMEM;
	d->keys = k;
	v = realloc(d->vals, cap * d->val_size);
	if (!v)
		return -ENOMEM;
	d->vals = v;
	d->cap = cap;
	return 0;
}

static int read_by_next_key(int fd, struct map_dump *d)
{
	char key[256], next[256];
	void *prev = NULL;
	int err;

	d->n = 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		err = grow(d, d->n + 1);
		if (err)
			return err;
		memcpy(key, next, d->key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, map_dump__val(d, d->n)))
			continue;	/* deleted meanwhile */
		memcpy(map_dump__key(d, d->n), key, d->key_size);
		d->n++;
	}
	return 0;
}

int map_dump__read(int fd, size_t key_size, size_t val_size, struct map_dump *d)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u64 token_in[32], token_out[32];	/* hash maps use a bucket index as token */
	void *in = NULL;
	int err;

	d->key_size = key_size;
	d->val_size = val_size;
	d->n = 0;
	for (;;) {
		__u32 count = CHUNK;

		err = grow(d, d->n + CHUNK);
		if (err)
			return err;
		err = bpf_map_lookup_batch(fd, in, token_out, map_dump__key(d, d->n),
					   map_dump__val(d, d->n), &count, &opts);
		if (err && errno != ENOENT) {
			if (d->n == 0 && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP))
				return read_by_next_key(fd, d);
			return -errno;
		}
		d->n += count;
		if (err)	/* ENOENT: the last batch */
			return 0;
		memcpy(token_in, token_out, sizeof(token_in));
		in = token_in;
	}
}

int map_dump__append(struct map_dump *d, const void *key, const void *val)
{
	int err = grow(d, d->n + 1);

	if (err)
		return err;
	memcpy(map_dump__key(d, d->n), key, d->key_size);
	memcpy(map_dump__val(d, d->n), val, d->val_size);
	d->n++;
	return 0;
}

static int cmp_by_key(const void *a, const void *b, void *arg)
{
	const struct map_dump *d = arg;

	return memcmp(map_dump__key(d, *(const __u32 *)a), map_dump__key(d, *(const __u32 *)b),
		      d->key_size);
}

/* Put entry order[i] at i for every i, following each cycle of the permutation with one
 * entry aside: no second copy of the dump (a storm's TIME_WAIT model is megabytes). */
static void permute(struct map_dump *d, __u32 *order, void *key_tmp, void *val_tmp)
{
	for (size_t i = 0; i < d->n; i++) {
		size_t j = i;

		if (order[i] == i)
			continue;
		memcpy(key_tmp, map_dump__key(d, i), d->key_size);
		memcpy(val_tmp, map_dump__val(d, i), d->val_size);
		while (order[j] != i) {
			size_t from = order[j];

			memcpy(map_dump__key(d, j), map_dump__key(d, from), d->key_size);
			memcpy(map_dump__val(d, j), map_dump__val(d, from), d->val_size);
			order[j] = j;
			j = from;
		}
		memcpy(map_dump__key(d, j), key_tmp, d->key_size);
		memcpy(map_dump__val(d, j), val_tmp, d->val_size);
		order[j] = j;
	}
}

int map_dump__sort(struct map_dump *d)
{
	__u32 *order = malloc((d->n + 1) * sizeof(*order));
	char *tmp = malloc(d->key_size + d->val_size + 1);
	int err = 0;

	if (!order || !tmp || d->n > UINT32_MAX) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->n; i++)
		order[i] = i;
	qsort_r(order, d->n, sizeof(*order), cmp_by_key, d);	/* indexes, not records */
	permute(d, order, tmp, tmp + d->key_size);
out:
	free(order);
	free(tmp);
	return err;
}

void *map_dump__find(const struct map_dump *d, const void *key)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = memcmp(map_dump__key(d, mid), key, d->key_size);

		if (!r)
			return map_dump__val(d, mid);
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void map_dump__free(struct map_dump *d)
{
	free(d->keys);
	free(d->vals);
	memset(d, 0, sizeof(*d));
}

long map_delete_keys(int fd, const void *keys, size_t key_size, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	long deleted = 0;

	while (n) {
		__u32 chunk = n > CHUNK ? CHUNK : n, count = chunk;

		if (bpf_map_delete_batch(fd, keys, &count, &opts) == 0) {
			deleted += count;
		} else {
			/* A key already gone (the kernel reused it) stops the batch after `count`
			 * deletions: finish the chunk one key at a time. */
			deleted += count;
			for (__u32 i = count; i < chunk; i++)
				deleted += bpf_map_delete_elem(fd, (const char *)keys + i * key_size) == 0;
		}
		keys = (const char *)keys + (size_t)chunk * key_size;
		n -= chunk;
	}
	return deleted;
}
