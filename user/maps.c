// SPDX-License-Identifier: GPL-2.0
/* maps.c: bulk reads and deletes of BPF hash maps for the collector, and their dumps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

static size_t sort_key_size;
static int cmp_record(const void *a, const void *b)
{
	return memcmp(a, b, sort_key_size);
}

int map_dump__sort(struct map_dump *d)
{
	size_t rec = d->key_size + d->val_size;
	char *tmp = malloc(d->n * rec + 1);

	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < d->n; i++) {
		memcpy(tmp + i * rec, map_dump__key(d, i), d->key_size);
		memcpy(tmp + i * rec + d->key_size, map_dump__val(d, i), d->val_size);
	}
	sort_key_size = d->key_size;
	qsort(tmp, d->n, rec, cmp_record);
	for (size_t i = 0; i < d->n; i++) {
		memcpy(map_dump__key(d, i), tmp + i * rec, d->key_size);
		memcpy(map_dump__val(d, i), tmp + i * rec + d->key_size, d->val_size);
	}
	free(tmp);
	return 0;
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
