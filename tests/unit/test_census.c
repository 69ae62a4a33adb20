// SPDX-License-Identifier: GPL-2.0
/* test_census.c: counting slots, and adding the counts to dest_stats and holder_ports dumps,
 * pruned destinations included. */
#include <stdlib.h>
#include "unit.h"
#include "census.h"

static struct cp_sock_slot slots[16];

static void fill(int i, __u64 cookie, __u32 dest_id, __u32 pid, __u8 flags, __u8 bucket)
{
	slots[i].cookie = cookie;
	slots[i].dest_id = dest_id;
	slots[i].owner = CP_SLOT_OWNER(pid, flags, bucket);
}

static struct cp_dest_key dest(__u16 dport)
{
	struct cp_dest_key k = { .netns_cookie = 1, .dport = dport, .proto = 6 };

	return k;
}

static void add_dest(struct map_dump *d, __u16 dport, __s64 established)
{
	struct cp_dest_key k = dest(dport);
	struct cp_dest_stats v = { .established = established, .connects = 10 };

	map_dump__append(d, &k, &v);
}

static void add_holder(struct map_dump *d, __u16 dport, __u32 pid, __s64 ports, const char *comm)
{
	struct cp_holder_key k = { .dest = dest(dport), .pid = pid };
	struct cp_holder_val v = { .ports = ports };

	strncpy(v.comm, comm, sizeof(v.comm) - 1);
	map_dump__append(d, &k, &v);
}

/* Empty dumps of dest_stats (folded) and holder_ports, as the collector reads them. */
static void reset(struct map_dump *dests, struct map_dump *holders)
{
	map_dump__free(dests);
	dests->key_size = sizeof(struct cp_dest_key);
	dests->val_size = sizeof(struct cp_dest_stats);
	if (!holders)
		return;
	map_dump__free(holders);
	holders->key_size = sizeof(struct cp_holder_key);
	holders->val_size = sizeof(struct cp_holder_val);
}

static const struct cp_holder_val *holder(const struct map_dump *d, __u16 dport, __u32 pid)
{
	struct cp_holder_key k = { .dest = dest(dport), .pid = pid };

	return map_dump__find(d, &k);
}

static const struct cp_dest_stats *dest_of(const struct map_dump *d, __u16 dport)
{
	for (size_t i = 0; i < d->n; i++)
		if (((struct cp_dest_key *)map_dump__key(d, i))->dport == dport)
			return map_dump__val(d, i);
	return NULL;
}

/* Many (destination, process) pairs over several parts of the array: the index that finds
 * a pair's row grows meanwhile and every count stays whole. */
static void test_many_rows(void)
{
	enum { N_SLOTS = 40000, N_DESTS = 1500, N_PIDS = 3, PART = 4096 };
	struct cp_sock_slot *big = calloc(N_SLOTS, sizeof(*big));
	__u32 per_row[N_DESTS * N_PIDS] = {};
	struct census c = {};
	size_t wrong = 0, total = 0, live = 0, in_use = 0;
	int err = 0;

	if (!big) {
		ASSERT_EQ(1, 0, "calloc");
		return;
	}
	for (__u32 i = 0; i < N_SLOTS; i++) {
		__u32 d = i % N_DESTS, p = i / N_DESTS % N_PIDS;

		if (i % 7 == 6)
			continue;	/* a free slot */
		live++;
		big[i].cookie = i + 1;
		big[i].dest_id = d + 1;
		big[i].owner = CP_SLOT_OWNER(1000 + p, 0, CP_BUCKET_ESTABLISHED);
		per_row[d * N_PIDS + p]++;
	}
	for (size_t at = 0; at < N_SLOTS && err >= 0; at += PART) {
		err = census__add(&c, big + at, at + PART <= N_SLOTS ? PART : N_SLOTS - at);
		in_use += err > 0 ? err : 0;
	}
	ASSERT_EQ(err >= 0, 1, "many rows: added in parts");
	ASSERT_EQ(in_use, live, "many rows: slots in use, as census__add() returns them");
	ASSERT_EQ(census__finish(&c), 0, "many rows: finish");
	ASSERT_EQ(c.n, N_DESTS * N_PIDS, "many rows: one row per (destination id, pid)");
	for (size_t i = 0; i < c.n; i++) {
		const struct census_row *r = &c.rows[i];
		__u32 want = per_row[(r->dest_id - 1) * N_PIDS + (r->pid - 1000)];

		wrong += r->ports[CP_BUCKET_ESTABLISHED] != want;
		wrong += i && (c.rows[i - 1].dest_id > r->dest_id ||
			       (c.rows[i - 1].dest_id == r->dest_id && c.rows[i - 1].pid >= r->pid));
		total += r->ports[CP_BUCKET_ESTABLISHED];
	}
	ASSERT_EQ(wrong, 0, "many rows: every row's count right, rows in order");
	ASSERT_EQ(total, live, "many rows: every live slot counted once");
	census__free(&c);
	free(big);
}

