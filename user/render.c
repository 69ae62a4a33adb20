// SPDX-License-Identifier: GPL-2.0
/* render.c: picks a renderer; helpers every renderer shares. */
#include <errno.h>
#include "render.h"

const struct renderer_ops *render__for(enum cp_output output)
{
	switch (output) {
	case CP_OUT_JSON:
		return &render_json;
	case CP_OUT_CSV:
		return &render_csv;
	default:
		return &render_table;
	}
}

const char *render_errno_name(int err)
{
	switch (err) {
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EADDRINUSE:
		return "EADDRINUSE";
	case EAGAIN:
		return "EAGAIN";
	default:
		return "EOTHER";
	}
}
