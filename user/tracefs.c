// SPDX-License-Identifier: GPL-2.0
/* tracefs.c: event ids of classic tracepoints, from the host's tracefs or a private one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tracefs.h"

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS_TRACING	"/sys/kernel/debug/tracing"
#define MAX_EVENTS	32
#define PATH_LEN	192

/* The id in DIR/events/EVENT/id, or -errno. Only open/read/close: the private lookup calls it
 * in a child forked from a threaded process, where nothing that takes a lock may run. */
static int read_id(const char *path)
{
	char buf[32], *end;
	ssize_t len;
	long id;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return len < 0 ? -errno : -EINVAL;
	buf[len] = '\0';
	id = strtol(buf, &end, 10);
	return end == buf || id <= 0 || id > 0x7fffffff ? -EINVAL : (int)id;
}

static void event_paths(const char *root, const char *const events[], int n,
			char paths[][PATH_LEN])
{
	for (int i = 0; i < n; i++)
		snprintf(paths[i], PATH_LEN, "%s/events/%s/id", root, events[i]);
}

/* The host's tracefs, where it is mounted: NULL when it is not. */
static const char *host_tracefs(void)
{
	if (access(TRACEFS "/events", F_OK) == 0)
		return TRACEFS;
	if (access(DEBUGFS_TRACING "/events", F_OK) == 0)
		return DEBUGFS_TRACING;
	return NULL;
}

/* A child in a mount namespace of its own mounts tracefs there, reads the ids and sends them
 * back on a pipe; the namespace, and the mount with it, go when the child exits. Its exit
 * status is the errno of a failed set-up. */
static int private_ids(char paths[][PATH_LEN], int n, int ids[])
{
	int pipefd[2], status, err = 0;
	ssize_t got = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		close(pipefd[0]);
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			_exit(errno ? errno : EINVAL);
		for (int i = 0; i < n; i++) {
			int id = read_id(paths[i]);

			if (write(pipefd[1], &id, sizeof(id)) != sizeof(id))
				_exit(EPIPE);
		}
		_exit(0);
	}
	close(pipefd[1]);
	while (got < (ssize_t)(n * sizeof(int))) {
		ssize_t r = read(pipefd[0], (char *)ids + got, n * sizeof(int) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -ECHILD;
	if (WEXITSTATUS(status))
		return -WEXITSTATUS(status);
	if (got != (ssize_t)(n * sizeof(int)))
		return -EPIPE;
	return err;
}

int tracefs__event_ids(const char *const events[], int n, int ids[])
{
	char paths[MAX_EVENTS][PATH_LEN];
	const char *host = host_tracefs();

	if (n < 0 || n > MAX_EVENTS)
		return -E2BIG;
	event_paths(host ? host : TRACEFS, events, n, paths);
	if (!host)
		return private_ids(paths, n, ids);
	for (int i = 0; i < n; i++)
		ids[i] = read_id(paths[i]);
	return 0;
}
