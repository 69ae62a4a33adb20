/* SPDX-License-Identifier: GPL-2.0 */
/* truth.h: the kernel's own view of one netns's sockets: iter/tcp records, and INET_DIAG
 * dumps of what the iterator cannot see (bound-only TCP sockets, UDP sockets). */
#ifndef CP_TRUTH_H
#define CP_TRUTH_H

#include <stddef.h>
#include "connpressure.h"

/* A local (address, port), address as v4-mapped IPv6 for IPv4. */
struct cp_local {
	__u8  addr[16];
	__u16 port;
};

struct cp_local_list {
	struct cp_local *v;
	size_t n, cap;
};

struct cp_truth {
	struct cp_iter_rec *recs;		/* every TCP socket but request sockets */
	size_t n, cap;
	struct cp_local_list bound_inactive;	/* TCP: bound, never connected nor listening */
};

/* A netns's socket counts from /proc/thread-self/net/sockstat{,6}: cheap, to skip the
 * expensive passes where there is nothing to find. */
struct cp_sockstat {
	long tcp_inuse;		/* TCP + TCP6 hashed sockets */
	long tw;		/* TIME_WAIT sockets (FIN_WAIT2 substate included) */
	long udp_inuse;		/* UDP + UDP6 */
};

int truth__read_sockstat(struct cp_sockstat *out);
/* Read one pass of the iterator (iter_fd from loader__iter_fd(), closed here). */
int truth__read_iter(int iter_fd, struct cp_truth *t);
/* Bound-only TCP sockets of the calling thread's netns (Linux 6.7+; none before). */
int truth__read_bound_inactive(struct cp_truth *t);
/* Local (address, port) of every UDP socket holding a port in the calling thread's netns. */
int truth__read_udp(struct cp_local_list *out);

/* UDP sockets with their own range (IP_LOCAL_PORT_RANGE), from iter/udp. */
struct cp_udp_ranged {
	struct cp_udp_rec *v;
	size_t n, cap;
};
/* Read one pass of iter/udp (iter_fd from loader__iter_udp_fd(), closed here). */
int truth__read_udp_ranged(int iter_fd, struct cp_udp_ranged *out);
/* Read one walk of iter/task: a task per netns in use (*recs allocated; closes iter_fd). */
int truth__read_tasks(int iter_fd, struct cp_task_rec **recs, size_t *n);
void truth__free(struct cp_truth *t);
int local_list__add(struct cp_local_list *l, const __u8 addr[16], __u16 port);
/* qsort() order of struct cp_local: by address, then port. */
int local_cmp(const void *a, const void *b);
/* Sort and drop repeats (a busy server's accepted and TIME_WAIT sockets share one port). */
void local_list__unique(struct cp_local_list *l);
void local_list__free(struct cp_local_list *l);

#endif
