/* SPDX-License-Identifier: GPL-2.0 */
/* snapshot.h: the contract between collection and rendering. Renderers read only this;
 * the collector fills it and never prints. */
#ifndef CP_SNAPSHOT_H
#define CP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "connpressure.h"
#include "limits.h"
#include "loader.h"

struct cp_dest_row {
	struct cp_dest_key key;
	__u64 in_use;			/* syn_sent + established + other + time_wait */
	__u64 capacity;			/* the netns's connect() capacity */
	double pressure;		/* in_use / capacity; 1.0 when capacity is 0 */
	__u64 syn_sent, established, time_wait, other;
	double new_per_second;		/* ports connect() took per second, this interval */
	bool own_range;			/* its sockets set IP_LOCAL_PORT_RANGE */
	unsigned int range_lo, range_hi;	/* that range within the netns's */
	__u64 pid_ports;		/* with -p: ports that process holds here */
	__u32 top_pid;			/* 0: no holder known */
	char top_comm[CP_COMM_LEN];
	__u64 top_count;
};

struct cp_fail_row {
	struct cp_dest_key key;
	__u32 pid;
	__s32 err;			/* positive errno */
	char comm[CP_COMM_LEN];
	__u64 count;			/* this interval */
	__u64 total;			/* since start */
};

/* Ports held on one local address (bind(), UDP) and what is left to take there. */
struct cp_addr_row {
	__u8 addr[16];		/* v4-mapped for IPv4; :: or ::ffff:0.0.0.0 for a wildcard */
	__u32 in_use;		/* distinct ports in the range, not reserved, held on addr */
	__u64 capacity;		/* range - reserved - ports held on conflicting addresses
				 * (a wildcard conflicts with every address) */
	double pressure;
};

/* UDP sockets that set their own range (IP_LOCAL_PORT_RANGE), per local address and range:
 * an autobind of theirs finds a port only there. */
struct cp_udp_range_row {
	struct cp_addr_row usage;	/* UDP ports held on (or conflicting with) addr, in range */
	__u16 range_lo, range_hi;	/* as the kernel takes it (clamped to the netns range) */
	__u32 sockets;			/* sockets with that range on addr */
};

struct cp_netns_snap {
	__u64 cookie;
	__u64 inum;
	int pid;			/* a member process, 0 if none */
	char name[256];			/* "" when it has none */
	char cgroup[256];		/* cgroup v2 path of pid, "" if unknown */
	struct cp_limits limits;
	bool limits_ok;
	__u64 capacity;			/* range - reserved - bind-held, all within the range */
	__u32 bind_held_in_range;	/* bind-held ports in the range, not reserved */
	__u64 tw_modelled;		/* TIME_WAIT entries the model holds for this netns */
	__u64 tw_correction_last;	/* entries the last correction added or removed */
	__u64 tw_correction_total;
	__u64 gauge_correction_last;	/* sockets the last gauge check moved (gaugecheck.h) */
	__u64 gauge_correction_total;
	struct cp_dest_row *dests;	/* worst pressure first */
	size_t n_dests;
	struct cp_fail_row *fails;	/* most recent activity first */
	size_t n_fails;
	struct cp_addr_row *binds;	/* TCP ports held by bind(), per local address */
	size_t n_binds;
	bool udp_ok;			/* the UDP dump worked */
	__u32 udp_in_use;		/* distinct UDP ports in the range, not reserved */
	__u64 udp_capacity;		/* range - reserved */
	double udp_pressure;
	struct cp_addr_row *udp_addrs;	/* UDP ports per local address */
	size_t n_udp_addrs;
	struct cp_udp_range_row *udp_ranges;	/* sockets with their own range, worst first */
	size_t n_udp_ranges;
};

struct cp_snapshot {
	double ts;			/* unix time */
	double interval;		/* seconds this snapshot covers */
	struct cp_lost lost;
	__u32 sock_slots;		/* --sock-slots */
	struct {
		bool available;		/* the kernel has the syscall tracepoints */
		bool armed;		/* attached now */
		const char *reason;	/* "flag", "pressure" or NULL */
	} syscalls;
	struct cp_netns_snap *netns;
	size_t n_netns;
};

void snapshot__free(struct cp_snapshot *s);
/* Pure model arithmetic (unit-tested). */
__u64 model_capacity(const struct cp_limits *l, const struct cp_port_set *bind_held,
		     __u32 *bind_held_in_range);
double model_pressure(__u64 in_use, __u64 capacity);
void model_sort_dests(struct cp_dest_row *rows, size_t n);

#endif
