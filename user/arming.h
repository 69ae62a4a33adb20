/* SPDX-License-Identifier: GPL-2.0 */
/* arming.h: when to attach the costly syscall hooks: always (--arm-syscalls), never
 * (--no-auto-arm), or while some namespace's bind() or UDP pressure is high. */
#ifndef CP_ARMING_H
#define CP_ARMING_H

#include <stdbool.h>
#include "snapshot.h"

enum cp_arm_mode { CP_ARM_AUTO, CP_ARM_ALWAYS, CP_ARM_NEVER };

struct arm_policy {
	enum cp_arm_mode mode;
	double threshold;	/* arm when a bind/UDP pressure reaches it */
	double hold_seconds;	/* stay armed this long after pressure fell below it */
	double last_high;	/* when pressure was last at or above threshold; < 0: never */
};

void arm_policy__init(struct arm_policy *p, enum cp_arm_mode mode, double threshold);
/* Whether the hooks should be armed after snapshot s taken at time now (seconds);
 * *reason says why ("flag", "pressure") or is NULL. */
bool arm_policy__want(struct arm_policy *p, const struct cp_snapshot *s, double now,
		      const char **reason);
/* The highest bind() or UDP pressure of the snapshot. */
double arm_policy__peak(const struct cp_snapshot *s);

#endif
