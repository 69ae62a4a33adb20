// SPDX-License-Identifier: GPL-2.0
/* render_table.c: the human view. 80 columns (-w: wide): per netns, the worst first, a
 * header with its limits, then the processes that failed to get a port (first, so that they
 * never scroll away), then destinations, worst pressure first, then bind() and UDP usage per
 * address. On a terminal it fits the screen: what does not fit is counted, not scrolled. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "render.h"

#define FAILS_SHOWN 5	/* per netns when the screen is short */

/* Lines left on the screen; printing stops when it runs out. */
struct screen {
	FILE *out;
	int left;		/* < 0: no limit */
	int cols;		/* 0: no limit */
};

static bool room(const struct screen *sc, int lines)
{
	return sc->left < 0 || sc->left >= lines;
}

static void line(struct screen *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct screen *sc, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!room(sc, 1))
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (sc->cols > 0 && n > sc->cols)
		n = sc->cols;	/* a wrapped line would scroll the screen */
	fwrite(buf, 1, n, sc->out);
	fputc('\n', sc->out);
	if (sc->left > 0)
		sc->left--;
}

static void netns_header(struct screen *sc, const struct cp_netns_snap *ns)
{
	const struct cp_limits *l = &ns->limits;
	char label[600];

	if (ns->name[0])
		snprintf(label, sizeof(label), "netns %s", ns->name);
	else
		snprintf(label, sizeof(label), "netns %llu", (unsigned long long)ns->inum);
	if (ns->pid)
		snprintf(label + strlen(label), sizeof(label) - strlen(label), " (pid %d%s%s)",
			 ns->pid, ns->cgroup[0] ? " " : "", ns->cgroup);
	line(sc, "%s", label);
	if (!ns->limits_ok) {
		line(sc, "  limits unreadable");
		return;
	}
	line(sc, "  range %u-%u  reserved %u  bind-held %u  capacity %llu  tw_reuse %d  tw-fix %llu",
	     l->port_lo, l->port_hi, l->reserved_in_range, ns->bind_held_in_range,
	     (unsigned long long)ns->capacity, l->tw_reuse,
	     (unsigned long long)ns->tw_correction_last);
	if (ns->gauge_correction_total)	/* rare: a transition the hooks never saw */
		line(sc, "  gauge-fix %llu (last check), %llu since start",
		     (unsigned long long)ns->gauge_correction_last,
		     (unsigned long long)ns->gauge_correction_total);
}

static void fails_block(struct screen *sc, const struct cp_netns_snap *ns, int aw)
{
	char dst[CP_ADDR_STRLEN + 8], a[CP_ADDR_STRLEN];
	size_t shown = ns->n_fails;

	if (!ns->n_fails)
		return;
	if (sc->left >= 0 && shown > FAILS_SHOWN)
		shown = FAILS_SHOWN;
	line(sc, "  %-13s %-*s %6s %8s %s", "FAILED", aw, "DESTINATION", "NOW", "TOTAL", "PROCESS");
	for (size_t i = 0; i < shown; i++) {
		const struct cp_fail_row *f = &ns->fails[i];

		if (f->err == EADDRINUSE)	/* bind(0): the address it asked for */
			snprintf(dst, sizeof(dst), "bind %s", addr_format(f->key.saddr, a, sizeof(a)));
		else
			snprintf(dst, sizeof(dst), "%s %s:%u", f->key.proto == 17 ? "udp" : "tcp",
				 addr_format(f->key.daddr, a, sizeof(a)), f->key.dport);
		line(sc, "  %-13s %-*.*s %6llu %8llu %.15s/%u", render_errno_name(f->err), aw, aw, dst,
		     (unsigned long long)f->count, (unsigned long long)f->total, f->comm, f->pid);
	}
	if (shown < ns->n_fails)
		line(sc, "  ... %zu more failure rows", ns->n_fails - shown);
}

static void dests_block(struct screen *sc, const struct cp_netns_snap *ns, bool wide)
{
	int aw = wide ? 39 : 15, dw = wide ? 45 : 21;
	char s[CP_ADDR_STRLEN], dst[CP_ADDR_STRLEN + 8], a[CP_ADDR_STRLEN], holder[32], extra[96];
	size_t i;

	if (!ns->n_dests)
		return;
	/* 80 columns: ESTABLISHED is IN_USE - TW - OTHER, and the holder is its comm only. */
	if (wide)
		line(sc, "  %-*s %-*s %6s %6s %5s %5s %5s %5s %5s %s", aw, "SADDR", dw, "DADDR:DPORT",
		     "IN_USE", "PRESS", "ESTAB", "SYN", "TW", "OTHER", "NEW/S", "TOP HOLDER");
	else
		line(sc, "  %-*s %-*s %6s %6s %5s %5s %5s %s", aw, "SADDR", dw, "DADDR:DPORT", "IN_USE",
		     "PRESS", "TW", "OTHER", "NEW/S", "HOLDER");
	for (i = 0; i < ns->n_dests; i++) {
		const struct cp_dest_row *d = &ns->dests[i];

		if (!room(sc, 2) && i + 1 < ns->n_dests)
			break;		/* keep a line to say what was left out */
		addr_format(d->key.saddr, s, sizeof(s));
		snprintf(dst, sizeof(dst), "%s:%u", addr_format(d->key.daddr, a, sizeof(a)),
			 d->key.dport);
		snprintf(holder, sizeof(holder), "-");
		if (d->top_pid && wide)
			snprintf(holder, sizeof(holder), "%.15s/%u", d->top_comm, d->top_pid);
		else if (d->top_pid)
			snprintf(holder, sizeof(holder), "%.8s", d->top_comm);
		extra[0] = '\0';
		if (wide)
			snprintf(extra, sizeof(extra), "  capacity %llu", (unsigned long long)d->capacity);
		if (d->own_range)
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "  range %u-%u",
				 d->range_lo, d->range_hi);
		if (wide)
			line(sc, "  %-*.*s %-*.*s %6llu %5.1f%% %5llu %5llu %5llu %5llu %5.0f %s%s", aw, aw,
			     s, dw, dw, dst, (unsigned long long)d->in_use, d->pressure * 100,
			     (unsigned long long)d->established, (unsigned long long)d->syn_sent,
			     (unsigned long long)d->time_wait, (unsigned long long)d->other,
			     d->new_per_second, holder, extra);
		else
			line(sc, "  %-*.*s %-*.*s %6llu %5.1f%% %5llu %5llu %5.0f %s%s", aw, aw, s, dw, dw,
			     dst, (unsigned long long)d->in_use, d->pressure * 100,
			     (unsigned long long)d->time_wait,
			     (unsigned long long)(d->syn_sent + d->other), d->new_per_second, holder,
			     extra);
	}
	if (i < ns->n_dests)
		line(sc, "  ... %zu more destinations (-d, -p or -n to narrow)", ns->n_dests - i);
}

