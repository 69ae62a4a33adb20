// SPDX-License-Identifier: GPL-2.0
/* test_render_csv.c: the CSV renderer's header, quoting, empty (null) fields and the failures
 * it sums per destination, on a snapshot made by hand. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include "unit.h"
#include "render.h"

static void v4(__u8 a[16], int last)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = 127;
	a[15] = last;
}

/* Render s into a string (the caller frees it). */
static char *render(const struct cp_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct render_opts o = {};

	render_csv.snapshot(out, s, &o);
	fclose(out);
	return buf;
}

int main(void)
{
	struct cp_snapshot s = { .ts = 100.5, .interval = 1.0, .lost = { .map_full = 7 } };
	struct cp_netns_snap ns = { .cookie = 42 };
	struct cp_dest_row d[2] = {};
	struct cp_fail_row f[3] = {};
	char *text, *line2, *line3;

	strcpy(ns.name, "blue");
	v4(d[0].key.saddr, 1);
	v4(d[0].key.daddr, 2);
	d[0].key.dport = 5000;
	d[0].key.proto = IPPROTO_TCP;
	d[0].in_use = 10;
	d[0].capacity = 10;
	d[0].pressure = 1.0;
	d[0].established = 9;
	d[0].time_wait = 1;
	d[0].top_pid = 77;
	strcpy(d[0].top_comm, "we,\"ird");
	d[0].top_count = 10;
	d[1] = d[0];
	d[1].key.dport = 6000;
	d[1].top_pid = 0;		/* no holder known */
	d[1].own_range = true;
	d[1].range_lo = 40000;
	d[1].range_hi = 40009;
	f[0].key = d[0].key;		/* two processes failing on d[0], one on d[1] */
	f[0].count = 2;
	f[0].total = 5;
	f[1].key = d[0].key;
	f[1].count = 1;
	f[1].total = 1;
	f[2].key = d[1].key;
	f[2].total = 4;
	ns.dests = d;
	ns.n_dests = 2;
	ns.fails = f;
	ns.n_fails = 3;
	s.netns = &ns;
	s.n_netns = 1;

	text = render(&s);
	line2 = strchr(text, '\n') + 1;
	line3 = strchr(line2, '\n') + 1;
	ASSERT_EQ(strncmp(text, "ts,interval_seconds,netns_cookie,netns_name,", 44), 0,
		  "csv: the header comes first");
	line2 = strndup(line2, line3 - line2);
	ASSERT_STREQ(line2, "100.500,1.000,42,blue,,tcp,127.0.0.1,127.0.0.2,5000,10,10,1.0000,"
		     "9,0,1,0,0.00,,,77,\"we,\"\"ird\",10,,3,6,0,7\n",
		     "csv: a row; comm quoted, quotes doubled; failures summed over processes");
	ASSERT_STREQ(line3, "100.500,1.000,42,blue,,tcp,127.0.0.1,127.0.0.2,6000,10,10,1.0000,"
		     "9,0,1,0,0.00,40000,40009,,,,,0,4,0,7\n",
		     "csv: own range given, holder fields empty when no holder is known");
	free(line2);
	free(text);

	text = render(&s);
	ASSERT_EQ(strncmp(text, "100.500,", 8), 0, "csv: the header only once per run");
	free(text);
	return unit_failed;
}
