// SPDX-License-Identifier: GPL-2.0
/* loadgen: bounded loopback TCP/UDP connection storm that prints its rate, for tools/bench.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/*
 * Modes:
 *   tcp-client-close  client connect()s then close()s at once; the server reads EOF, then closes.
 *                     The client side sends the first FIN, so client sockets end in TIME_WAIT.
 *   tcp-server-close  server accept()s and close()s at once; the client reads EOF, then closes.
 *                     The server side ends in TIME_WAIT; client ports are freed at once.
 *   udp               socket(), connect() to 127.0.0.1:port (autobinds an ephemeral port), close().
 *
 * One op is one completed client connection (or UDP connect). Failed connects are counted in
 * errors=N (EADDRNOTAVAIL for TCP and EAGAIN for UDP when the port range runs out) and do not stop
 * the run. user=/sys= are this process's CPU seconds (getrusage), so a caller can tell how much of
 * the machine went to something else. Everything stays on 127.0.0.1; the run is bounded by
 * --seconds plus a hard alarm().
 */

enum mode { MODE_TCP_CLIENT_CLOSE, MODE_TCP_SERVER_CLOSE, MODE_UDP };

static const char *const mode_names[] = {
	[MODE_TCP_CLIENT_CLOSE] = "tcp-client-close",
	[MODE_TCP_SERVER_CLOSE] = "tcp-server-close",
	[MODE_UDP]		= "udp",
};

#define MAX_THREADS	256
#define IO_TIMEOUT_S	2	/* no blocking call may wait longer than this */
#define GRACE_S		10	/* alarm() fires this long after the planned end */

/* One cache line per thread so that counting does not become the benchmark. */
struct counter {
	unsigned long long ops;
	unsigned long long errors;		/* all failed connects */
	unsigned long long addrnotavail;	/* EADDRNOTAVAIL / EAGAIN: out of ports */
	char pad[64 - 3 * sizeof(unsigned long long)];
} __attribute__((aligned(64)));

static struct {
	enum mode mode;
	int threads;
	double seconds;
	int port;
} cfg = { MODE_TCP_CLIENT_CLOSE, 2, 3.0, 0 };

static struct sockaddr_in target;
static int listen_fd = -1;
static atomic_bool stop_clients;
static atomic_bool stop_servers;
static struct counter client_cnt[MAX_THREADS];
static struct counter server_cnt[MAX_THREADS];

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [--mode tcp-client-close|tcp-server-close|udp] [--threads N] [--seconds S] [--port P]\n"
		"Loopback connection storm on 127.0.0.1. N client threads (and, for TCP, N accept threads)\n"
		"run for S seconds, then one line is printed:\n"
		"  rate=<ops per second> ops=<N> seconds=<S> errors=<failed connects> user=<s> sys=<s>\n"
		"(user, sys: CPU seconds this process used, all threads).\n"
		"Defaults: --mode tcp-client-close --threads 2 --seconds 3 --port 0 (any free port).\n",
		prog);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_io_timeout(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Wait for the peer's FIN (or a reset / timeout); the data, if any, is discarded. */
static void drain_to_eof(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void count_error(struct counter *c, int err)
{
	c->errors++;
	if (err == EADDRNOTAVAIL || err == EAGAIN) {
		c->addrnotavail++;
		/* Out of ports: let TIME_WAIT age a little instead of spinning. */
		usleep(1000);
	}
}

static void *server_thread(void *arg)
{
	struct counter *c = arg;

	while (!atomic_load_explicit(&stop_servers, memory_order_relaxed)) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			break;	/* EINVAL after shutdown(): we are done */
		}
		if (cfg.mode == MODE_TCP_CLIENT_CLOSE) {
			set_io_timeout(fd);
			drain_to_eof(fd);
		}
		close(fd);
		c->ops++;
	}
	return NULL;
}

static void *tcp_client_thread(void *arg)
{
	struct counter *c = arg;

	while (!atomic_load_explicit(&stop_clients, memory_order_relaxed)) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			count_error(c, errno);
			continue;
		}
		set_io_timeout(fd);
		if (connect(fd, (struct sockaddr *)&target, sizeof(target))) {
			count_error(c, errno);
			close(fd);
			continue;
		}
		if (cfg.mode == MODE_TCP_SERVER_CLOSE)
			drain_to_eof(fd);
		close(fd);
		c->ops++;
	}
	return NULL;
}

static void *udp_client_thread(void *arg)
{
	struct counter *c = arg;

	while (!atomic_load_explicit(&stop_clients, memory_order_relaxed)) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			count_error(c, errno);
			continue;
		}
		if (connect(fd, (struct sockaddr *)&target, sizeof(target))) {
			count_error(c, errno);
			close(fd);
			continue;
		}
		close(fd);
		c->ops++;
	}
	return NULL;
}

