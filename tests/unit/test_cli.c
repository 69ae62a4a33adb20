// SPDX-License-Identifier: GPL-2.0
/* test_cli.c: option parsing, defaults and refusals; address formatting. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "unit.h"
#include "addr.h"
#include "cli.h"

static int parse(struct cp_config *cfg, int argc, char **argv)
{
	int err, saved = dup(2);

	freopen("/dev/null", "w", stderr);	/* refusals print their one line: not here */
	err = cli__parse(argc, argv, cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return err;
}

static void test_defaults(void)
{
	char *argv[] = { "connpressure", NULL };
	struct cp_config cfg;

	ASSERT_EQ(parse(&cfg, 1, argv), 0, "cli: no options parse");
	ASSERT_EQ(cfg.output, CP_OUT_TABLE, "cli: table by default");
	ASSERT_NEAR(cfg.interval, 1.0, 1e-9, "cli: 1 s interval by default");
	ASSERT_NEAR(cfg.correct_every, 10.0, 1e-9, "cli: 10 s correction by default");
	ASSERT_STREQ(cfg.netns, "all", "cli: every netns by default");
	ASSERT_EQ(cfg.once, 0, "cli: streams by default");
}

static void test_values(void)
{
	char *argv[] = { "connpressure", "-o", "json", "--once", "-i", "0.25", "-n", "foo",
			 "--max-tw", "1000", "--correct-every", "5", NULL };
	struct cp_config cfg;

	ASSERT_EQ(parse(&cfg, 12, argv), 0, "cli: full set parses");
	ASSERT_EQ(cfg.output, CP_OUT_JSON, "cli: -o json");
	ASSERT_EQ(cfg.once, 1, "cli: --once");
	ASSERT_NEAR(cfg.interval, 0.25, 1e-9, "cli: fractional interval");
	ASSERT_STREQ(cfg.netns, "foo", "cli: -n NAME");
	ASSERT_EQ(cfg.max_tw, 1000, "cli: --max-tw");
	ASSERT_NEAR(cfg.correct_every, 5, 1e-9, "cli: --correct-every");
}

static void test_refusals(void)
{
	char *bad[][3] = {
		{ "connpressure", "--bogus", NULL }, { "connpressure", "-i", "0" },
		{ "connpressure", "-i", "nan" }, { "connpressure", "-o", "xml" },
		{ "connpressure", "--max-dests", "-1" }, { "connpressure", "--max-tw", "0" },
		{ "connpressure", "stray", NULL },
	};
	struct cp_config cfg;
	char what[80];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int argc = bad[i][2] ? 3 : 2;

		snprintf(what, sizeof(what), "cli: refuses '%s %s'", bad[i][1],
			 bad[i][2] ? bad[i][2] : "");
		ASSERT_EQ(parse(&cfg, argc, bad[i]), -EINVAL, what);
	}
}

static void test_addr(void)
{
	__u8 v4[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
	__u8 v6[16] = { [15] = 1 };
	char buf[CP_ADDR_STRLEN];

	ASSERT_STREQ(addr_format(v4, buf, sizeof(buf)), "127.0.0.1", "addr: v4-mapped shows as IPv4");
	ASSERT_STREQ(addr_format(v6, buf, sizeof(buf)), "::1", "addr: IPv6 compressed");
	ASSERT_EQ(addr_is_v4mapped(v6), 0, "addr: ::1 is not v4-mapped");
}

int main(void)
{
	test_defaults();
	test_values();
	test_refusals();
	test_addr();
	return unit_failed;
}
