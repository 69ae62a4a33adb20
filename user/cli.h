/* SPDX-License-Identifier: GPL-2.0 */
/* cli.h: the command line, parsed into one struct the rest of the tool reads. */
#ifndef CP_CLI_H
#define CP_CLI_H

#include <stdbool.h>
#include <linux/types.h>
#include "filter.h"

enum cp_output { CP_OUT_TABLE, CP_OUT_JSON, CP_OUT_CSV };

struct cp_config {
	bool once;
	enum cp_output output;
	double interval;		/* seconds between snapshots */
	double correct_every;		/* seconds between TIME_WAIT corrections */
	double prune_after;		/* seconds an empty kernel map entry is kept */
	const char *netns;		/* "all", a path, a pid or a name under /run/netns */
	const char *btf_path;		/* NULL: the running kernel's */
	int verbose;
	__u32 pid;			/* -p: only that process's destinations and failures */
	struct cp_filter filter;	/* -4/-6, --tcp/--udp, -d */
	bool wide;			/* -w: the table's wide layout */
	int arm_mode;			/* enum cp_arm_mode */
	double arm_threshold;		/* bind/UDP pressure that arms the syscall hooks */
	__u32 max_dests, max_holders, max_tw, max_binds, max_failures;
	__u32 sock_slots;		/* sock_slots entries: a power of two */
};

/* 0 on success, 1 when --help/--version was printed (exit 0), -EINVAL after a one-line error. */
int cli__parse(int argc, char **argv, struct cp_config *cfg);

#endif
