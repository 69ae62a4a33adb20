// SPDX-License-Identifier: GPL-2.0
/*
 * sockfill: fill the current network namespace with idle loopback TCP connections and hold
 * them, for connpressure's start-up and scale measurements (tools/scale.sh).
 *
 *   ip netns exec NS sockfill -c CONNS [-p PORTS] [-b BASEPORT] [-a ADDRS] [-w WORKERS]
 *                            [-t FRACTION] [-v]
 *
 * Listeners on PORTS ports (BASEPORT, BASEPORT+1, ...; keep them below the ephemeral range),
 * on 127.0.0.1 (one address) or 0.0.0.0 (several). CONNS client connections are spread
 * round-robin over PORTS x ADDRS destinations, the addresses being 127.0.X.Y (the whole
 * 127/8 is local: no configuration needed), each accepted, so every connection is two
 * sockets. A FRACTION of them is closed client-first (both ends), leaving the client's side
 * in TIME_WAIT for 60 s. The work is split over WORKERS forked processes (at least as many
 * as the descriptor limit requires; default: one per CPU), each raising RLIMIT_NOFILE to what
 * it holds: up to fs.nr_open with CAP_SYS_RESOURCE, else up to the hard limit it inherited.
 *
 * When everything is connected it prints one line on stdout:
 *   ready sockets=N destinations=D connections=C time_wait=T listeners=L workers=W seconds=S
 * (sockets = open TCP sockets without the listeners: 2 per live connection) and holds
 * everything until stdin reaches EOF or SIGINT/SIGTERM/SIGHUP arrives; then every worker is
 * killed and reaped before exiting 0. Errors: one line on stderr, exit 1 (2: bad usage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#define MAX_WORKERS 512
#define FD_SLACK 64

struct opts {
	long conns;
	int ports, baseport;
	long addrs;
	int workers;
	double tw_fraction;
	int verbose;
};

/* What a worker tells its parent through the pipe when it is done (or failed). */
struct report {
	int err;		/* errno of the failure, 0 when ready */
	long conns, tw;		/* live connections held, connections left in TIME_WAIT */
	char msg[200];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sockfill -c CONNS [-p PORTS] [-b BASEPORT] [-a ADDRS] [-w WORKERS] [-t FRACTION] [-v]\n"
		"  -c CONNS     client connections to make (2 sockets each)\n"
		"  -p PORTS     listener ports (default 1)\n"
		"  -b BASEPORT  first listener port (default 200; keep below the ephemeral range)\n"
		"  -a ADDRS     destination addresses 127.0.X.Y (default 1: 127.0.0.1 only)\n"
		"  -w WORKERS   processes (default: CPUs, at least what fs.nr_open requires)\n"
		"  -t FRACTION  fraction of connections closed client-first into TIME_WAIT (default 0)\n"
		"  -v           progress on stderr\n"
		"Prints 'ready sockets=N destinations=D ...' and holds until stdin closes or a signal.\n");
}

static long parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "sockfill: bad %s '%s' (%ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static long read_proc_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "r");
	long v;

	if (!f)
		return dflt;
	if (fscanf(f, "%ld", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* Destination address index a -> 127.0.X.Y, Y in 1..250 (a = 0 is 127.0.0.1). */
static uint32_t dest_addr(long a)
{
	return htonl(0x7f000000u | (uint32_t)(a / 250) << 8 | (uint32_t)(a % 250 + 1));
}

static int open_listener(uint32_t addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sin.sin_addr.s_addr = addr;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4096)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int fail(struct report *r, const char *what, long i)
{
	r->err = errno ? errno : EIO;
	snprintf(r->msg, sizeof(r->msg), "%s (connection %ld): %s", what, i, strerror(r->err));
	return -1;
}

/*
 * Make connections [first, last): blocking connect() (on loopback the handshake completes
 * inside the call), then accept() it from the destination's listener. Workers share the
 * listeners, so a worker may accept another's connection; each accepts exactly as many as
 * it connects, so the totals match and nobody waits for good. With to_tw both ends are
 * closed at once, client first; that needs the accepted socket to be the client's peer, so
 * it runs in the parent alone, after the workers are done.
 */
static int fill(const struct opts *o, const int *lfd, long first, long last, bool to_tw,
		struct report *r)
{
	long dests = (long)o->ports * o->addrs, i;
	double t0 = now_s();

	for (i = first; i < last; i++) {
		long d = i % dests;
		int port_i = (int)(d % o->ports);
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = htons(o->baseport + port_i),
			.sin_addr.s_addr = dest_addr(d / o->ports),
		};
		int c, s;

		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0)
			return fail(r, "socket", i);
		while (connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			if (errno != EINTR)
				return fail(r, "connect", i);
			if (stop)
				return fail(r, "connect interrupted", i);
		}
		do
			s = accept4(lfd[port_i], NULL, NULL, SOCK_CLOEXEC);
		while (s < 0 && errno == EINTR && !stop);
		if (s < 0)
			return fail(r, "accept", i);
		if (to_tw) {
			/* Client first: FIN_WAIT2 until the server's FIN, then TIME_WAIT. */
			close(c);
			close(s);
			r->tw++;
		} else {
			r->conns++;
		}
		if (o->verbose && (i - first + 1) % 100000 == 0)
			fprintf(stderr, "sockfill[%d]: %ld connections, %.0f/s\n", getpid(),
				i - first + 1, (i - first + 1) / (now_s() - t0));
	}
	return 0;
}

