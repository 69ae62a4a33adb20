// SPDX-License-Identifier: GPL-2.0
/* main.c: wiring only: parse, check, load, then collect and render once per interval. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <bpf/libbpf.h>
#include "connpressure.skel.h"
#include "arming.h"
#include "cli.h"
#include "collector.h"
#include "filter.h"
#include "loader.h"
#include "log.h"
#include "netns.h"
#include "render.h"
#include "truth.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: wake the poll */

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);	/* a closed reader shows up as a write error */
	return 0;
}

/* The terminal's size, for the live view to fit it; 0 x 0 when not a terminal. */
static void terminal_size(int *lines, int *cols)
{
	struct winsize ws;

	*lines = *cols = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws))
		return;
	*lines = ws.ws_row;
	*cols = ws.ws_col;
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until the deadline, handing ring-buffer events to the collector meanwhile. */
static void wait_until(struct ring_buffer *rb, double deadline)
{
	double left;

	while (!exiting && (left = deadline - mono_seconds()) > 0) {
		int ms = (int)ceil(left * 1000);

		if (ring_buffer__poll(rb, ms) < 0 && errno != EINTR)
			usleep(ms * 1000);
	}
}

/* -n SPEC must name a namespace; its cookie (0 for "all") scopes the kernel side. */
static int resolve_netns_spec(const struct cp_netns_roots *roots, const char *spec,
			      __u64 *cookie)
{
	struct cp_netns_list list;
	int err;

	*cookie = 0;
	if (!strcmp(spec, "all"))
		return 0;
	err = netns__discover(roots, spec, &list);
	if (!err)
		err = netns__cookie_of(&list.v[0], cookie);
	if (err) {
		log_err("network namespace '%s': %s", spec,
			err == -ENOENT ? "not found (a path, a pid or a name under /run/netns)" :
			strerror(-err));
		return err;
	}
	netns_list__free(&list);
	return 0;
}

/* roots->list_tasks from the loader's iter/task: a task per netns in use. */
static long list_netns_tasks(void *loader, struct cp_task_ref **out)
{
	struct cp_task_rec *recs = NULL;
	int fd = loader__iter_task_fd(loader), err;
	size_t n = 0;

	if (fd < 0)
		return fd;
	err = truth__read_tasks(fd, &recs, &n);
	*out = err ? NULL : malloc((n + 1) * sizeof(**out));
	if (!err && !*out)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		(*out)[i].pid = recs[i].tgid;
		(*out)[i].tid = recs[i].tid;
	}
	free(recs);
	return err ? err : (long)n;
}

static int run(const struct cp_config *cfg, const struct cp_netns_roots *roots,
	       __u64 only_netns)
{
	const struct renderer_ops *render = render__for(cfg->output);
	struct render_opts ropts = { .wide = cfg->wide };
	bool clear = cfg->output == CP_OUT_TABLE && !cfg->once && isatty(STDOUT_FILENO);
	struct collector_opts copts = { .cfg = cfg, .roots = *roots };
	struct ring_buffer *rb = NULL;
	struct collector *col = NULL;
	struct arm_policy policy;
	struct cp_snapshot snap;
	struct loader ld;
	double next;
	int err;

	err = loader__start(&ld, cfg, only_netns);
	if (err)
		return err;
	copts.loader = &ld;
	/* The iterator numbers tasks as our pid namespace does: only good for a proc that does. */
	if (!netns__proc_pid_ns_differs(roots->proc)) {
		copts.roots.list_tasks = list_netns_tasks;
		copts.roots.list_tasks_arg = &ld;
	}
	col = collector__new(&copts);
	if (!col) {
		err = -ENOMEM;
		log_err("out of memory");
		goto out_stop;
	}
	rb = ring_buffer__new(bpf_map__fd(ld.skel->maps.events), collector__on_event, col, NULL);
	if (!rb) {
		err = -errno;
		log_err("opening the ring buffer: %s", strerror(-err));
		goto out_free;
	}
	arm_policy__init(&policy, cfg->arm_mode, cfg->arm_threshold);
	if (cfg->arm_mode == CP_ARM_ALWAYS && loader__arm_syscalls(&ld, true))
		log_warn("--arm-syscalls: the syscall hooks are not available on this kernel");
	next = mono_seconds();
	for (bool first = true; !exiting; first = false) {
		err = collector__collect(col, &snap);
		if (err && (first || err == -ENOENT))
			goto out_free;		/* nothing (more) can be shown: say so and stop */
		if (!err) {
			const char *reason;
			bool want = arm_policy__want(&policy, &snap, mono_seconds(), &reason);

			loader__arm_syscalls(&ld, want);
			snap.syscalls.available = ld.sys != NULL;
			snap.syscalls.armed = ld.sys_armed;
			snap.syscalls.reason = ld.sys_armed ? reason : NULL;
			if (clear) {
				terminal_size(&ropts.max_lines, &ropts.max_cols);
				fputs("\033[H\033[J", stdout);
			}
			filter__apply(&cfg->filter, &snap);
			if (render->snapshot(stdout, &snap, &ropts)) {
				err = exiting ? 0 : -EPIPE;	/* the reader went away */
				snapshot__free(&snap);
				break;
			}
			snapshot__free(&snap);
		}
		err = 0;
		if (cfg->once)
			break;
		if (first)	/* the seeding pass may be slow: count intervals from its end */
			next = mono_seconds();
		next += cfg->interval;
		if (next < mono_seconds())
			next = mono_seconds();	/* fell behind: do not burst */
		wait_until(rb, next);
	}
out_free:
	ring_buffer__free(rb);
	collector__free(col);
out_stop:
	loader__stop(&ld);
	return err;
}

int main(int argc, char **argv)
{
	struct cp_netns_roots roots = { .proc = "/proc", .run_netns = "/run/netns" };
	struct cp_config cfg;
	__u64 only_netns;
	int err;

	/* The netns threads are short-lived: one malloc arena for all of them keeps what they free
	 * from piling up in per-thread arenas (about 2 MB of peak RSS with 20 namespaces). */
	mallopt(M_ARENA_MAX, 1);
	err = cli__parse(argc, argv, &cfg);
	if (err)
		return err > 0 ? 0 : 2;
	log_set_verbose(cfg.verbose);
	libbpf_set_print(log_libbpf);
	err = loader__check_host(&cfg);
	if (!err)
		err = resolve_netns_spec(&roots, cfg.netns, &only_netns);
	if (!err)
		err = install_signals();
	if (!err)
		err = run(&cfg, &roots, only_netns);
	return err ? 1 : 0;
}
