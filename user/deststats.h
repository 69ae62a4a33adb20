/* SPDX-License-Identifier: GPL-2.0 */
/* deststats.h: dest_stats values as the kernel stores them (one stripe per group of CPUs, see
 * struct cp_dest_entry) and as the rest of user space reads them (struct cp_dest_stats). */
#ifndef CP_DESTSTATS_H
#define CP_DESTSTATS_H

#include <stddef.h>
#include "connpressure.h"
#include "maps.h"

/* Stripes for a machine with ncpus possible CPUs: a power of two, 1..CP_DEST_STRIPES. */
unsigned int dest_stats__stripes(int ncpus);
/* The map's value size with that many stripes. */
size_t dest_stats__value_size(unsigned int stripes);
/* Sum the stripes of a value of raw_size bytes into out (a struct cp_dest_stats). */
void dest_stats__fold(const void *raw, size_t raw_size, void *out);
/* The same for a whole dump, in place: its values become struct cp_dest_stats. ids (NULL, or
 * room for d->n) gets each entry's id (the low 32 bits slots name it by). */
void dest_stats__fold_dump(struct map_dump *d, __u32 *ids);

#endif
