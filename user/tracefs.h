/* SPDX-License-Identifier: GPL-2.0 */
/* tracefs.h: event ids of classic tracepoints, also on hosts where tracefs is not mounted. */
#ifndef CP_TRACEFS_H
#define CP_TRACEFS_H

/* Fill ids[i] with the id of tracepoint events[i] ("category/name", e.g.
 * "syscalls/sys_enter_connect"), or with -errno when it has none (-ENOENT: no such event).
 * The ids come from the host's tracefs (/sys/kernel/tracing, /sys/kernel/debug/tracing)
 * when it is mounted; otherwise from a tracefs mounted in a private mount namespace of a
 * short-lived child, which leaves nothing mounted behind. Returns 0, or -errno when no
 * tracefs could be read at all. */
int tracefs__event_ids(const char *const events[], int n, int ids[]);

#endif
