// SPDX-License-Identifier: GPL-2.0
/* render_table.c: the human view. 80 columns (-w: wide): per netns a header with its limits,
 * then the processes that failed to get a port (first, so that they never scroll away),
 * then destinations, worst pressure first, then bind() and UDP usage per address. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "render.h"

static void netns_header(FILE *out, const struct cp_netns_snap *ns)
{
	const struct cp_limits *l = &ns->limits;

	if (ns->name[0])
		fprintf(out, "netns %s", ns->name);
	else
		fprintf(out, "netns %llu", (unsigned long long)ns->inum);
	if (ns->pid)
		fprintf(out, " (pid %d%s%s)", ns->pid, ns->cgroup[0] ? " " : "", ns->cgroup);
	fputc('\n', out);
	if (!ns->limits_ok) {
		fputs("  limits unreadable\n", out);
		return;
	}
	fprintf(out, "  range %u-%u  reserved %u  bind-held %u  capacity %llu  tw_reuse %d"
		"  tw fixes %llu\n", l->port_lo, l->port_hi, l->reserved_in_range,
		ns->bind_held_in_range, (unsigned long long)ns->capacity, l->tw_reuse,
		(unsigned long long)ns->tw_correction_last);
}

static void fails_block(FILE *out, const struct cp_netns_snap *ns, int aw)
{
	char dst[CP_ADDR_STRLEN + 8], a[CP_ADDR_STRLEN];

	if (!ns->n_fails)
		return;
	fprintf(out, "  %-13s %-*s %6s %8s %s\n", "FAILED", aw, "DESTINATION", "NOW", "TOTAL",
		"PROCESS");
	for (size_t i = 0; i < ns->n_fails; i++) {
		const struct cp_fail_row *f = &ns->fails[i];

		if (f->err == EADDRINUSE)	/* bind(0): the address it asked for */
			snprintf(dst, sizeof(dst), "bind %s", addr_format(f->key.saddr, a, sizeof(a)));
		else
			snprintf(dst, sizeof(dst), "%s %s:%u", f->key.proto == 17 ? "udp" : "tcp",
				 addr_format(f->key.daddr, a, sizeof(a)), f->key.dport);
		fprintf(out, "  %-13s %-*.*s %6llu %8llu %.15s/%u\n", render_errno_name(f->err),
			aw, aw, dst, (unsigned long long)f->count, (unsigned long long)f->total,
			f->comm, f->pid);
	}
}

static void dests_block(FILE *out, const struct cp_netns_snap *ns, bool wide)
{
	int aw = wide ? 39 : 15, dw = wide ? 45 : 21;
	char s[CP_ADDR_STRLEN], dst[CP_ADDR_STRLEN + 8], a[CP_ADDR_STRLEN], holder[32];

	if (!ns->n_dests)
		return;
	fprintf(out, "  %-*s %-*s %6s %6s %5s %5s %5s %6s %s\n", aw, "SADDR", dw, "DADDR:DPORT",
		"IN_USE", "PRESS", "ESTAB", "TW", wide ? "SYN" : "OTHER", "NEW/S", "TOP HOLDER");
	for (size_t i = 0; i < ns->n_dests; i++) {
		const struct cp_dest_row *d = &ns->dests[i];

		addr_format(d->key.saddr, s, sizeof(s));
		snprintf(dst, sizeof(dst), "%s:%u", addr_format(d->key.daddr, a, sizeof(a)),
			 d->key.dport);
		snprintf(holder, sizeof(holder), "-");
		if (d->top_pid)
			snprintf(holder, sizeof(holder), "%.15s/%u", d->top_comm, d->top_pid);
		fprintf(out, "  %-*.*s %-*.*s %6llu %5.1f%% %5llu %5llu %5llu %6.0f %s", aw, aw, s,
			dw, dw, dst, (unsigned long long)d->in_use, d->pressure * 100,
			(unsigned long long)d->established, (unsigned long long)d->time_wait,
			(unsigned long long)(wide ? d->syn_sent : d->syn_sent + d->other),
			d->new_per_second, holder);
		if (wide)
			fprintf(out, "  other %llu  capacity %llu", (unsigned long long)d->other,
				(unsigned long long)d->capacity);
		if (d->own_range)
			fprintf(out, "  range %u-%u", d->range_lo, d->range_hi);
		fputc('\n', out);
	}
}

static void addr_block(FILE *out, const char *what, const struct cp_addr_row *rows, size_t n)
{
	char a[CP_ADDR_STRLEN];

	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-5s %-39s %6u %5.1f%%  of %llu\n", what,
			addr_format(rows[i].addr, a, sizeof(a)), rows[i].in_use,
			rows[i].pressure * 100, (unsigned long long)rows[i].capacity);
}

static int table_snapshot(FILE *out, const struct cp_snapshot *s, const struct render_opts *o)
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

		if (!ns->n_dests && !ns->n_fails && !ns->n_binds && !ns->n_udp_addrs &&
		    s->n_netns > 1 && !ns->name[0])
			continue;	/* quiet unnamed namespaces would bury the ones that matter */
		netns_header(out, ns);
		fails_block(out, ns, o->wide ? 45 : 21);
		dests_block(out, ns, o->wide);
		addr_block(out, "bind", ns->binds, ns->n_binds);
		if (ns->udp_ok && ns->udp_in_use)
			fprintf(out, "  udp   %-39s %6u %5.1f%%  of %llu\n", "(all addresses)",
				ns->udp_in_use, ns->udp_pressure * 100,
				(unsigned long long)ns->udp_capacity);
		if (o->wide)
			addr_block(out, "udp", ns->udp_addrs, ns->n_udp_addrs);
	}
	fputc('\n', out);
	return fflush(out) ? -1 : 0;
}

const struct renderer_ops render_table = {
	.name = "table",
	.snapshot = table_snapshot,
};