/* Bind the TCP listener (or the UDP receiver) on 127.0.0.1 and fill in target. */
static int open_server_socket(void)
{
	int type = cfg.mode == MODE_UDP ? SOCK_DGRAM : SOCK_STREAM;
	socklen_t len = sizeof(target);
	int one = 1, fd;

	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target.sin_port = htons(cfg.port);
	if (bind(fd, (struct sockaddr *)&target, sizeof(target))) {
		fprintf(stderr, "loadgen: bind 127.0.0.1:%d: %s\n", cfg.port, strerror(errno));
		goto out_close;
	}
	if (type == SOCK_STREAM && listen(fd, 4096)) {
		fprintf(stderr, "loadgen: listen: %s\n", strerror(errno));
		goto out_close;
	}
	if (getsockname(fd, (struct sockaddr *)&target, &len)) {
		fprintf(stderr, "loadgen: getsockname: %s\n", strerror(errno));
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return -1;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode",    required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "port",    required_argument, NULL, 'p' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int opt;
	size_t i;

	while ((opt = getopt_long(argc, argv, "m:t:s:p:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
				if (!strcmp(optarg, mode_names[i]))
					break;
			if (i == sizeof(mode_names) / sizeof(mode_names[0])) {
				fprintf(stderr, "loadgen: unknown mode '%s'\n", optarg);
				return -EINVAL;
			}
			cfg.mode = i;
			break;
		case 't':
			cfg.threads = strtol(optarg, &end, 10);
			if (*end || cfg.threads < 1 || cfg.threads > MAX_THREADS) {
				fprintf(stderr, "loadgen: --threads wants 1..%d\n", MAX_THREADS);
				return -EINVAL;
			}
			break;
		case 's':
			cfg.seconds = strtod(optarg, &end);
			if (*end || !(cfg.seconds > 0 && cfg.seconds <= 3600)) {
				fprintf(stderr, "loadgen: --seconds wants a number in (0, 3600]\n");
				return -EINVAL;
			}
			break;
		case 'p':
			cfg.port = strtol(optarg, &end, 10);
			if (*end || cfg.port < 0 || cfg.port > 65535) {
				fprintf(stderr, "loadgen: --port wants 0..65535\n");
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(0);
		default:
			usage(stderr, argv[0]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	pthread_t clients[MAX_THREADS], servers[MAX_THREADS];
	int nclients = 0, nservers = 0, err, i;
	unsigned long long ops = 0, errors = 0, addrnotavail = 0;
	void *(*client_fn)(void *);
	double start = now_s(), elapsed;
	struct rusage ru;

	if (parse_args(argc, argv))
		return 2;

	/* A hard bound, whatever happens to the sockets: SIGALRM's default action ends us. */
	alarm((unsigned int)cfg.seconds + GRACE_S);
	signal(SIGPIPE, SIG_IGN);

	listen_fd = open_server_socket();
	if (listen_fd < 0)
		return 1;

	if (cfg.mode != MODE_UDP) {
		for (i = 0; i < cfg.threads; i++) {
			err = pthread_create(&servers[i], NULL, server_thread, &server_cnt[i]);
			if (err) {
				fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(err));
				goto out_stop;
			}
			nservers++;
		}
	}

	client_fn = cfg.mode == MODE_UDP ? udp_client_thread : tcp_client_thread;
	start = now_s();
	for (i = 0; i < cfg.threads; i++) {
		err = pthread_create(&clients[i], NULL, client_fn, &client_cnt[i]);
		if (err) {
			fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(err));
			goto out_stop;
		}
		nclients++;
	}

	sleep_s(cfg.seconds);

out_stop:
	atomic_store(&stop_clients, true);
	for (i = 0; i < nclients; i++)
		pthread_join(clients[i], NULL);
	elapsed = now_s() - start;

	/* Clients are done, so no server thread waits on a live peer: wake accept() and finish. */
	atomic_store(&stop_servers, true);
	shutdown(listen_fd, SHUT_RDWR);
	for (i = 0; i < nservers; i++)
		pthread_join(servers[i], NULL);
	close(listen_fd);

	if (nclients < cfg.threads)
		return 1;

	for (i = 0; i < cfg.threads; i++) {
		ops += client_cnt[i].ops;
		errors += client_cnt[i].errors;
		addrnotavail += client_cnt[i].addrnotavail;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("rate=%.0f ops=%llu seconds=%.3f errors=%llu user=%.3f sys=%.3f\n",
	       elapsed > 0 ? ops / elapsed : 0.0, ops, elapsed, errors,
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	if (errors)
		fprintf(stderr, "loadgen: %llu failed connects, %llu of them out of ports "
			"(EADDRNOTAVAIL/EAGAIN)\n", errors, addrnotavail);
	return 0;
}
