/* SPDX-License-Identifier: GPL-2.0 */
/* holders.h: ports per (destination, process) — live sockets from the kernel's holder_ports,
 * plus TIME_WAIT model entries, which keep the owner of the socket they came from — to name
 * each destination's top holder and to filter by process (-p). */
#ifndef CP_HOLDERS_H
#define CP_HOLDERS_H

#include <stddef.h>
#include <linux/types.h>
#include "connpressure.h"
#include "maps.h"
#include "twmodel.h"

struct holder_row {
	struct cp_dest_key dest;
	__u32 pid;		/* 0: owner unknown (the socket predates connpressure) */
	__u32 pad;
	__u64 ports;
	char comm[CP_COMM_LEN];
};

struct holders {
	struct holder_row *rows;	/* sorted by (destination, pid), one row each */
	size_t n;
};

/* live: a dump of holder_ports; tw: the TIME_WAIT model's live entries by owner. */
int holders__build(struct holders *h, const struct map_dump *live, const struct tw_view *tw);
/* The destination's largest holder with a known pid, or NULL. */
const struct holder_row *holders__top(const struct holders *h, const struct cp_dest_key *dest);
/* Ports pid holds on dest. */
__u64 holders__ports(const struct holders *h, const struct cp_dest_key *dest, __u32 pid);
void holders__free(struct holders *h);

#endif
