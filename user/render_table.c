// SPDX-License-Identifier: GPL-2.0
/* render_table.c: the human view, 80 columns: a header per netns, the worst destinations
 * first, then the processes that failed to get a port. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "render.h"

static void netns_header(FILE *out, const struct cp_netns_snap *ns)
{
	const struct cp_limits *l = &ns->limits;
	char label[300];

	if (ns->name[0])
		snprintf(label, sizeof(label), "%s", ns->name);
	else if (ns->pid)
		snprintf(label, sizeof(label), "inum %llu, pid %d", (unsigned long long)ns->inum,
			 ns->pid);
	else
		snprintf(label, sizeof(label), "inum %llu", (unsigned long long)ns->inum);
	fprintf(out, "netns %s\n", label);
	if (!ns->limits_ok) {
		fputs("  limits unreadable\n", out);
		return;
	}
	fprintf(out, "  range %u-%u  reserved %u  bind-held %u  capacity %llu  tw_reuse %d"
		"  tw fixes %llu\n", l->port_lo, l->port_hi, l->reserved_in_range,
		ns->bind_held_in_range, (unsigned long long)ns->capacity, l->tw_reuse,
		(unsigned long long)ns->tw_correction_last);
}

static void dest_line(FILE *out, const struct cp_dest_row *d)
{
	char s[CP_ADDR_STRLEN], dst[CP_ADDR_STRLEN + 8], a[CP_ADDR_STRLEN], holder[32] = "-";

	addr_format(d->key.saddr, s, sizeof(s));
	snprintf(dst, sizeof(dst), "%s:%u", addr_format(d->key.daddr, a, sizeof(a)), d->key.dport);
	if (d->top_pid)
		snprintf(holder, sizeof(holder), "%.15s/%u", d->top_comm, d->top_pid);
	fprintf(out, "  %-15.15s %-21.21s %6llu %5.1f%% %5llu %5llu %5llu %6.0f %s\n", s, dst,
		(unsigned long long)d->in_use, d->pressure * 100, (unsigned long long)d->established,
		(unsigned long long)d->time_wait,
		(unsigned long long)(d->syn_sent + d->other), d->new_per_second, holder);
}

static void fail_line(FILE *out, const struct cp_fail_row *f)
{
	char dst[CP_ADDR_STRLEN + 8], a[CP_ADDR_STRLEN];

	snprintf(dst, sizeof(dst), "%s:%u", addr_format(f->key.daddr, a, sizeof(a)), f->key.dport);
	fprintf(out, "  ! %-13.13s %-21.21s %6llu %8llu  %.15s/%u\n", render_errno_name(f->err), dst,
		(unsigned long long)f->count, (unsigned long long)f->total, f->comm, f->pid);
}

static int table_snapshot(FILE *out, const struct cp_snapshot *s)
{
	time_t now = (time_t)s->ts;
	char when[32];

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	fprintf(out, "connpressure %s  %zu netns  syscall hooks %s  lost %llu/%llu/%llu\n",
		when, s->n_netns, !s->syscalls.available ? "n/a" :
		s->syscalls.armed ? (s->syscalls.reason && !strcmp(s->syscalls.reason, "flag") ?
				     "armed" : "armed (pressure)") : "off",
		(unsigned long long)s->lost.recursion_misses,
		(unsigned long long)s->lost.map_full, (unsigned long long)s->lost.ringbuf_drops);
	for (size_t i = 0; i < s->n_netns; i++) {
		const struct cp_netns_snap *ns = &s->netns[i];

		if (!ns->n_dests && !ns->n_fails && s->n_netns > 1 && !ns->name[0])
			continue;	/* quiet unnamed namespaces would bury the ones that matter */
		netns_header(out, ns);
		if (ns->n_dests)
			fprintf(out, "  %-15s %-21s %6s %6s %5s %5s %5s %6s %s\n", "SADDR",
				"DADDR:DPORT", "IN_USE", "PRESS", "ESTAB", "TW", "OTHER", "NEW/S",
				"TOP HOLDER");
		for (size_t j = 0; j < ns->n_dests; j++)
			dest_line(out, &ns->dests[j]);
		if (ns->n_fails)
			fprintf(out, "  ! %-13s %-21s %6s %8s  %s\n", "FAILED", "DADDR:DPORT", "NOW",
				"TOTAL", "PROCESS");
		for (size_t j = 0; j < ns->n_fails; j++)
			fail_line(out, &ns->fails[j]);
	}
	fputc('\n', out);
	return fflush(out) ? -1 : 0;
}

const struct renderer_ops render_table = {
	.name = "table",
	.snapshot = table_snapshot,
};
