// SPDX-License-Identifier: GPL-2.0
/* test_filter.c: -d parsing, row filtering, and the syscall-hook arming policy. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include "unit.h"
#include "arming.h"
#include "filter.h"
#include "snapshot.h"

static void test_parse(void)
{
	struct cp_filter f = {};

	ASSERT_EQ(filter_parse_dest("127.0.0.1:5000", &f), 0, "dest: ADDR:PORT parses");
	ASSERT_EQ(f.port, 5000, "dest: port");
	ASSERT_EQ(f.has_addr && f.addr[10] == 0xff && f.addr[15] == 1, 1, "dest: IPv4 is v4-mapped");
	ASSERT_EQ(filter_parse_dest(":443", &f), 0, "dest: :PORT parses");
	ASSERT_EQ(f.has_addr, 0, "dest: :PORT has no address");
	ASSERT_EQ(filter_parse_dest("[::1]:80", &f), 0, "dest: [V6]:PORT parses");
	ASSERT_EQ(f.port == 80 && f.addr[15] == 1 && f.addr[10] == 0, 1, "dest: IPv6 address and port");
	ASSERT_EQ(filter_parse_dest("::1", &f), 0, "dest: bare IPv6 parses");
	ASSERT_EQ(f.port, -1, "dest: bare address matches any port");
	ASSERT_EQ(filter_parse_dest("1.2.3.4:99999", &f), -EINVAL, "dest: port above 65535 refused");
	ASSERT_EQ(filter_parse_dest("nohost:1", &f), -EINVAL, "dest: names refused");
	ASSERT_EQ(filter_parse_dest("", &f), -EINVAL, "dest: empty refused");
}

static void test_apply(void)
{
	struct cp_snapshot s = {};
	struct cp_netns_snap ns = {};
	struct cp_filter f = { .port = -1 };
	struct cp_dest_row *d = calloc(3, sizeof(*d));

	d[0].key.proto = IPPROTO_TCP;	/* ::ffff:127.0.0.1:5000 */
	d[0].key.daddr[10] = d[0].key.daddr[11] = 0xff;
	d[0].key.daddr[12] = 127;
	d[0].key.daddr[15] = 1;
	d[0].key.dport = 5000;
	d[1] = d[0];
	d[1].key.dport = 6000;
	d[2].key.proto = IPPROTO_TCP;	/* ::1:5000 */
	d[2].key.daddr[15] = 1;
	d[2].key.dport = 5000;
	ns.dests = d;
	ns.n_dests = 3;
	s.netns = &ns;
	s.n_netns = 1;
	f.family = 6;
	filter__apply(&f, &s);
	ASSERT_EQ(ns.n_dests, 1, "filter: -6 keeps the IPv6 destination only");
	ns.n_dests = 2;			/* d[0], d[1] */
	f.family = 0;
	filter_parse_dest(":6000", &f);
	filter__apply(&f, &s);
	ASSERT_EQ(ns.n_dests == 1 && ns.dests[0].key.dport == 6000, 1, "filter: -d :6000");
	free(d);
}

static void test_arming(void)
{
	struct cp_snapshot s = {};
	struct cp_netns_snap ns = { .udp_ok = true };
	struct arm_policy p;
	const char *why;

	s.netns = &ns;
	s.n_netns = 1;
	arm_policy__init(&p, CP_ARM_AUTO, 0.8);
	ns.udp_pressure = 0.5;
	ASSERT_EQ(arm_policy__want(&p, &s, 100, &why), 0, "arming: low pressure stays off");
	ns.udp_pressure = 0.85;
	ASSERT_EQ(arm_policy__want(&p, &s, 101, &why), 1, "arming: high UDP pressure arms");
	ASSERT_STREQ(why, "pressure", "arming: reason is pressure");
	ns.udp_pressure = 0.1;
	ASSERT_EQ(arm_policy__want(&p, &s, 120, &why), 1, "arming: held 30 s after pressure fell");
	ASSERT_EQ(arm_policy__want(&p, &s, 132, &why), 0, "arming: off after the hold time");
	arm_policy__init(&p, CP_ARM_NEVER, 0.8);
	ns.udp_pressure = 1.0;
	ASSERT_EQ(arm_policy__want(&p, &s, 1, &why), 0, "arming: --no-auto-arm never arms");
	arm_policy__init(&p, CP_ARM_ALWAYS, 0.8);
	ns.udp_pressure = 0;
	ASSERT_EQ(arm_policy__want(&p, &s, 1, &why), 1, "arming: --arm-syscalls always arms");
}

int main(void)
{
	test_parse();
	test_apply();
	test_arming();
	return unit_failed;
}