static void addr_block(struct screen *sc, const char *what, const struct cp_addr_row *rows,
		       size_t n)
{
	char a[CP_ADDR_STRLEN];

	for (size_t i = 0; i < n; i++)
		line(sc, "  %-5s %-39s %6u %5.1f%%  of %llu", what, addr_format(rows[i].addr, a, sizeof(a)),
		     rows[i].in_use, rows[i].pressure * 100, (unsigned long long)rows[i].capacity);
}

static double worst(const struct cp_netns_snap *ns)
{
	double w = ns->n_fails ? 1e9 : 0;	/* failures first of all */

	if (ns->n_dests && ns->dests[0].pressure > w)
		w = ns->dests[0].pressure;
	if (ns->n_binds && ns->binds[0].pressure > w)
		w = ns->binds[0].pressure;
	if (ns->udp_ok && ns->udp_pressure > w)
		w = ns->udp_pressure;
	if (ns->n_udp_ranges && ns->udp_ranges[0].usage.pressure > w)
		w = ns->udp_ranges[0].usage.pressure;
	return w;
}

static int cmp_worst(const void *a, const void *b)
{
	double x = worst(*(const struct cp_netns_snap **)a), y = worst(*(const struct cp_netns_snap **)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

static int table_snapshot(FILE *out, const struct cp_snapshot *s, const struct render_opts *o)
{
	struct screen sc = { .out = out, .left = o->max_lines > 0 ? o->max_lines - 1 : -1,
			     .cols = o->max_cols };
	const struct cp_netns_snap **order = calloc(s->n_netns + 1, sizeof(*order));
	time_t now = (time_t)s->ts;
	char when[32];

	if (!order)
		return -1;
	for (size_t i = 0; i < s->n_netns; i++)
		order[i] = &s->netns[i];
	qsort(order, s->n_netns, sizeof(*order), cmp_worst);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	line(&sc, "connpressure %s  %zu netns  syscall hooks %s  lost %llu/%llu/%llu", when,
	     s->n_netns, !s->syscalls.available ? "n/a" :
	     s->syscalls.armed ? (s->syscalls.reason && !strcmp(s->syscalls.reason, "flag") ?
				  "armed" : "armed (pressure)") : "off",
	     (unsigned long long)s->lost.recursion_misses, (unsigned long long)s->lost.map_full,
	     (unsigned long long)s->lost.ringbuf_drops);
	for (size_t i = 0; i < s->n_netns; i++) {
		const struct cp_netns_snap *ns = order[i];

		if (!ns->n_dests && !ns->n_fails && !ns->n_binds && !ns->n_udp_addrs &&
		    s->n_netns > 1 && !ns->name[0])
			continue;	/* quiet unnamed namespaces would bury the ones that matter */
		if (!room(&sc, 3))
			break;
		netns_header(&sc, ns);
		fails_block(&sc, ns, o->wide ? 45 : 21);
		dests_block(&sc, ns, o->wide);
		addr_block(&sc, "bind", ns->binds, ns->n_binds);
		if (ns->udp_ok && ns->udp_in_use)
			line(&sc, "  udp   %-39s %6u %5.1f%%  of %llu", "(all addresses)",
			     ns->udp_in_use, ns->udp_pressure * 100,
			     (unsigned long long)ns->udp_capacity);
		if (o->wide)
			addr_block(&sc, "udp", ns->udp_addrs, ns->n_udp_addrs);
		for (size_t j = 0; j < ns->n_udp_ranges; j++) {
			const struct cp_udp_range_row *r = &ns->udp_ranges[j];
			char a[CP_ADDR_STRLEN], what[64];

			snprintf(what, sizeof(what), "%s own range %u-%u",
				 addr_format(r->usage.addr, a, sizeof(a)), r->range_lo, r->range_hi);
			line(&sc, "  udp   %-39s %6u %5.1f%%  of %llu", what, r->usage.in_use,
			     r->usage.pressure * 100, (unsigned long long)r->usage.capacity);
		}
	}
	free(order);
	if (sc.left < 0)
		fputc('\n', out);	/* plain mode: a blank line between snapshots */
	return fflush(out) ? -1 : 0;
}

const struct renderer_ops render_table = {
	.name = "table",
	.snapshot = table_snapshot,
};
