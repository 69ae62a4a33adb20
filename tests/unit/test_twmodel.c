// SPDX-License-Identifier: GPL-2.0
/* test_twmodel.c: the TIME_WAIT model's view: entries grouped per (destination, owner),
 * aged between full reads, bind()-held ones apart, and the holders built from it. */
#include <stdlib.h>
#include "unit.h"
#include "holders.h"
#include "twmodel.h"

static void add_tw(struct map_dump *d, __u16 dport, __u16 sport, __u32 pid, __u32 flags,
		   const char *comm)
{
	struct cp_tw_key k = { .netns_cookie = 1, .dport = dport, .sport = sport, .proto = 6 };
	struct cp_tw_val v = { .entered_ns = 1000 + sport, .pid = pid, .flags = flags };

	k.daddr[15] = 1;
	strncpy(v.comm, comm, sizeof(v.comm) - 1);
	map_dump__append(d, &k, &v);
}

struct tally {
	size_t calls;
	__u64 n[3][16];		/* by dport - 80 (80, 81, 82) and pid - 100 */
	char comm[3][16][CP_COMM_LEN];
};

static int count(void *arg, const struct cp_dest_key *dest, __u32 pid, const char *comm, __u64 n)
{
	struct tally *t = arg;

	t->calls++;
	if (dest->dport < 80 || dest->dport > 82 || pid < 100 || pid >= 116)
		return -1;
	t->n[dest->dport - 80][pid - 100] += n;
	if (!t->comm[dest->dport - 80][pid - 100][0])
		memcpy(t->comm[dest->dport - 80][pid - 100], comm, CP_COMM_LEN);
	return 0;
}

/* Port 80: pids 100 (3 entries, the first without a comm) and 101 (1); port 81: 13 owners,
 * pid 100 with 2 entries far apart, the others 1; port 82: only a removed and a bind()-held
 * entry. */
static void fill(struct map_dump *d)
{
	d->key_size = sizeof(struct cp_tw_key);
	d->val_size = sizeof(struct cp_tw_val);
	add_tw(d, 80, 1, 100, 0, "");
	add_tw(d, 81, 2, 105, 0, "w5");
	add_tw(d, 80, 3, 101, 0, "b");
	add_tw(d, 80, 4, 100, 0, "a");
	for (__u16 i = 0; i < 12; i++)
		add_tw(d, 81, 10 + i, 100 + i + (i >= 5), 0, i ? "w" : "w0");
	add_tw(d, 80, 5, 100, 0, "a2");
	add_tw(d, 81, 30, 100, 0, "w0");
	add_tw(d, 82, 6, 102, CP_TW_BOUND, "bound");
	add_tw(d, 82, 7, 103, 0, "gone");
	((struct cp_tw_val *)map_dump__val(d, d->n - 1))->entered_ns = 0;	/* removed */
}

static void check(const struct tally *t, const char *what)
{
	char msg[128];
	__u64 total = 0;

	for (int p = 0; p < 3; p++)
		for (int i = 0; i < 16; i++)
			total += t->n[p][i];
	snprintf(msg, sizeof(msg), "%s: live connect()-side entries counted", what);
	ASSERT_EQ(total, 4 + 14, msg);
	snprintf(msg, sizeof(msg), "%s: port 80 pid 100", what);
	ASSERT_EQ(t->n[0][0], 3, msg);
	snprintf(msg, sizeof(msg), "%s: port 80 pid 100's comm, the first one known", what);
	ASSERT_STREQ(t->comm[0][0], "a", msg);
	snprintf(msg, sizeof(msg), "%s: port 81 pid 100 (2 entries, among 13 owners)", what);
	ASSERT_EQ(t->n[1][0], 2, msg);
	snprintf(msg, sizeof(msg), "%s: port 81 pid 112", what);
	ASSERT_EQ(t->n[1][12], 1, msg);
	snprintf(msg, sizeof(msg), "%s: port 82: removed and bind()-held entries skipped", what);
	ASSERT_EQ(t->n[2][2] + t->n[2][3], 0, msg);
}

#define SEC 1000000000ULL

