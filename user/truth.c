// SPDX-License-Identifier: GPL-2.0
/* truth.c: read the iter/tcp records and dump bound-only sockets over INET_DIAG. */
#include <errno.h>
#include <stdio.h>
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
	local_list__free(&t->bound_inactive);
	memset(t, 0, sizeof(*t));
}

/* Read an iterator's fixed-size records into *buf (grown as needed); closes iter_fd. */
static int read_records(int iter_fd, size_t size, void **buf, size_t *n, size_t *cap)
{
	size_t have = 0;	/* bytes of *buf filled */
	ssize_t got;
	int err = 0;

	*n = 0;
	for (;;) {
		if (*cap - *n < 256) {
			size_t c = *cap ? *cap * 2 : 4096;
			void *v = realloc(*buf, c * size);

			if (!v) {
				err = -ENOMEM;
				break;
			}
			*buf = v;
			*cap = c;
		}
		got = read(iter_fd, (char *)*buf + have, *cap * size - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (got == 0)
			break;
		have += got;
		*n = have / size;
	}
	close(iter_fd);
	return err;
}

int truth__read_iter(int iter_fd, struct cp_truth *t)
{
	return read_records(iter_fd, sizeof(*t->recs), (void **)&t->recs, &t->n, &t->cap);
}

int truth__read_udp_ranged(int iter_fd, struct cp_udp_ranged *out)
{
	return read_records(iter_fd, sizeof(*out->v), (void **)&out->v, &out->n, &out->cap);
}

int truth__read_tasks(int iter_fd, struct cp_task_rec **recs, size_t *n)
{
	size_t cap = 0;

	*recs = NULL;
	return read_records(iter_fd, sizeof(**recs), (void **)recs, n, &cap);
}

int local_list__add(struct cp_local_list *l, const __u8 addr[16], __u16 port)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].addr, addr, 16);
	l->v[l->n].port = port;
	l->n++;
	return 0;
}

int local_cmp(const void *a, const void *b)
{
	const struct cp_local *x = a, *y = b;
	int r = memcmp(x->addr, y->addr, 16);

	return r ? r : (int)x->port - (int)y->port;
}

void local_list__unique(struct cp_local_list *l)
{
	size_t out = 0;

	qsort(l->v, l->n, sizeof(*l->v), local_cmp);
	for (size_t i = 0; i < l->n; i++)
		if (!out || local_cmp(&l->v[out - 1], &l->v[i]))
			l->v[out++] = l->v[i];
	l->n = out;
}

void local_list__free(struct cp_local_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void sockstat_line(const char *line, const char *proto, long *inuse, long *tw)
{
	size_t n = strlen(proto);
	const char *p;

	if (strncmp(line, proto, n) || line[n] != ':')
		return;
	if ((p = strstr(line, " inuse ")))
		*inuse += atol(p + 7);
	if (tw && (p = strstr(line, " tw ")))
		*tw += atol(p + 4);
}

int truth__read_sockstat(struct cp_sockstat *out)
{
	static const char *const files[] = { "/proc/thread-self/net/sockstat",
					     "/proc/thread-self/net/sockstat6" };
	char line[256];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");

		if (!f)
			return -errno;
		while (fgets(line, sizeof(line), f)) {
			sockstat_line(line, i ? "TCP6" : "TCP", &out->tcp_inuse, &out->tw);
			sockstat_line(line, i ? "UDP6" : "UDP", &out->udp_inuse, NULL);
		}
		fclose(f);
	}
	return 0;
}

/* The local (address, port) of every socket an INET_DIAG dump returns. */
static int diag_recv(int fd, struct cp_local_list *out)
{
	char buf[32768];

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		for (h = (void *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			__u8 addr[16] = {};

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EPROTO;
			if (m->idiag_family == AF_INET) {
				addr[10] = addr[11] = 0xff;
				memcpy(addr + 12, m->id.idiag_src, 4);
			} else {
				memcpy(addr, m->id.idiag_src, 16);
			}
			if (local_list__add(out, addr, ntohs(m->id.idiag_sport)))
				return -ENOMEM;
		}
	}
}

/* Send one INET_DIAG dump request on a socket of its own and collect what it returns. */
static int diag_request(const void *msg, size_t len, struct cp_local_list *out)
{
	int err, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (fd < 0)
		return -errno;
	err = send(fd, msg, len, 0) < 0 ? -errno : diag_recv(fd, out);
	close(fd);
	return err;
}

/* One INET_DIAG dump of one family. */
static int diag_dump(int family, int proto, __u32 states, struct cp_local_list *out)
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
			.sdiag_protocol = proto,
			.idiag_states = states,
		},
	};

	return diag_request(&msg, sizeof(msg), out);
}

static int diag_both_families(int proto, __u32 states, struct cp_local_list *out)
{
	return diag_dump(AF_INET, proto, states, out) ?: diag_dump(AF_INET6, proto, states, out);
}

/* TCP sockets of both families in one dump: the older request (TCPDIAG_GETSOCK) asks for
 * AF_UNSPEC, so the kernel walks its socket tables once instead of once per family. */
static int diag_tcp_dump(__u32 states, struct cp_local_list *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = TCPDIAG_GETSOCK,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = { .idiag_states = states },
	};

	return diag_request(&msg, sizeof(msg), out);
}

int truth__read_bound_inactive(struct cp_truth *t)
{
	/* Only bound-inactive sockets are asked for; the kernel reports them as CLOSE. The walk
	 * covers every socket of the machine, so one dump for both families (two when the
	 * kernel refuses the older request). */
	t->bound_inactive.n = 0;
	if (!diag_tcp_dump(1u << TCP_BOUND_INACTIVE, &t->bound_inactive))
		return 0;
	t->bound_inactive.n = 0;
	return diag_both_families(IPPROTO_TCP, 1u << TCP_BOUND_INACTIVE, &t->bound_inactive);
}

int truth__read_udp(struct cp_local_list *out)
{
	out->n = 0;
	return diag_both_families(IPPROTO_UDP, ~0u, out);
}
