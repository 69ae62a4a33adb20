// SPDX-License-Identifier: GPL-2.0
/* render_csv.c: the destinations as CSV (RFC 4180): a header line once, then one row per
 * destination per snapshot, for spreadsheets and analysis scripts (columns in README.md). */
#include <string.h>
#include "addr.h"
#include "render.h"

static const char CSV_HEADER[] =
	"ts,interval_seconds,netns_cookie,netns_name,netns_cgroup,proto,saddr,daddr,dport,"
	"in_use,capacity,pressure,established,syn_sent,time_wait,other,new_per_second,"
	"port_range_lo,port_range_hi,top_pid,top_comm,top_count,pid_count,failures,failures_total,"
	"lost_recursion_misses,lost_map_full\n";

/* A text field, quoted when it holds a separator, a quote or a line break. */
static void csv_text(FILE *out, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) &&
	    !memchr(s, '\r', n)) {
		fwrite(s, 1, n, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

/* Failures of the namespace on this destination (every process, every error). */
static void failures_of(const struct cp_netns_snap *ns, const struct cp_dest_key *k,
			unsigned long long *count, unsigned long long *total)
{
	*count = *total = 0;
	for (size_t i = 0; i < ns->n_fails; i++)
		if (!memcmp(&ns->fails[i].key, k, sizeof(*k))) {
			*count += ns->fails[i].count;
			*total += ns->fails[i].total;
		}
}

static void dest_line(FILE *out, const struct cp_snapshot *s, const struct cp_netns_snap *ns,
		      const struct cp_dest_row *d)
{
	char saddr[CP_ADDR_STRLEN], daddr[CP_ADDR_STRLEN];
	unsigned long long fails, fails_total;

	failures_of(ns, &d->key, &fails, &fails_total);
	fprintf(out, "%.3f,%.3f,%llu,", s->ts, s->interval, (unsigned long long)ns->cookie);
	csv_text(out, ns->name, sizeof(ns->name));
	fputc(',', out);
	csv_text(out, ns->cgroup, sizeof(ns->cgroup));
	fprintf(out, ",%s,%s,%s,%u,%llu,%llu,%.4f,%llu,%llu,%llu,%llu,%.2f,",
		d->key.proto == 17 ? "udp" : "tcp", addr_format(d->key.saddr, saddr, sizeof(saddr)),
		addr_format(d->key.daddr, daddr, sizeof(daddr)), d->key.dport,
		(unsigned long long)d->in_use, (unsigned long long)d->capacity, d->pressure,
		(unsigned long long)d->established, (unsigned long long)d->syn_sent,
		(unsigned long long)d->time_wait, (unsigned long long)d->other, d->new_per_second);
	if (d->own_range)	/* empty fields: no value (JSON's null) */
		fprintf(out, "%u,%u,", d->range_lo, d->range_hi);
	else
		fputs(",,", out);
	if (d->top_pid) {
		fprintf(out, "%u,", d->top_pid);
		csv_text(out, d->top_comm, CP_COMM_LEN);
		fprintf(out, ",%llu,", (unsigned long long)d->top_count);
	} else {
		fputs(",,,", out);
	}
	if (d->pid_ports)
		fprintf(out, "%llu", (unsigned long long)d->pid_ports);
	fprintf(out, ",%llu,%llu,%llu,%llu\n", fails, fails_total,
		(unsigned long long)s->lost.recursion_misses, (unsigned long long)s->lost.map_full);
}

static int csv_snapshot(FILE *out, const struct cp_snapshot *s, const struct render_opts *o)
{
	static bool header_done;

	if (!header_done) {
		fputs(CSV_HEADER, out);
		header_done = true;
	}
	for (size_t i = 0; i < s->n_netns; i++)
		for (size_t j = 0; j < s->netns[i].n_dests; j++)
			dest_line(out, s, &s->netns[i], &s->netns[i].dests[j]);
	return fflush(out) ? -1 : 0;
}

const struct renderer_ops render_csv = {
	.name = "csv",
	.snapshot = csv_snapshot,
};
