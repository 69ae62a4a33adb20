// SPDX-License-Identifier: GPL-2.0
/* limits.c: read and parse the sysctls that bound ephemeral ports in one netns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "limits.h"

unsigned int port_set_count(const struct cp_port_set *s, unsigned int lo, unsigned int hi)
{
	unsigned int n = 0, p;

	for (p = lo; p <= hi && p < 65536; p++)
		n += port_set_has(s, p);
	return n;
}

int limits_parse_range(const char *text, unsigned int *lo, unsigned int *hi)
{
	unsigned int a, b;

	if (sscanf(text, "%u %u", &a, &b) != 2 || a > 65535 || b > 65535 || a > b)
		return -EINVAL;
	*lo = a;
	*hi = b;
	return 0;
}

/* "1,2,10-20": the kernel's format for ip_local_reserved_ports (empty: none). */
int limits_parse_port_list(const char *text, struct cp_port_set *out)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	while (*p && *p != '\n') {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p || a > 65535)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			if (end == p + 1 || b > 65535 || b < a)
				return -EINVAL;
			p = end;
		}
		for (; a <= b; a++)
			port_set_add(out, a);
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -EINVAL;
	}
	return 0;
}

static int read_text(const char *root, const char *name, char *buf, size_t len)
{
	char path[256];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

int limits__read(const char *root, struct cp_limits *out)
{
	char buf[8192];
	int err;

	memset(out, 0, sizeof(*out));
	err = read_text(root, "net/ipv4/ip_local_port_range", buf, sizeof(buf));
	if (err)
		return err;
	if (limits_parse_range(buf, &out->port_lo, &out->port_hi))
		return -EINVAL;
	if (!read_text(root, "net/ipv4/ip_local_reserved_ports", buf, sizeof(buf)) &&
	    limits_parse_port_list(buf, &out->reserved))
		return -EINVAL;
	out->reserved_in_range = port_set_count(&out->reserved, out->port_lo, out->port_hi);
	out->tw_reuse = read_text(root, "net/ipv4/tcp_tw_reuse", buf, sizeof(buf)) ? -1 : atoi(buf);
	out->max_tw_buckets = read_text(root, "net/ipv4/tcp_max_tw_buckets", buf, sizeof(buf)) ?
			      -1 : atol(buf);
	return 0;
}
