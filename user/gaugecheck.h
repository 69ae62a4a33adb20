/* SPDX-License-Identifier: GPL-2.0 */
/* gaugecheck.h: the live gauges (syn_sent, established, other per destination) checked against
 * the kernel's own sockets. The hooks count every transition they see; a transition that was
 * never seen would leave a gauge off for good. At each check (iter/tcp), a destination whose
 * dest_stats entry did not change between the passes around the check is compared with the
 * sockets the iterator found for it; a difference is kept as an offset (applied from then on)
 * and reported. Busy destinations are left for a later, quiet check. */
#ifndef CP_GAUGECHECK_H
#define CP_GAUGECHECK_H

#include <stddef.h>
#include <linux/types.h>
#include "connpressure.h"
#include "maps.h"

enum { GAUGE_SYN_SENT, GAUGE_ESTABLISHED, GAUGE_OTHER, GAUGE_N };

struct gauge_offset {
	struct cp_dest_key key;
	__s64 off[GAUGE_N];
};

struct gaugecheck {
	struct gauge_offset *v;		/* sorted by key */
	size_t n, cap;
	struct map_dump prev;		/* the previous pass's dest_stats, sorted by key */
};

/* One netns's check: recs from iter/tcp (CP_REC_CONNECT ones are used; the records are
 * reordered), dests this pass's dest_stats dump sorted by key. Returns how many sockets the
 * offsets moved by. */
__u64 gaugecheck__check(struct gaugecheck *g, __u64 cookie, struct cp_iter_rec *recs,
			size_t n_recs, const struct map_dump *dests);
/* The offsets of a destination (zeros when it has none). */
void gaugecheck__offsets(const struct gaugecheck *g, const struct cp_dest_key *k,
			 __s64 off[GAUGE_N]);
/* End of a pass: keep dests (sorted) as the previous dump; drop offsets of entries gone. */
int gaugecheck__end_pass(struct gaugecheck *g, const struct map_dump *dests);
void gaugecheck__free(struct gaugecheck *g);

#endif
