// SPDX-License-Identifier: GPL-2.0
/* render_json.c: one JSON document per snapshot, on one line (schema 1, see README.md). */
#include <errno.h>
#include <string.h>
#include "addr.h"
#include "render.h"

static void json_string(FILE *out, const char *s, size_t max)
{
	fputc('"', out);
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void json_addr(FILE *out, const __u8 a[16])
{
	char buf[CP_ADDR_STRLEN];

	fprintf(out, "\"%s\"", addr_format(a, buf, sizeof(buf)));
}

/* bind() failures have no destination: daddr and dport are null there. */
static void dest_fields(FILE *out, const struct cp_dest_key *k, bool has_dest)
{
	fprintf(out, "\"proto\":\"%s\",\"saddr\":", k->proto == 17 ? "udp" : "tcp");
	json_addr(out, k->saddr);
	fputs(",\"daddr\":", out);
	if (has_dest) {
		json_addr(out, k->daddr);
		fprintf(out, ",\"dport\":%u", k->dport);
	} else {
		fputs("null,\"dport\":null", out);
	}
}

static void dest_row(FILE *out, const struct cp_dest_row *d)
{
	fputc('{', out);
	dest_fields(out, &d->key, true);
	fprintf(out, ",\"in_use\":%llu,\"capacity\":%llu,\"pressure\":%.4f,"
		"\"states\":{\"established\":%llu,\"syn_sent\":%llu,\"time_wait\":%llu,\"other\":%llu},"
		"\"new_per_second\":%.2f,\"port_range\":",
		(unsigned long long)d->in_use, (unsigned long long)d->capacity, d->pressure,
		(unsigned long long)d->established, (unsigned long long)d->syn_sent,
		(unsigned long long)d->time_wait, (unsigned long long)d->other, d->new_per_second);
	if (d->own_range)
		fprintf(out, "[%u,%u]", d->range_lo, d->range_hi);
	else
		fputs("null", out);
	if (d->pid_ports)
		fprintf(out, ",\"pid_count\":%llu", (unsigned long long)d->pid_ports);
	fputs(",\"top_holder\":", out);
	if (d->top_pid) {
		fprintf(out, "{\"pid\":%u,\"comm\":", d->top_pid);
		json_string(out, d->top_comm, CP_COMM_LEN);
		fprintf(out, ",\"count\":%llu}", (unsigned long long)d->top_count);
	} else {
		fputs("null", out);
	}
	fputc('}', out);
}

static void fail_row(FILE *out, const struct cp_fail_row *f)
{
	fputc('{', out);
	dest_fields(out, &f->key, f->err != EADDRINUSE);
	fprintf(out, ",\"error\":\"%s\",\"count\":%llu,\"total\":%llu,\"pid\":%u,\"comm\":",
		render_errno_name(f->err), (unsigned long long)f->count,
		(unsigned long long)f->total, f->pid);
	json_string(out, f->comm, CP_COMM_LEN);
	fputc('}', out);
}

static void addr_rows(FILE *out, const struct cp_addr_row *rows, size_t n)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"addr\":" : "{\"addr\":", out);
		json_addr(out, rows[i].addr);
		fprintf(out, ",\"in_use\":%u,\"capacity\":%llu,\"pressure\":%.4f}", rows[i].in_use,
			(unsigned long long)rows[i].capacity, rows[i].pressure);
	}
	fputc(']', out);
}

