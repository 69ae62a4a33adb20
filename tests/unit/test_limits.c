// SPDX-License-Identifier: GPL-2.0
/* test_limits.c: sysctl parsing and the capacity/pressure arithmetic. */
#include <errno.h>
#include <stdlib.h>
#include "unit.h"
#include "limits.h"
#include "snapshot.h"

static void test_range(void)
{
	unsigned int lo = 0, hi = 0;

	ASSERT_EQ(limits_parse_range("32768\t60999\n", &lo, &hi), 0, "range: kernel format parses");
	ASSERT_EQ(lo, 32768, "range: low end");
	ASSERT_EQ(hi, 60999, "range: high end");
	ASSERT_EQ(limits_parse_range("5 4", &lo, &hi), -EINVAL, "range: reversed is refused");
	ASSERT_EQ(limits_parse_range("1 70000", &lo, &hi), -EINVAL, "range: above 65535 is refused");
	ASSERT_EQ(limits_parse_range("", &lo, &hi), -EINVAL, "range: empty is refused");
}

static void test_reserved(void)
{
	struct cp_port_set *s = calloc(1, sizeof(*s));

	ASSERT_EQ(limits_parse_port_list("\n", s), 0, "reserved: empty list");
	ASSERT_EQ(port_set_count(s, 0, 65535), 0, "reserved: empty list holds nothing");
	ASSERT_EQ(limits_parse_port_list("40001,40003-40005\n", s), 0, "reserved: list and range");
	ASSERT_EQ(port_set_count(s, 40000, 40009), 4, "reserved: 4 ports in 40000-40009");
	ASSERT_EQ(port_set_has(s, 40002), 0, "reserved: a gap stays free");
	ASSERT_EQ(port_set_count(s, 40004, 40004), 1, "reserved: count over one port");
	ASSERT_EQ(limits_parse_port_list("7-3", s), -EINVAL, "reserved: reversed range refused");
	ASSERT_EQ(limits_parse_port_list("1,x", s), -EINVAL, "reserved: garbage refused");
	free(s);
}

static void test_capacity(void)
{
	struct cp_limits *l = calloc(1, sizeof(*l));
	struct cp_port_set *held = calloc(1, sizeof(*held));
	__u32 n = 99;

	l->port_lo = 40000;
	l->port_hi = 40009;
	ASSERT_EQ(model_capacity(l, held, &n), 10, "capacity: whole range when nothing held");
	ASSERT_EQ(n, 0, "capacity: nothing bind-held");
	limits_parse_port_list("40000,40001", &l->reserved);
	l->reserved_in_range = 2;
	port_set_add(held, 40001);	/* reserved and bound: taken away once */
	port_set_add(held, 40005);
	port_set_add(held, 5000);	/* outside the range: irrelevant */
	ASSERT_EQ(model_capacity(l, held, &n), 7, "capacity: range - reserved - bind-held");
	ASSERT_EQ(n, 1, "capacity: bind-held counts in-range, unreserved ports only");
	ASSERT_NEAR(model_pressure(7, 7), 1.0, 1e-9, "pressure: full is 1.0");
	ASSERT_NEAR(model_pressure(3, 10), 0.3, 1e-9, "pressure: fraction");
	ASSERT_NEAR(model_pressure(12, 10), 1.2, 1e-9, "pressure: not clamped");
	ASSERT_NEAR(model_pressure(0, 0), 1.0, 1e-9, "pressure: capacity 0 is 1.0");
	free(l);
	free(held);
}

static void test_sort(void)
{
	struct cp_dest_row rows[3] = {};

	rows[0].pressure = 0.2;
	rows[1].pressure = 0.9;
	rows[2].pressure = 0.5;
	model_sort_dests(rows, 3);
	ASSERT_NEAR(rows[0].pressure, 0.9, 1e-9, "sort: worst pressure first");
	ASSERT_NEAR(rows[2].pressure, 0.2, 1e-9, "sort: lowest pressure last");
}

int main(void)
{
	test_range();
	test_reserved();
	test_capacity();
	test_sort();
	return unit_failed;
}
