// SPDX-License-Identifier: GPL-2.0
/* cli.c: command line parsing and the help text. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "connpressure.h"
#include "arming.h"
#include "cli.h"
#include "log.h"

#define CP_VERSION "0.1.0"

static const char usage[] =
"Usage: connpressure [OPTIONS]\n"
"Show how close each network namespace is to running out of ephemeral ports,\n"
"per TCP destination, and which processes failed to get one.\n"
"\n"
"  -o, --output FORMAT     table (default), json (one document per line) or csv (a row per\n"
"                          destination and interval, after a header line)\n"
"      --once              print one snapshot and exit\n"
"  -i, --interval SECONDS  time between snapshots (default 1; fractions allowed)\n"
"  -n, --netns SPEC        all (default), a path (/proc/PID/ns/net, /run/netns/X),\n"
"                          a pid, or a name under /run/netns\n"
"  -p, --pid PID           only destinations where PID holds ports, and its failures\n"
"  -4, -6                  only IPv4 / IPv6 rows\n"
"      --tcp, --udp        only TCP / UDP rows\n"
"  -d, --dest SPEC         only this destination: ADDR, ADDR:PORT, :PORT, [V6]:PORT\n"
"  -w, --wide              wide table (full addresses, every state)\n"
"      --correct-every SECONDS\n"
"                          check the TIME_WAIT model against the kernel (default 10;\n"
"                          up to 8 times less often while checks find nothing)\n"
"      --arm-syscalls      keep the syscall hooks armed (UDP EAGAIN and bind(0)\n"
"                          EADDRINUSE failures; they slow every syscall a little)\n"
"      --no-auto-arm       never arm them (default: armed while a bind/UDP\n"
"                          pressure is at or above --arm-threshold)\n"
"      --arm-threshold F   pressure that arms them (default 0.8)\n"
"      --prune-after SECONDS\n"
"                          forget destinations and holders empty this long (default 60)\n"
"      --btf PATH          kernel BTF to use (default /sys/kernel/btf/vmlinux)\n"
"      --max-dests N       destinations tracked in the kernel (default 16384)\n"
"      --max-holders N     (destination, process) pairs tracked (default 16384)\n"
"      --max-tw N          TIME_WAIT sockets modelled (default 262144)\n"
"      --max-binds N       (address, port) pairs held by bind() (default 16384)\n"
"      --max-failures N    (destination, process, error) failure rows (default 4096)\n"
"      --sock-slots N      connect() sockets followed at the lowest cost, a power of\n"
"                          two (default 262144); the others cost ~1 us more each\n"
"  -v, --verbose           more diagnostics on stderr (twice: libbpf debug)\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n"
"\n"
"Needs CAP_SYS_ADMIN and CAP_SYS_PTRACE (run as root). See README.md for the fields.\n";

enum {
	OPT_ONCE = 256, OPT_CORRECT, OPT_BTF, OPT_MAX_DESTS, OPT_MAX_HOLDERS,
	OPT_MAX_TW, OPT_MAX_BINDS, OPT_MAX_FAILURES, OPT_ARM, OPT_NO_AUTO_ARM, OPT_ARM_THRESHOLD,
	OPT_TCP, OPT_UDP, OPT_PRUNE, OPT_SOCK_SLOTS,
};

static const struct option long_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "interval", required_argument, NULL, 'i' },
	{ "netns", required_argument, NULL, 'n' },
	{ "pid", required_argument, NULL, 'p' },
	{ "tcp", no_argument, NULL, OPT_TCP },
	{ "udp", no_argument, NULL, OPT_UDP },
	{ "dest", required_argument, NULL, 'd' },
	{ "wide", no_argument, NULL, 'w' },
	{ "correct-every", required_argument, NULL, OPT_CORRECT },
	{ "prune-after", required_argument, NULL, OPT_PRUNE },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "arm-syscalls", no_argument, NULL, OPT_ARM },
	{ "no-auto-arm", no_argument, NULL, OPT_NO_AUTO_ARM },
	{ "arm-threshold", required_argument, NULL, OPT_ARM_THRESHOLD },
	{ "max-dests", required_argument, NULL, OPT_MAX_DESTS },
	{ "max-holders", required_argument, NULL, OPT_MAX_HOLDERS },
	{ "max-tw", required_argument, NULL, OPT_MAX_TW },
	{ "max-binds", required_argument, NULL, OPT_MAX_BINDS },
	{ "sock-slots", required_argument, NULL, OPT_SOCK_SLOTS },
	{ "max-failures", required_argument, NULL, OPT_MAX_FAILURES },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{},
};

static int parse_seconds(const char *opt, const char *s, double min, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > 86400) {
		log_err("%s: '%s' is not a number of seconds between %g and 86400", opt, s, min);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_count(const char *opt, const char *s, __u32 *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > (1ULL << 26)) {
		log_err("%s: '%s' is not a whole number from 1 to %llu", opt, s, 1ULL << 26);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cli__parse(int argc, char **argv, struct cp_config *cfg)
{
	int opt, err = 0;

	*cfg = (struct cp_config){
		.output = CP_OUT_TABLE,
		.interval = 1.0,
		.correct_every = 10.0,
		.prune_after = 60.0,
		.netns = "all",
		.max_dests = CP_DEF_MAX_DESTS,
		.max_holders = CP_DEF_MAX_HOLDERS,
		.max_tw = CP_DEF_MAX_TW,
		.max_binds = CP_DEF_MAX_BINDS,
		.sock_slots = CP_DEF_SOCK_SLOTS,
		.max_failures = CP_DEF_MAX_FAILURES,
		.arm_mode = CP_ARM_AUTO,
		.arm_threshold = 0.8,
	};
	cfg->filter.port = -1;
	opterr = 0;
	optind = 1;
	while (!err && (opt = getopt_long(argc, argv, ":o:i:n:p:d:46wvhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (!strcmp(optarg, "table")) {
				cfg->output = CP_OUT_TABLE;
			} else if (!strcmp(optarg, "json")) {
				cfg->output = CP_OUT_JSON;
			} else if (!strcmp(optarg, "csv")) {
				cfg->output = CP_OUT_CSV;
			} else {
				log_err("--output: unknown format '%s' (use table, json or csv)", optarg);
				err = -EINVAL;
			}
			break;
		case 'p': {
			__u32 pid;

			err = parse_count("--pid", optarg, &pid);
			cfg->pid = pid;
			break;
		}
		case '4':
		case '6':
			if (cfg->filter.family && cfg->filter.family != opt - '0') {
				log_err("-4 and -6 exclude each other");
				err = -EINVAL;
			}
			cfg->filter.family = opt - '0';
			break;
		case OPT_TCP:
		case OPT_UDP:
			if (cfg->filter.proto) {
				log_err("--tcp and --udp exclude each other");
				err = -EINVAL;
			}
			cfg->filter.proto = opt == OPT_TCP ? IPPROTO_TCP : IPPROTO_UDP;
			break;
		case 'd':
			if (filter_parse_dest(optarg, &cfg->filter)) {
				log_err("--dest: '%s' is not ADDR, ADDR:PORT, :PORT or [V6ADDR]:PORT", optarg);
				err = -EINVAL;
			}
			break;
		case 'w':
			cfg->wide = true;
			break;
		case OPT_ONCE:
			cfg->once = true;
			break;
		case 'i':
			err = parse_seconds("--interval", optarg, 0.05, &cfg->interval);
			break;
		case 'n':
			if (!*optarg) {
				log_err("--netns: empty value");
				err = -EINVAL;
			}
			cfg->netns = optarg;
			break;
		case OPT_PRUNE:
			err = parse_seconds("--prune-after", optarg, 1, &cfg->prune_after);
			break;
		case OPT_CORRECT:
			err = parse_seconds("--correct-every", optarg, 1, &cfg->correct_every);
			break;
		case OPT_ARM:
			cfg->arm_mode = CP_ARM_ALWAYS;
			break;
		case OPT_NO_AUTO_ARM:
			cfg->arm_mode = CP_ARM_NEVER;
			break;
		case OPT_ARM_THRESHOLD: {
			char *end;

			cfg->arm_threshold = strtod(optarg, &end);
			if (end == optarg || *end || !(cfg->arm_threshold > 0 &&
						       cfg->arm_threshold <= 10)) {
				log_err("--arm-threshold: '%s' is not a pressure between 0 and 10",
					optarg);
				err = -EINVAL;
			}
			break;
		}
		case OPT_BTF:
			cfg->btf_path = optarg;
			break;
		case OPT_MAX_DESTS:
			err = parse_count("--max-dests", optarg, &cfg->max_dests);
			break;
		case OPT_MAX_HOLDERS:
			err = parse_count("--max-holders", optarg, &cfg->max_holders);
			break;
		case OPT_MAX_TW:
			err = parse_count("--max-tw", optarg, &cfg->max_tw);
			break;
		case OPT_MAX_BINDS:
			err = parse_count("--max-binds", optarg, &cfg->max_binds);
			break;
		case OPT_MAX_FAILURES:
			err = parse_count("--max-failures", optarg, &cfg->max_failures);
			break;
		case OPT_SOCK_SLOTS:
			err = parse_count("--sock-slots", optarg, &cfg->sock_slots);
			if (!err && (cfg->sock_slots & (cfg->sock_slots - 1))) {
				log_err("--sock-slots: '%s' is not a power of two", optarg);
				err = -EINVAL;
			}
			break;
		case 'v':
			cfg->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf("connpressure %s\n", CP_VERSION);
			return 1;
		case ':':
			log_err("option '%s' needs a value (see --help)", argv[optind - 1]);
			err = -EINVAL;
			break;
		default:
			log_err("unknown option '%s' (see --help)", argv[optind - 1]);
			err = -EINVAL;
			break;
		}
	}
	if (!err && optind < argc) {
		log_err("unexpected argument '%s' (see --help)", argv[optind]);
		err = -EINVAL;
	}
	return err;
}
