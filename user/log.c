// SPDX-License-Identifier: GPL-2.0
/* log.c: one-line diagnostics on stderr, prefixed with the tool's name. */
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

static int verbose;

void log_set_verbose(int level)
{
	verbose = level;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "connpressure: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (!verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}
