/* SPDX-License-Identifier: GPL-2.0 */
/* render.h: one interface for every output format; renderers read only the snapshot. */
#ifndef CP_RENDER_H
#define CP_RENDER_H

#include <stdio.h>
#include "cli.h"
#include "snapshot.h"

struct render_opts {
	bool wide;		/* table: full addresses and every state column */
	int max_lines;		/* table: fit this many lines (a terminal's height); 0: no limit */
	int max_cols;		/* table: cut lines at this width (a terminal's); 0: no limit */
};

struct renderer_ops {
	const char *name;				/* "table", "json", "csv" */
	int (*snapshot)(FILE *out, const struct cp_snapshot *s, const struct render_opts *o);
};

extern const struct renderer_ops render_json;
extern const struct renderer_ops render_table;
extern const struct renderer_ops render_csv;

const struct renderer_ops *render__for(enum cp_output output);
/* "EADDRNOTAVAIL" for 99 and so on: the names JSON consumers match on. */
const char *render_errno_name(int err);

#endif
