/* SPDX-License-Identifier: GPL-2.0 */
/* netns.h: find network namespaces and enter them from a dedicated thread. */
#ifndef CP_NETNS_H
#define CP_NETNS_H

#include <limits.h>
#include <stdbool.h>
#include <linux/limits.h>
#include <linux/types.h>

struct cp_netns_ref {
	int fd;			/* open nsfs file: keeps the namespace alive while we use it */
	__u64 dev, inum;	/* identity at discovery (inodes are reused: key data by cookie) */
	__u64 cookie;		/* SO_NETNS_COOKIE, filled in by netns__cookie() after setns() */
	int pid;		/* a process inside it, 0 if none was seen */
	char name[NAME_MAX + 1];	/* name under /run/netns, "" if it has none */
	char cgroup[256];	/* cgroup v2 path of pid, "" if unknown */
	char path[PATH_MAX];	/* where it was found */
};

struct cp_netns_list {
	struct cp_netns_ref *v;
	size_t n, cap;
};

struct cp_task_ref {
	__u32 pid;		/* tgid */
	__u32 tid;
};

struct cp_netns_roots {
	const char *proc;	/* "/proc" */
	const char *run_netns;	/* "/run/netns" */
	/* Optional: a task in each netns in use (ids as proc shows them), in *out (malloc'd);
	 * returns how many, or a negative errno. When set and it succeeds, discovery opens
	 * those instead of looking at every task under proc. */
	long (*list_tasks)(void *arg, struct cp_task_ref **out);
	void *list_tasks_arg;
};

/*
 * Namespaces matching spec ("all", a path, a pid or a name under run_netns), the tool's
 * own first when it matches. Entries that cannot be read are skipped. -ENOENT when spec
 * names nothing.
 */
int netns__discover(const struct cp_netns_roots *roots, const char *spec, struct cp_netns_list *out);
void netns_list__free(struct cp_netns_list *l);
/* Does proc number pids as another pid namespace than this process's own (a /proc of the
 * host seen from a container, say)? */
bool netns__proc_pid_ns_differs(const char *proc);

/* setns() the calling thread only (other threads keep their namespace). */
int netns__enter(const struct cp_netns_ref *ns);
/* Cookie of the calling thread's netns. */
int netns__cookie(__u64 *cookie);
/* Cookie of ns, read from a short-lived thread (the caller's netns is left alone). */
int netns__cookie_of(const struct cp_netns_ref *ns, __u64 *cookie);

#endif
