/* SPDX-License-Identifier: GPL-2.0 */
/* filter.h: the row filters of the command line (-4/-6, --tcp/--udp, -d), applied to a
 * snapshot after collection (-p needs the kernel's holder data: the collector applies it). */
#ifndef CP_FILTER_H
#define CP_FILTER_H

#include <stdbool.h>
#include <linux/types.h>

struct cp_snapshot;

struct cp_filter {
	int family;		/* 0, 4 or 6 */
	int proto;		/* 0, IPPROTO_TCP or IPPROTO_UDP */
	bool has_addr;		/* -d with an address */
	__u8 addr[16];		/* v4-mapped for IPv4 */
	int port;		/* -d with a port; -1: any */
};

/* "ADDR", "ADDR:PORT", ":PORT", "[V6]:PORT": 0 or -EINVAL. */
int filter_parse_dest(const char *spec, struct cp_filter *f);
bool filter__active(const struct cp_filter *f);
/* Drop the rows f excludes, in place. */
void filter__apply(const struct cp_filter *f, struct cp_snapshot *s);

#endif
