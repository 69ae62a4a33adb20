// SPDX-License-Identifier: GPL-2.0
/*
 * hookfloor: the benchmark's do-nothing BPF tracer. It attaches programs that return at once
 * to the tracepoints connpressure runs on for every TCP connection (inet_sock_set_state and
 * tcp_destroy_sock; the bind() hooks are left out: a storm does not call bind()), prints one
 * line, and holds them until SIGINT/SIGTERM/SIGHUP. Beside connpressure in tools/bench.sh it
 * separates what the hooks cost from what connpressure's programs do in them.
 *
 *   hookfloor        (root)
 *
 * Errors: one line on stderr, exit 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "hookfloor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int main(int argc, char **argv)
{
	struct hookfloor_bpf *skel;
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	if (argc > 1) {
		fprintf(stderr, "hookfloor: takes no arguments (it only attaches empty programs)\n");
		return 1;
	}
	libbpf_set_print(quiet);
	skel = hookfloor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "hookfloor: loading the programs failed: %s\n", strerror(errno));
		return 1;
	}
	err = hookfloor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "hookfloor: attaching failed: %s\n", strerror(-err));
		hookfloor_bpf__destroy(skel);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("hookfloor: 2 empty programs attached (inet_sock_set_state, tcp_destroy_sock)\n");
	fflush(stdout);
	while (!stop)
		pause();
	hookfloor_bpf__destroy(skel);
	return 0;
}