static void netns_obj(FILE *out, const struct cp_netns_snap *ns)
{
	const struct cp_limits *l = &ns->limits;

	fprintf(out, "{\"cookie\":%llu,\"inum\":%llu,\"name\":", (unsigned long long)ns->cookie,
		(unsigned long long)ns->inum);
	if (ns->name[0])
		json_string(out, ns->name, sizeof(ns->name));
	else
		fputs("null", out);
	fprintf(out, ",\"pid\":%d,\"cgroup\":", ns->pid);
	if (ns->cgroup[0])
		json_string(out, ns->cgroup, sizeof(ns->cgroup));
	else
		fputs("null", out);
	fputs(",\"limits\":", out);
	if (ns->limits_ok)
		fprintf(out, "{\"port_range\":[%u,%u],\"reserved_in_range\":%u,\"tw_reuse\":%d,"
			"\"max_tw_buckets\":%ld}", l->port_lo, l->port_hi, l->reserved_in_range,
			l->tw_reuse, l->max_tw_buckets);
	else
		fputs("null", out);
	fprintf(out, ",\"capacity\":%llu,\"bind_held_in_range\":%u,"
		"\"tw_model\":{\"correction_last\":%llu,\"correction_total\":%llu},"
		"\"gauge_check\":{\"correction_last\":%llu,\"correction_total\":%llu},"
		"\"destinations\":[",
		(unsigned long long)ns->capacity, ns->bind_held_in_range,
		(unsigned long long)ns->tw_correction_last,
		(unsigned long long)ns->tw_correction_total,
		(unsigned long long)ns->gauge_correction_last,
		(unsigned long long)ns->gauge_correction_total);
	for (size_t i = 0; i < ns->n_dests; i++) {
		if (i)
			fputc(',', out);
		dest_row(out, &ns->dests[i]);
	}
	fputs("],\"failures\":[", out);
	for (size_t i = 0; i < ns->n_fails; i++) {
		if (i)
			fputc(',', out);
		fail_row(out, &ns->fails[i]);
	}
	fputs("],\"bind\":", out);
	addr_rows(out, ns->binds, ns->n_binds);
	fputs(",\"udp\":", out);
	if (ns->udp_ok) {
		fprintf(out, "{\"in_use\":%u,\"capacity\":%llu,\"pressure\":%.4f,\"by_addr\":",
			ns->udp_in_use, (unsigned long long)ns->udp_capacity, ns->udp_pressure);
		addr_rows(out, ns->udp_addrs, ns->n_udp_addrs);
		fputs(",\"own_ranges\":[", out);
		for (size_t i = 0; i < ns->n_udp_ranges; i++) {
			const struct cp_udp_range_row *r = &ns->udp_ranges[i];
			char a[CP_ADDR_STRLEN];

			fprintf(out, "%s{\"addr\":\"%s\",\"port_range\":[%u,%u],\"sockets\":%u,"
				"\"in_use\":%u,\"capacity\":%llu,\"pressure\":%.4f}", i ? "," : "",
				addr_format(r->usage.addr, a, sizeof(a)), r->range_lo, r->range_hi,
				r->sockets, r->usage.in_use, (unsigned long long)r->usage.capacity,
				r->usage.pressure);
		}
		fputs("]}", out);
	} else {
		fputs("null", out);
	}
	fputc('}', out);
}

static int json_snapshot(FILE *out, const struct cp_snapshot *s, const struct render_opts *o)
{
	fprintf(out, "{\"schema\":1,\"ts\":%.3f,\"interval_seconds\":%.3f,"
		"\"lost\":{\"recursion_misses\":%llu,\"map_full\":%llu,\"ringbuf_drops\":%llu},"
		"\"sock_slots\":{\"size\":%u,\"fallbacks\":%llu},"
		"\"hooks\":{\"syscalls\":{\"available\":%s,\"armed\":%s,\"reason\":",
		s->ts, s->interval, (unsigned long long)s->lost.recursion_misses,
		(unsigned long long)s->lost.map_full, (unsigned long long)s->lost.ringbuf_drops,
		s->sock_slots, (unsigned long long)s->lost.slot_fallbacks,
		s->syscalls.available ? "true" : "false", s->syscalls.armed ? "true" : "false");
	if (s->syscalls.reason)
		json_string(out, s->syscalls.reason, 16);
	else
		fputs("null", out);
	fputs("}},\"netns\":[", out);
	for (size_t i = 0; i < s->n_netns; i++) {
		if (i)
			fputc(',', out);
		netns_obj(out, &s->netns[i]);
	}
	fputs("]}\n", out);
	return fflush(out) ? -1 : 0;
}

const struct renderer_ops render_json = {
	.name = "json",
	.snapshot = json_snapshot,
};
