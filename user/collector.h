/* SPDX-License-Identifier: GPL-2.0 */
/* collector.h: turns the kernel's maps, the namespaces' limits and the kernel's truth into
 * one snapshot per interval. It never prints. */
#ifndef CP_COLLECTOR_H
#define CP_COLLECTOR_H

#include "cli.h"
#include "loader.h"
#include "netns.h"
#include "snapshot.h"

struct collector;

struct collector_opts {
	const struct cp_config *cfg;
	const struct loader *loader;
	struct cp_netns_roots roots;
};

struct collector *collector__new(const struct collector_opts *opts);
/* One snapshot. The first call also seeds the model from the kernel's sockets. */
int collector__collect(struct collector *c, struct cp_snapshot *snap);
/* Called for each ring-buffer event (failures announced by the kernel). */
int collector__on_event(void *ctx, void *data, size_t size);
void collector__free(struct collector *c);

#endif
