/* SPDX-License-Identifier: GPL-2.0 */
/* maps.h: read a whole BPF hash map into arrays, and delete keys in bulk. */
#ifndef CP_MAPS_H
#define CP_MAPS_H

#include <stddef.h>

struct map_dump {
	void *keys, *vals;
	size_t n, cap;
	size_t key_size, val_size;
};

/* Batched lookups where the kernel has them, get_next_key otherwise. */
int map_dump__read(int map_fd, size_t key_size, size_t val_size, struct map_dump *d);
void map_dump__free(struct map_dump *d);
/* Add an entry at the end (the dump grows as needed). */
int map_dump__append(struct map_dump *d, const void *key, const void *val);
/* Sort the entries by key (bytewise), values along; then map_dump__find() works. */
int map_dump__sort(struct map_dump *d);
/* The value of key in a sorted dump, or NULL. */
void *map_dump__find(const struct map_dump *d, const void *key);
static inline void *map_dump__key(const struct map_dump *d, size_t i)
{
	return (char *)d->keys + i * d->key_size;
}
static inline void *map_dump__val(const struct map_dump *d, size_t i)
{
	return (char *)d->vals + i * d->val_size;
}
/* Delete n keys laid out back to back; returns how many the map held (and lost now). */
long map_delete_keys(int map_fd, const void *keys, size_t key_size, size_t n);

#endif
