// SPDX-License-Identifier: GPL-2.0
/* addr.c: address formatting shared by every renderer. */
#include <arpa/inet.h>
#include <string.h>
#include "addr.h"

bool addr_is_v4mapped(const __u8 a[16])
{
	static const __u8 prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

const char *addr_format(const __u8 a[16], char *buf, size_t len)
{
	if (addr_is_v4mapped(a))
		return inet_ntop(AF_INET, a + 12, buf, len) ? buf : "?";
	return inet_ntop(AF_INET6, a, buf, len) ? buf : "?";
}
