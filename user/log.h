/* SPDX-License-Identifier: GPL-2.0 */
/* log.h: one-line diagnostics on stderr; the collector and renderers never print otherwise. */
#ifndef CP_LOG_H
#define CP_LOG_H

#include <stdarg.h>
#include <bpf/libbpf.h>

void log_set_verbose(int level);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* libbpf's print callback: its messages only with -v. */
int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif
