// SPDX-License-Identifier: GPL-2.0
/* filter.c: -4/-6, --tcp/--udp and -d applied to a snapshot's rows. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "filter.h"
#include "snapshot.h"

static int parse_addr(const char *s, __u8 out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

static int parse_port(const char *s, int *port)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

int filter_parse_dest(const char *spec, struct cp_filter *f)
{
	char buf[64];
	const char *colon;

	f->has_addr = false;
	f->port = -1;
	if (strlen(spec) >= sizeof(buf) || !*spec)
		return -EINVAL;
	if (spec[0] == '[') {			/* [V6]:PORT or [V6] */
		const char *close = strchr(spec, ']');

		if (!close || close == spec + 1)
			return -EINVAL;
		memcpy(buf, spec + 1, close - spec - 1);
		buf[close - spec - 1] = '\0';
		if (parse_addr(buf, f->addr))
			return -EINVAL;
		f->has_addr = true;
		if (!close[1])
			return 0;
		return close[1] == ':' ? parse_port(close + 2, &f->port) : -EINVAL;
	}
	colon = strchr(spec, ':');
	if (colon && strchr(colon + 1, ':'))	/* a bare IPv6 address */
		colon = NULL;
	if (colon == spec)			/* :PORT */
		return parse_port(spec + 1, &f->port);
	if (colon) {
		memcpy(buf, spec, colon - spec);
		buf[colon - spec] = '\0';
		if (parse_port(colon + 1, &f->port))
			return -EINVAL;
	} else {
		strcpy(buf, spec);
	}
	if (parse_addr(buf, f->addr))
		return -EINVAL;
	f->has_addr = true;
	return 0;
}

bool filter__active(const struct cp_filter *f)
{
	return f->family || f->proto || f->has_addr || f->port >= 0;
}

static bool family_ok(const struct cp_filter *f, const __u8 addr[16])
{
	if (!f->family)
		return true;
	return addr_is_v4mapped(addr) == (f->family == 4);
}

static bool dest_ok(const struct cp_filter *f, const struct cp_dest_key *k, bool has_dest)
{
	if (f->proto && k->proto != f->proto)
		return false;
	if (!family_ok(f, has_dest ? k->daddr : k->saddr))
		return false;
	if (f->has_addr && (!has_dest || memcmp(k->daddr, f->addr, 16)))
		return false;
	if (f->port >= 0 && (!has_dest || k->dport != f->port))
		return false;
	return true;
}

static bool addr_row_ok(const struct cp_filter *f, const struct cp_addr_row *r)
{
	return family_ok(f, r->addr) && !f->has_addr && f->port < 0;
}

/* Keep the rows for which ok() holds, in order. */
#define KEEP_IF(rows, n, ok_expr) do {						\
	size_t out_ = 0;							\
	for (size_t i_ = 0; i_ < (n); i_++) {					\
		__typeof__(&(rows)[0]) r = &(rows)[i_];				\
		if (ok_expr)							\
			(rows)[out_++] = *r;					\
	}									\
	(n) = out_;								\
} while (0)

void filter__apply(const struct cp_filter *f, struct cp_snapshot *s)
{
	if (!filter__active(f))
		return;
	for (size_t i = 0; i < s->n_netns; i++) {
		struct cp_netns_snap *ns = &s->netns[i];

		KEEP_IF(ns->dests, ns->n_dests, dest_ok(f, &r->key, true));
		KEEP_IF(ns->fails, ns->n_fails, dest_ok(f, &r->key, r->err != EADDRINUSE));
		/* Bind rows are TCP's, UDP rows UDP's; a destination filter hides both. */
		if (f->proto == IPPROTO_UDP)
			ns->n_binds = 0;
		KEEP_IF(ns->binds, ns->n_binds, addr_row_ok(f, r));
		if (f->proto == IPPROTO_TCP) {
			ns->udp_ok = false;
			ns->n_udp_addrs = 0;
			ns->n_udp_ranges = 0;
		}
		KEEP_IF(ns->udp_addrs, ns->n_udp_addrs, addr_row_ok(f, r));
		KEEP_IF(ns->udp_ranges, ns->n_udp_ranges, addr_row_ok(f, &r->usage));
	}
}
