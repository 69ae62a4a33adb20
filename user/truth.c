// SPDX-License-Identifier: GPL-2.0
/* truth.c: read the iter/tcp records and dump bound-only sockets over INET_DIAG. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include "truth.h"

#define TCP_BOUND_INACTIVE 13	/* include/net/tcp_states.h, Linux 6.7+ */

void truth__free(struct cp_truth *t)
{
	free(t->recs);
	memset(t, 0, sizeof(*t));
}

int truth__read_iter(int iter_fd, struct cp_truth *t)
{
	size_t have = 0;	/* bytes of t->recs filled */
	ssize_t n;
	int err = 0;

	t->n = 0;
	for (;;) {
		if (t->cap - t->n < 256) {
			size_t cap = t->cap ? t->cap * 2 : 4096;
			void *v = realloc(t->recs, cap * sizeof(*t->recs));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			t->recs = v;
			t->cap = cap;
		}
		n = read(iter_fd, (char *)t->recs + have, (t->cap * sizeof(*t->recs)) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		have += n;
		t->n = have / sizeof(*t->recs);
	}
	close(iter_fd);
	return err;
}

static int diag_dump(int fd, int family, struct cp_port_set *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = 1u << TCP_BOUND_INACTIVE,
		},
	};
	char buf[32768];

	if (send(fd, &msg, sizeof(msg), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		for (h = (void *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			/* Only bound-inactive sockets were asked for; the kernel reports
			 * their own state (CLOSE), not the request bit. */
			port_set_add(out, ntohs(m->id.idiag_sport));
		}
	}
}

int truth__read_bound_inactive(struct cp_truth *t)
{
	int fd, err;

	memset(&t->bound_inactive, 0, sizeof(t->bound_inactive));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	err = diag_dump(fd, AF_INET, &t->bound_inactive);
	if (!err)
		err = diag_dump(fd, AF_INET6, &t->bound_inactive);
	close(fd);
	return err;
}
