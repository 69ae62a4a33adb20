/* SPDX-License-Identifier: GPL-2.0 */
/* truth.h: the kernel's own view of one netns's TCP sockets (iter/tcp and INET_DIAG). */
#ifndef CP_TRUTH_H
#define CP_TRUTH_H

#include <stddef.h>
#include "connpressure.h"
#include "limits.h"

struct cp_truth {
	struct cp_iter_rec *recs;	/* every TCP socket but request sockets */
	size_t n, cap;
	struct cp_port_set bound_inactive;	/* bound, never connected nor listening */
};

/* Read one pass of the iterator (iter_fd from loader__iter_fd(), closed here). */
int truth__read_iter(int iter_fd, struct cp_truth *t);
/* Bound-only TCP sockets of the calling thread's netns (Linux 6.7+; none before). */
int truth__read_bound_inactive(struct cp_truth *t);
void truth__free(struct cp_truth *t);

#endif
