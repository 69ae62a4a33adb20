/* SPDX-License-Identifier: GPL-2.0 */
/* unit.h: a minimal TAP-style harness for the pure user-space logic (no privileges). */
#ifndef CP_UNIT_H
#define CP_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed;

#define ASSERT_EQ(actual, expected, what) do {						\
	long long a_ = (long long)(actual), e_ = (long long)(expected);			\
	if (a_ == e_) {									\
		printf("ok - %s\n", what);						\
	} else {									\
		printf("not ok - %s: got %lld, expected %lld (%s:%d)\n", what, a_, e_,	\
		       __FILE__, __LINE__);						\
		unit_failed = 1;							\
	}										\
} while (0)

#define ASSERT_STREQ(actual, expected, what) do {					\
	const char *a_ = (actual), *e_ = (expected);					\
	if (a_ && !strcmp(a_, e_)) {							\
		printf("ok - %s\n", what);						\
	} else {									\
		printf("not ok - %s: got '%s', expected '%s' (%s:%d)\n", what,		\
		       a_ ? a_ : "(null)", e_, __FILE__, __LINE__);			\
		unit_failed = 1;							\
	}										\
} while (0)

#define ASSERT_NEAR(actual, expected, eps, what) do {					\
	double a_ = (actual), e_ = (expected);						\
	if (a_ - e_ < (eps) && e_ - a_ < (eps)) {					\
		printf("ok - %s\n", what);						\
	} else {									\
		printf("not ok - %s: got %g, expected %g (%s:%d)\n", what, a_, e_,	\
		       __FILE__, __LINE__);						\
		unit_failed = 1;							\
	}										\
} while (0)

#endif
