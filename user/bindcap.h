/* SPDX-License-Identifier: GPL-2.0 */
/* bindcap.h: ports held per local address (bind(), UDP) against what bind(0) or a UDP
 * autobind can still get there. Pure arithmetic over (address, port) pairs: unit-tested. */
#ifndef CP_BINDCAP_H
#define CP_BINDCAP_H

#include <stddef.h>
#include <linux/types.h>
#include "limits.h"
#include "snapshot.h"
#include "truth.h"

struct cp_addr_usage {
	struct cp_addr_row *rows;	/* worst pressure first */
	size_t n;
	struct cp_port_set held;	/* every held port (any address, any range) */
	__u32 in_use;			/* distinct held ports in the range, not reserved */
};

/* Pairs may repeat (SO_REUSEPORT, several sources); 0 or -ENOMEM. */
int bindcap__compute(const struct cp_local *pairs, size_t n, const struct cp_limits *l,
		     struct cp_addr_usage *out);
void bindcap__free(struct cp_addr_usage *u);
bool addr_is_wildcard(const __u8 a[16]);

#endif
