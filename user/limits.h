/* SPDX-License-Identifier: GPL-2.0 */
/* limits.h: the per-netns sysctls that bound ephemeral ports, read from /proc/sys. */
#ifndef CP_LIMITS_H
#define CP_LIMITS_H

#include <stdbool.h>
#include <linux/types.h>

#define CP_PORT_WORDS (65536 / 64)

struct cp_port_set {
	__u64 bits[CP_PORT_WORDS];
};

static inline void port_set_add(struct cp_port_set *s, unsigned int port)
{
	s->bits[(port & 0xffff) / 64] |= 1ULL << (port % 64);
}

static inline bool port_set_has(const struct cp_port_set *s, unsigned int port)
{
	return s->bits[(port & 0xffff) / 64] & (1ULL << (port % 64));
}

/* Ports of the set within [lo, hi]. */
unsigned int port_set_count(const struct cp_port_set *s, unsigned int lo, unsigned int hi);

struct cp_limits {
	unsigned int port_lo, port_hi;		/* net.ipv4.ip_local_port_range */
	struct cp_port_set reserved;		/* net.ipv4.ip_local_reserved_ports */
	unsigned int reserved_in_range;
	int tw_reuse;				/* net.ipv4.tcp_tw_reuse */
	long max_tw_buckets;			/* net.ipv4.tcp_max_tw_buckets */
};

/* Pure parsers (unit-tested): 0 or -EINVAL. */
int limits_parse_range(const char *text, unsigned int *lo, unsigned int *hi);
int limits_parse_port_list(const char *text, struct cp_port_set *out);

/* Read the limits of the calling thread's netns below sysctl_root ("/proc/sys"). */
int limits__read(const char *sysctl_root, struct cp_limits *out);

#endif
