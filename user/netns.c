// SPDX-License-Identifier: GPL-2.0
/* netns.c: discovery of network namespaces (/proc/<pid>/task/<tid>/ns/net, /run/netns,
 * nsfs mounts) and entering them. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "netns.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

void netns_list__free(struct cp_netns_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].fd >= 0)
			close(l->v[i].fd);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static struct cp_netns_ref *find_ino(struct cp_netns_list *l, const struct stat *st)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].inum == (__u64)st->st_ino && l->v[i].dev == (__u64)st->st_dev)
			return &l->v[i];
	return NULL;
}

/* Add path's namespace unless known; a known one may learn a name or a pid. */
static int add_path(struct cp_netns_list *l, const char *path, const char *name, int pid)
{
	struct cp_netns_ref *ref;
	struct stat st;
	int fd;

	if (stat(path, &st))
		return -errno;
	ref = find_ino(l, &st);
	if (ref) {
		if (name && !ref->name[0])
			snprintf(ref->name, sizeof(ref->name), "%s", name);
		if (pid && !ref->pid)
			ref->pid = pid;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (!v) {
			close(fd);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	ref = &l->v[l->n++];
	memset(ref, 0, sizeof(*ref));
	ref->fd = fd;
	ref->dev = st.st_dev;
	ref->inum = st.st_ino;
	ref->pid = pid;
	if (name)
		snprintf(ref->name, sizeof(ref->name), "%s", name);
	snprintf(ref->path, sizeof(ref->path), "%s", path);
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void scan_run_netns(struct cp_netns_list *l, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		add_path(l, path, de->d_name, 0);
	}
	closedir(d);
}

static void scan_tasks(struct cp_netns_list *l, const char *proc)
{
	char path[PATH_MAX];
	struct dirent *de, *te;
	DIR *d = opendir(proc), *td;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!all_digits(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/task", proc, de->d_name);
		td = opendir(path);
		if (!td)
			continue;
		while ((te = readdir(td))) {
			if (!all_digits(te->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s/task/%s/ns/net", proc, de->d_name,
				 te->d_name);
			add_path(l, path, NULL, atoi(de->d_name));	/* unreadable: skipped */
		}
		closedir(td);
	}
	closedir(d);
}

/* A task per namespace from roots->list_tasks; false when it gave none (then walk proc). */
static bool scan_listed_tasks(struct cp_netns_list *l, const struct cp_netns_roots *roots)
{
	char path[PATH_MAX];
	struct cp_task_ref *t = NULL;
	long n = roots->list_tasks(roots->list_tasks_arg, &t);

	if (n <= 0) {	/* none at all: there is always this process */
		free(t);
		return false;
	}
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%u/task/%u/ns/net", roots->proc, t[i].pid, t[i].tid);
		add_path(l, path, NULL, t[i].pid);	/* exited since: skipped */
	}
	free(t);
	return true;
}

bool netns__proc_pid_ns_differs(const char *proc)
{
	char path[PATH_MAX], line[256];
	bool differs = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/self/status", proc);
	f = fopen(path, "re");
	if (!f)
		return true;	/* cannot tell: assume the worst */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:", 6)) {
			/* our id in each pid namespace from proc's down to ours */
			differs = strchr(line + 6, '\t') != strrchr(line + 6, '\t');
			break;
		}
	fclose(f);
	return differs;
}

/* nsfs mounts of net namespaces outside /run/netns (e.g. container runtimes). */
static void scan_nsfs_mounts(struct cp_netns_list *l, const char *proc)
{
	char path[PATH_MAX], line[4096], root[256], mnt[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/self/mountinfo", proc);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "nsfs ", 5))
			continue;
		if (sscanf(line, "%*s %*s %*s %255s %4095s", root, mnt) != 2)
			continue;
		if (strncmp(root, "net:[", 5))
			continue;
		add_path(l, mnt, NULL, 0);
	}
	fclose(f);
}

/* Label a namespace with its member's cgroup (containers have no netns name). */
static void read_cgroup(const char *proc, struct cp_netns_ref *ref)
{
	char path[PATH_MAX], line[512];
	FILE *f;

	if (!ref->pid)
		return;
	snprintf(path, sizeof(path), "%s/%d/cgroup", proc, ref->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;	/* the v2 hierarchy's line */
		line[strcspn(line, "\n")] = '\0';
		snprintf(ref->cgroup, sizeof(ref->cgroup), "%.*s", (int)sizeof(ref->cgroup) - 1, line + 3);
		break;
	}
	fclose(f);
}

static void label_all(const char *proc, struct cp_netns_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		read_cgroup(proc, &l->v[i]);
}

int netns__discover(const struct cp_netns_roots *roots, const char *spec, struct cp_netns_list *out)
{
	char path[PATH_MAX];
	int err;

	memset(out, 0, sizeof(*out));
	if (!strcmp(spec, "all")) {
		snprintf(path, sizeof(path), "%s/self/ns/net", roots->proc);
		err = add_path(out, path, NULL, getpid());
		if (err)
			return err;
		scan_run_netns(out, roots->run_netns);
		scan_nsfs_mounts(out, roots->proc);
		if (!roots->list_tasks || !scan_listed_tasks(out, roots))
			scan_tasks(out, roots->proc);
		label_all(roots->proc, out);
		return 0;
	}
	if (strchr(spec, '/'))
		snprintf(path, sizeof(path), "%s", spec);
	else if (all_digits(spec))
		snprintf(path, sizeof(path), "%s/%s/ns/net", roots->proc, spec);
	else
		snprintf(path, sizeof(path), "%s/%s", roots->run_netns, spec);
	err = add_path(out, path, all_digits(spec) || strchr(spec, '/') ? NULL : spec,
		       all_digits(spec) ? atoi(spec) : 0);
	if (err)
		return err == -EACCES || err == -EPERM ? err : -ENOENT;
	/* Learn its name, if it has one, from /run/netns. */
	scan_run_netns(out, roots->run_netns);
	for (size_t i = 1; i < out->n; i++)
		close(out->v[i].fd);
	out->n = 1;
	label_all(roots->proc, out);
	return 0;
}

int netns__enter(const struct cp_netns_ref *ns)
{
	return setns(ns->fd, CLONE_NEWNET) ? -errno : 0;
}

struct cookie_job {
	const struct cp_netns_ref *ns;
	__u64 cookie;
	int err;
};

static void *cookie_thread(void *arg)
{
	struct cookie_job *job = arg;

	job->err = netns__enter(job->ns);
	if (!job->err)
		job->err = netns__cookie(&job->cookie);
	return NULL;
}

int netns__cookie_of(const struct cp_netns_ref *ns, __u64 *cookie)
{
	struct cookie_job job = { .ns = ns };
	pthread_t t;
	int err = pthread_create(&t, NULL, cookie_thread, &job);

	if (err)
		return -err;
	pthread_join(t, NULL);
	*cookie = job.cookie;
	return job.err;
}

int netns__cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = -errno;
	close(fd);
	return err;
}