static void kill_workers(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR) {
			if (stop)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .conns = -1, .ports = 1, .baseport = 200, .addrs = 1, .workers = 0 };
	long tw_conns, live_conns, nr_open, fd_cap, per_worker_max, fds_needed, total_conns = 0, total_tw = 0, lo_port, hi_port;
	int lfd[1024], pipes[MAX_WORKERS][2], opt, i;
	pid_t pids[MAX_WORKERS] = {};
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit rl;
	double t0 = now_s();
	FILE *f;

	while ((opt = getopt(argc, argv, "c:p:b:a:w:t:vh")) != -1) {
		switch (opt) {
		case 'c': o.conns = parse_long(optarg, 0, 100000000, "CONNS"); break;
		case 'p': o.ports = (int)parse_long(optarg, 1, 1024, "PORTS"); break;
		case 'b': o.baseport = (int)parse_long(optarg, 1, 65535, "BASEPORT"); break;
		case 'a': o.addrs = parse_long(optarg, 1, 64000, "ADDRS"); break;
		case 'w': o.workers = (int)parse_long(optarg, 1, MAX_WORKERS, "WORKERS"); break;
		case 't': {
			char *end;

			o.tw_fraction = strtod(optarg, &end);
			if (end == optarg || *end || o.tw_fraction < 0 || o.tw_fraction > 1) {
				fprintf(stderr, "sockfill: bad FRACTION '%s' (0..1)\n", optarg);
				return 2;
			}
			break;
		}
		case 'v': o.verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.conns < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o.baseport + o.ports - 1 > 65535) {
		fprintf(stderr, "sockfill: ports %d..%d do not fit\n", o.baseport, o.baseport + o.ports - 1);
		return 2;
	}
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &lo_port, &hi_port) == 2 &&
		    o.baseport <= hi_port && o.baseport + o.ports - 1 >= lo_port)
			fprintf(stderr, "sockfill: warning: listener ports %d..%d overlap the ephemeral range %ld-%ld\n",
				o.baseport, o.baseport + o.ports - 1, lo_port, hi_port);
		fclose(f);
	}

	/*
	 * Descriptors per process: up to fs.nr_open when the hard RLIMIT_NOFILE can be raised
	 * (CAP_SYS_RESOURCE), else the hard limit as it is. Workers: enough that each fits.
	 */
	nr_open = read_proc_long("/proc/sys/fs/nr_open", 1048576);
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		fprintf(stderr, "sockfill: getrlimit: %s\n", strerror(errno));
		return 1;
	}
	fd_cap = (long)rl.rlim_max;
	if (fd_cap < nr_open) {
		struct rlimit want = { .rlim_cur = nr_open, .rlim_max = nr_open };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			fd_cap = nr_open;
		else if (o.verbose)
			fprintf(stderr, "sockfill: hard RLIMIT_NOFILE stays %ld (%s): more workers\n",
				fd_cap, strerror(errno));
	}
	per_worker_max = (fd_cap - FD_SLACK - o.ports) / 2;	/* connections per process */
	if (per_worker_max < 1) {
		fprintf(stderr, "sockfill: only %ld descriptors per process\n", fd_cap);
		return 1;
	}
	if (!o.workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		o.workers = cpus > 0 ? (int)(cpus < MAX_WORKERS ? cpus : MAX_WORKERS) : 1;
		if (o.workers > o.conns / 1000 + 1)	/* small fills: fork little */
			o.workers = (int)(o.conns / 1000 + 1);
	}
	while ((o.conns + o.workers - 1) / o.workers > per_worker_max) {
		if (++o.workers > MAX_WORKERS) {
			fprintf(stderr, "sockfill: %ld connections need more than %d workers of %ld descriptors\n",
				o.conns, MAX_WORKERS, fd_cap);
			return 1;
		}
	}
	fds_needed = 2 * ((o.conns + o.workers - 1) / o.workers) + o.ports + FD_SLACK;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (long)rl.rlim_cur < fds_needed) {
		rl.rlim_cur = fds_needed;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "sockfill: RLIMIT_NOFILE %ld: %s\n", fds_needed, strerror(errno));
			return 1;
		}
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < o.ports; i++) {
		lfd[i] = open_listener(o.addrs > 1 ? htonl(INADDR_ANY) : htonl(INADDR_LOOPBACK),
				       o.baseport + i);
		if (lfd[i] < 0) {
			fprintf(stderr, "sockfill: listener on port %d: %s\n", o.baseport + i,
				strerror(errno));
			return 1;
		}
	}

	tw_conns = (long)(o.conns * o.tw_fraction + 0.5);
	live_conns = o.conns - tw_conns;
	for (i = 0; i < o.workers; i++) {
		long first = live_conns * i / o.workers, last = live_conns * (i + 1) / o.workers;

		if (pipe2(pipes[i], O_CLOEXEC)) {
			fprintf(stderr, "sockfill: pipe: %s\n", strerror(errno));
			kill_workers(pids, i);
			return 1;
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "sockfill: fork: %s\n", strerror(errno));
			kill_workers(pids, i);
			return 1;
		}
		if (pids[i] == 0) {
			struct report r = {};
			int j;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			for (j = 0; j <= i; j++)
				close(pipes[j][0]);
			fill(&o, lfd, first, last, false, &r);
			if (write(pipes[i][1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			if (r.err)
				_exit(1);
			for (;;)
				pause();	/* hold everything until the parent kills us */
		}
		close(pipes[i][1]);
	}

	for (i = 0; i < o.workers; i++) {
		struct report r;

		if (read_full(pipes[i][0], &r, sizeof(r))) {
			fprintf(stderr, "sockfill: worker %d %s\n", i, stop ? "interrupted" : "died");
			kill_workers(pids, o.workers);
			return 1;
		}
		if (r.err) {
			fprintf(stderr, "sockfill: worker %d: %s\n", i, r.msg);
			kill_workers(pids, o.workers);
			return 1;
		}
		total_conns += r.conns;
		total_tw += r.tw;
		close(pipes[i][0]);
	}
	/* Last, so that the TIME_WAIT sockets are as young as possible at "ready". */
	if (tw_conns) {
		struct report r = {};

		if (fill(&o, lfd, live_conns, o.conns, true, &r)) {
			fprintf(stderr, "sockfill: TIME_WAIT part: %s\n", r.msg);
			kill_workers(pids, o.workers);
			return 1;
		}
		total_tw = r.tw;
	}
	/* The parent holds only the listeners; the workers hold the connections. */
	printf("ready sockets=%ld destinations=%ld connections=%ld time_wait=%ld listeners=%d workers=%d seconds=%.2f\n",
	       2 * total_conns, (long)o.ports * o.addrs, total_conns, total_tw, o.ports, o.workers,
	       now_s() - t0);
	fflush(stdout);

	/* Hold until stdin reaches EOF (or errors) or a signal asks us to stop. */
	while (!stop) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char buf[256];
		int n = poll(&p, 1, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
			ssize_t got = (p.revents & POLLNVAL) ? 0 : read(0, buf, sizeof(buf));

			if (got <= 0 && !(got < 0 && errno == EINTR))
				break;
		}
	}
	kill_workers(pids, o.workers);
	return 0;
}
