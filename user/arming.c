// SPDX-License-Identifier: GPL-2.0
/* arming.c: the on-demand policy for the syscall hooks (pure: unit-tested). */
#include "arming.h"

void arm_policy__init(struct arm_policy *p, enum cp_arm_mode mode, double threshold)
{
	p->mode = mode;
	p->threshold = threshold;
	p->hold_seconds = 30;
	p->last_high = -1;
}

double arm_policy__peak(const struct cp_snapshot *s)
{
	double peak = 0;

	for (size_t i = 0; i < s->n_netns; i++) {
		const struct cp_netns_snap *ns = &s->netns[i];

		for (size_t j = 0; j < ns->n_binds; j++)
			if (ns->binds[j].pressure > peak)
				peak = ns->binds[j].pressure;
		if (ns->udp_ok && ns->udp_pressure > peak)
			peak = ns->udp_pressure;
	}
	return peak;
}

bool arm_policy__want(struct arm_policy *p, const struct cp_snapshot *s, double now,
		      const char **reason)
{
	*reason = NULL;
	if (p->mode == CP_ARM_ALWAYS) {
		*reason = "flag";
		return true;
	}
	if (p->mode == CP_ARM_NEVER)
		return false;
	if (arm_policy__peak(s) >= p->threshold)
		p->last_high = now;
	if (p->last_high >= 0 && now - p->last_high < p->hold_seconds) {
		*reason = "pressure";
		return true;
	}
	return false;
}