int main(void)
{
	struct map_dump d = {}, live = {}, added = {};
	const struct map_dump *dumps[] = { &d, &added };
	struct cp_dest_key dest80 = { .netns_cookie = 1, .dport = 80, .proto = 6 };
	struct tw_view v = {};
	struct holders h = {};
	struct tally t = {};

	fill(&d);
	added.key_size = d.key_size;
	added.val_size = d.val_size;
	ASSERT_EQ(twview__build(&v, dumps, 2), 0, "view built from a dump as read");
	ASSERT_EQ(twview__each_owner(&v, count, &t), 0, "as read: counted");
	check(&t, "as read");
	{	/* the collector's per-destination counts rely on this order */
		size_t unordered = 0;

		for (size_t i = 1; i < v.n_groups; i++) {
			int r = memcmp(&v.groups[i - 1].dest, &v.groups[i].dest,
				       sizeof(struct cp_dest_key));

			unordered += r > 0 || (!r && v.groups[i - 1].pid >= v.groups[i].pid);
		}
		ASSERT_EQ(unordered, 0, "groups in (destination key, pid) order");
	}
	twview__free(&v);
	memset(&t, 0, sizeof(t));
	ASSERT_EQ(map_dump__sort(&d), 0, "sort by key");
	ASSERT_EQ(twview__build(&v, dumps, 2), 0, "view built from a sorted dump");
	ASSERT_EQ(twview__each_owner(&v, count, &t), 0, "sorted: counted");
	check(&t, "sorted");
	/* Port 80: 2 owners; port 81: 13 owners (pid 100's two entries far apart by port). */
	ASSERT_EQ(t.calls, 2 + 13, "one call per (destination, owner)");
	ASSERT_EQ(v.n_bound, 1, "the bind()-held entry kept apart");
	ASSERT_EQ(twview__live(&v), 4 + 14 + 1, "live entries, bind()-held included");

	/* 60 s after the first three hand-offs (times 1001-1003): they expire, the rest stay. */
	twview__expire(&v, 1003 + 60 * SEC);
	memset(&t, 0, sizeof(t));
	ASSERT_EQ(twview__each_owner(&v, count, &t), 0, "aged: counted");
	ASSERT_EQ(t.n[0][0], 2, "aged: port 80 pid 100 lost its oldest entry");
	ASSERT_EQ(t.n[0][1], 0, "aged: port 80 pid 101 expired");
	ASSERT_EQ(t.n[1][5], 0, "aged: port 81 pid 105's entry expired");
	ASSERT_EQ(t.calls, 1 + 12, "aged: owners left with nothing are skipped");
	ASSERT_EQ(twview__live(&v), 4 + 14 + 1 - 3, "aged: live entries");
	twview__expire(&v, 1006 + 60 * SEC);
	ASSERT_EQ(v.bound[0].entered_ns, 0, "aged: the bind()-held entry (time 1006) expired");
	twview__free(&v);

	/* The same owner in a second dump (entries correction added): one group. */
	map_dump__append(&added, map_dump__key(&d, 0), map_dump__val(&d, 0));
	((struct cp_tw_key *)map_dump__key(&added, 0))->sport = 99;
	ASSERT_EQ(twview__build(&v, dumps, 2), 0, "view with two dumps built");
	ASSERT_EQ(v.n_groups, 2 + 13, "two dumps: one group per (destination, owner)");
	live.key_size = sizeof(struct cp_holder_key);
	live.val_size = sizeof(struct cp_holder_val);
	dest80.daddr[15] = 1;
	{
		struct cp_holder_key k = { .dest = dest80, .pid = 101 };
		struct cp_holder_val hv = { .ports = 5, .comm = "b" };

		map_dump__append(&live, &k, &hv);
	}
	ASSERT_EQ(holders__build(&h, &live, &v), 0, "holders built");
	ASSERT_EQ(holders__ports(&h, &dest80, 100), 4, "holders: pid 100's TIME_WAIT on port 80, both dumps");
	ASSERT_EQ(holders__ports(&h, &dest80, 101), 6, "holders: pid 101, live 5 + TIME_WAIT 1");
	ASSERT_EQ(holders__top(&h, &dest80) ? holders__top(&h, &dest80)->pid : 0, 101,
		  "holders: top of port 80");
	holders__free(&h);
	twview__free(&v);
	map_dump__free(&live);
	map_dump__free(&added);
	map_dump__free(&d);
	return unit_failed;
}