int main(void)
{
	struct map_dump dests = {}, holders = {};
	struct dest_names names = {};
	struct census c;
	__u32 ids[2] = { 7, 3 };

	reset(&dests, &holders);

	/* Destination id 7 (port 80): 2 established of pid 100, 1 SYN_SENT of pid 200 with its
	 * own range; id 3 (port 443): 1 in FIN_WAIT of pid 100. A slot claimed but not filled
	 * (dest_id 0) and a free one with stale fields are not counted. */
	fill(0, 1000, 7, 100, 0, CP_BUCKET_ESTABLISHED);
	fill(1, 1001, 3, 100, 0, CP_BUCKET_OTHER);
	fill(5, 1005, 7, 200, CP_SLOT_RANGED, CP_BUCKET_SYN_SENT);
	fill(6, 1006, 7, 100, 0, CP_BUCKET_ESTABLISHED);
	fill(9, 1009, 0, 300, 0, CP_BUCKET_SYN_SENT);
	fill(12, 0, 7, 400, 0, CP_BUCKET_ESTABLISHED);
	ASSERT_EQ(CP_SLOT_PID(slots[5].owner), 200, "owner word: pid");
	ASSERT_EQ(CP_SLOT_PID(CP_SLOT_OWNER(4194304, 0, 3)), 4194304, "owner word: the largest pid");
	/* In use: the four filled slots and the claimed one (its page must be read again). */
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(census__add(&c, slots, 16), 5, "slots in use (claimed, filled)");
	census__free(&c);
	ASSERT_EQ(census__take(&c, slots, 16), 0, "take");
	ASSERT_EQ(c.n, 3, "one row per (destination id, pid)");
	ASSERT_EQ(c.rows[0].dest_id == 3 && c.rows[0].pid == 100, 1, "rows sorted by id, pid");
	ASSERT_EQ(c.rows[1].ports[CP_BUCKET_ESTABLISHED], 2, "id 7 pid 100: 2 established");
	ASSERT_EQ(c.rows[2].ports[CP_BUCKET_SYN_SENT], 1, "id 7 pid 200: 1 SYN_SENT");
	ASSERT_EQ(c.rows[2].ranged, 1, "id 7 pid 200: its own range");

	/* The dump: port 80 (id 7) has 1 socket with sk_storage; port 443 (id 3) none. Holders:
	 * (80, 100) is known with its comm and 1 port of its own; (80, 200) has no entry. */
	add_dest(&dests, 80, 1);
	add_dest(&dests, 443, 0);
	add_holder(&holders, 443, 100, 0, "curl");
	add_holder(&holders, 80, 100, 1, "curl");
	ASSERT_EQ(census__merge(&c, &dests, ids, &holders, &names), 0, "merge");
	ASSERT_EQ(dest_of(&dests, 80)->established, 3, "port 80: sk_storage's 1 + 2 slots");
	ASSERT_EQ(dest_of(&dests, 80)->syn_sent, 1, "port 80: SYN_SENT");
	ASSERT_EQ(dest_of(&dests, 80)->ranged, 1, "port 80: ranged");
	ASSERT_EQ(dest_of(&dests, 80)->connects, 10, "port 80: connects untouched");
	ASSERT_EQ(dest_of(&dests, 443)->other, 1, "port 443: FIN_WAIT");
	ASSERT_EQ(holder(&holders, 80, 100)->ports, 3, "holder (80, 100): 1 + 2 slots");
	ASSERT_STREQ(holder(&holders, 80, 100)->comm, "curl", "holder (80, 100): its comm kept");
	ASSERT_EQ(holder(&holders, 80, 200) ? holder(&holders, 80, 200)->ports : -1, 1,
		  "holder (80, 200): appended, its slot counted");
	ASSERT_EQ(holders.n, 3, "holders: 3 entries, sorted");
	ASSERT_EQ(names.n, 2, "names: both ids");
	census__free(&c);

	/* Next pass: port 443's entry was pruned while a socket (id 3) still has its slot. Its
	 * row comes back from the name kept. An id nobody ever named is reported, not shown. */
	reset(&dests, &holders);
	add_dest(&dests, 80, 0);
	ids[0] = 7;
	fill(1, 1001, 3, 100, 0, CP_BUCKET_OTHER);
	fill(2, 1002, 99, 100, 0, CP_BUCKET_ESTABLISHED);
	ASSERT_EQ(census__take(&c, slots, 16), 0, "take again");
	ASSERT_EQ(census__merge(&c, &dests, ids, &holders, &names), 0, "merge again");
	ASSERT_EQ(dests.n, 2, "pruned destination appended");
	ASSERT_EQ(dest_of(&dests, 443) ? dest_of(&dests, 443)->other : -1, 1,
		  "pruned destination: its slot still counted");
	ASSERT_EQ(c.unnamed, 1, "a slot naming an unknown id: reported");
	ASSERT_EQ(names.n, 2, "names: id 7 from the dump, id 3 kept for its slot");
	census__free(&c);

	/* Once no slot names it, the name goes. */
	reset(&dests, NULL);
	add_dest(&dests, 80, 0);
	fill(1, 0, 0, 0, 0, 0);
	ASSERT_EQ(census__take(&c, slots, 16), 0, "take a third time");
	ASSERT_EQ(census__merge(&c, &dests, ids, &holders, &names), 0, "merge a third time");
	ASSERT_EQ(names.n, 1, "names: the pruned id forgotten");
	census__free(&c);

	dest_names__free(&names);
	map_dump__free(&dests);
	map_dump__free(&holders);
	test_many_rows();
	return unit_failed;
}
