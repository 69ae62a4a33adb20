/* SPDX-License-Identifier: GPL-2.0 */
/* loader.h: the BPF object's life: checks, open, size maps, load, attach, detach. */
#ifndef CP_LOADER_H
#define CP_LOADER_H

#include <stddef.h>
#include <linux/types.h>
#include "cli.h"
#include "connpressure.h"

struct connpressure_bpf;
struct syscalls_bpf;

#define CP_SYS_PROGS 8		/* room for the syscall object's programs */

struct bpf_link;
struct bpf_program;

struct loader {
	struct connpressure_bpf *skel;
	struct syscalls_bpf *sys;	/* loaded, attached only while armed; NULL if unusable */
	bool sys_armed;
	int n_sys_progs;
	struct bpf_program *sys_progs[CP_SYS_PROGS];	/* each on its classic tracepoint: */
	int sys_event_ids[CP_SYS_PROGS];		/* its event id (tracefs.c) */
	struct bpf_link *sys_links[CP_SYS_PROGS];	/* its link while armed */
	int cgroup_fd;
	char cgroup_path[256];
	__u32 sock_slots;		/* --sock-slots */
	__u64 *slot_pages;		/* the slot_pages map, mapped read-write */
	size_t slot_pages_len;
};

/* What the kernel side lost since load (JSON "lost"). */
struct cp_lost {
	__u64 recursion_misses;
	__u64 map_full;
	__u64 ringbuf_drops;
	/* Not a loss: connect()s whose slot was taken, followed with sk_storage instead (exact,
	 * ~1 µs dearer). Many of them say --sock-slots is too small (JSON "sock_slots"). */
	__u64 slot_fallbacks;
};

/* Privileges, BTF and tracepoints: a one-line error and -errno when one is missing. */
int loader__check_host(const struct cp_config *cfg);
/* Open, size, load and attach everything; on error nothing stays attached. */
int loader__start(struct loader *ld, const struct cp_config *cfg, __u64 only_netns);
void loader__stop(struct loader *ld);

/* Attach or detach the syscall tracepoints (UDP/bind failures); -ENOTSUP if unusable. */
int loader__arm_syscalls(struct loader *ld, bool on);
int loader__read_counters(const struct loader *ld, __u64 out[], int n);
int loader__read_lost(const struct loader *ld, struct cp_lost *lost);
/* Call fn on the pages of sock_slots that may hold slots in use (slot_pages), mapped
 * read-only a window at a time; fn returns how many of slots[0..n) are in use (the page
 * stays marked while any is), or -errno to stop. */
typedef int (*slot_window_fn)(void *arg, const struct cp_sock_slot *slots, size_t n);
int loader__read_slots(const struct loader *ld, slot_window_fn fn, void *arg);
/* A new iter/tcp file descriptor, scoped to the calling thread's netns. */
int loader__iter_fd(const struct loader *ld);
/* iter/udp over the calling thread's netns, or -EOPNOTSUPP on kernels without it. */
int loader__iter_udp_fd(const struct loader *ld);
/* A new walk of iter/task (a task per netns in use), or -EOPNOTSUPP on kernels without it. */
int loader__iter_task_fd(struct loader *ld);

#endif
