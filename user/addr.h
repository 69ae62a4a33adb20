/* SPDX-License-Identifier: GPL-2.0 */
/* addr.h: addresses as the kernel side stores them (IPv6, IPv4 v4-mapped) to and from text. */
#ifndef CP_ADDR_H
#define CP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define CP_ADDR_STRLEN 46	/* INET6_ADDRSTRLEN */

bool addr_is_v4mapped(const __u8 a[16]);
/* "127.0.0.1" for v4-mapped addresses, "::1" style otherwise. */
const char *addr_format(const __u8 a[16], char *buf, size_t len);

#endif
