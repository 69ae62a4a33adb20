// SPDX-License-Identifier: GPL-2.0
/* loader.c: checks the host, then open -> size maps -> load -> attach, and back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "connpressure.h"
#include "connpressure.skel.h"
#include "syscalls.skel.h"
#include "deststats.h"
#include "loader.h"
#include "log.h"
#include "tracefs.h"

#define SYS_BTF "/sys/kernel/btf/vmlinux"

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static int check_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (!has_cap(d, CAP_SYS_ADMIN) || !has_cap(d, CAP_SYS_PTRACE)) {
		log_err("needs CAP_SYS_ADMIN and CAP_SYS_PTRACE to load BPF programs and read other "
			"namespaces: run as root");
		return -EPERM;
	}
	return 0;
}

/* The hooks connpressure cannot do without, looked up in the kernel's BTF. */
static const struct {
	const char *btf_name;
	int kind;
	const char *what;
} required[] = {
	{ "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, "tracepoint sock:inet_sock_set_state" },
	{ "btf_trace_tcp_destroy_sock", BTF_KIND_TYPEDEF, "tracepoint tcp:tcp_destroy_sock" },
	{ "bpf_iter_tcp", BTF_KIND_FUNC, "BPF iterator iter/tcp" },
};

int loader__check_host(const struct cp_config *cfg)
{
	const char *path = cfg->btf_path ? cfg->btf_path : SYS_BTF;
	struct btf *btf;
	int err;
	size_t i;

	err = check_privileges();
	if (err)
		return err;
	if (access(path, R_OK)) {
		err = -errno;
		log_err("no kernel BTF at %s (%s): the kernel needs CONFIG_DEBUG_INFO_BTF=y, or pass "
			"--btf FILE", path, strerror(-err));
		return err;
	}
	btf = btf__parse(path, NULL);
	if (!btf) {
		err = -errno;
		log_err("cannot read BTF from %s: %s", path, strerror(-err));
		return err;
	}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (btf__find_by_name_kind(btf, required[i].btf_name, required[i].kind) < 0) {
			log_err("this kernel has no %s (not in %s)", required[i].what, path);
			btf__free(btf);
			return -ENOENT;
		}
	}
	btf__free(btf);
	return 0;
}

/* The cgroup v2 root: /sys/fs/cgroup on pure v2 hosts, /sys/fs/cgroup/unified on hybrid. */
static int find_cgroup2_root(char *path, size_t len)
{
	char line[4096], mnt[256], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %255s", mnt) == 1) {
			snprintf(path, len, "%s", mnt);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* Optional iterators, left out on kernels whose BTF (or --btf) lacks their attach point. One
 * parse of the BTF for all (each is megabytes of peak memory). */
static void skip_missing_iters(struct connpressure_bpf *skel, const struct cp_config *cfg)
{
	struct btf *btf = cfg->btf_path ? btf__parse(cfg->btf_path, NULL) :
					  btf__load_vmlinux_btf();
	const struct {
		struct bpf_program *prog;
		const char *func;
	} iters[] = {
		/* 5.9: only adds UDP sockets' own ranges; without it, they are not shown */
		{ skel->progs.iter_udp, "bpf_iter_udp" },
		/* 5.8: finds the namespaces in use; without it, /proc is walked instead */
		{ skel->progs.iter_task, "bpf_iter_task" },
	};

	for (size_t i = 0; i < sizeof(iters) / sizeof(iters[0]); i++)
		if (!btf || btf__find_by_name_kind(btf, iters[i].func, BTF_KIND_FUNC) < 0)
			bpf_program__set_autoload(iters[i].prog, false);
	btf__free(btf);
}

static void size_maps(struct connpressure_bpf *skel, const struct cp_config *cfg)
{
	unsigned int stripes = dest_stats__stripes(libbpf_num_possible_cpus());

	bpf_map__set_max_entries(skel->maps.dest_stats, cfg->max_dests);
	bpf_map__set_value_size(skel->maps.dest_stats, dest_stats__value_size(stripes));
	skel->rodata->dest_stripe_mask = stripes - 1;
	bpf_map__set_max_entries(skel->maps.holder_ports, cfg->max_holders);
	bpf_map__set_max_entries(skel->maps.tw_socks, cfg->max_tw);
	bpf_map__set_max_entries(skel->maps.bind_ports, cfg->max_binds);
	bpf_map__set_max_entries(skel->maps.failures, cfg->max_failures);
	bpf_map__set_max_entries(skel->maps.sock_slots, cfg->sock_slots);
	bpf_map__set_max_entries(skel->maps.slot_pages, CP_SLOT_PAGE_WORDS(cfg->sock_slots));
	skel->rodata->sock_slot_mask = cfg->sock_slots - 1;
}

/* Slots mapped at a time: the census maps sock_slots a window at a time, so that its pages
 * are in the process's memory (RSS) only while they are read, not the whole map (4 MB by
 * default) for the life of the process; and of a window only the pages that slot_pages
 * marks are read (and so faulted in). */
#define SLOT_WINDOW (256 * 1024 / sizeof(struct cp_sock_slot))
#define PAGES_PER_WINDOW (SLOT_WINDOW / CP_SLOTS_PER_PAGE)

static bool page_marked(const __u64 *words, size_t page)
{
	return __atomic_load_n(&words[page / 64], __ATOMIC_ACQUIRE) & (1ULL << (page % 64));
}

/* Read the marked pages of one mapped window (slots from first_page on). The bit is
 * cleared before the page is read (a full barrier on both sides, see CP_SLOT_PAGE_WORDS) and
 * set again while the page has a slot in use, or when fn failed. */
static int read_window(__u64 *words, const struct cp_sock_slot *slots, size_t first_page,
		       size_t n_pages, size_t n_slots, slot_window_fn fn, void *arg)
{
	for (size_t i = 0; i < n_pages; i++) {
		size_t page = first_page + i, at = i * CP_SLOTS_PER_PAGE;
		__u64 bit = 1ULL << (page % 64);
		int used;

		if (!page_marked(words, page))
			continue;
		__atomic_fetch_and(&words[page / 64], ~bit, __ATOMIC_SEQ_CST);
		used = fn(arg, slots + at, n_slots - at < CP_SLOTS_PER_PAGE ? n_slots - at :
								       CP_SLOTS_PER_PAGE);
		if (used)
			__atomic_fetch_or(&words[page / 64], bit, __ATOMIC_SEQ_CST);
		if (used < 0)
			return used;
	}
	return 0;
}

static int map_slots(const struct loader *ld, size_t first, size_t n, void **p, size_t *len)
{
	size_t page = sysconf(_SC_PAGESIZE);

	*len = (n * sizeof(struct cp_sock_slot) + page - 1) & ~(page - 1);
	*p = mmap(NULL, *len, PROT_READ, MAP_SHARED, bpf_map__fd(ld->skel->maps.sock_slots),
		  first * sizeof(struct cp_sock_slot));
	return *p == MAP_FAILED ? -errno : 0;
}

int loader__read_slots(const struct loader *ld, slot_window_fn fn, void *arg)
{
	size_t n_pages = (ld->sock_slots + CP_SLOTS_PER_PAGE - 1) / CP_SLOTS_PER_PAGE;
	int err = 0;

	for (size_t first = 0; !err && first < n_pages; first += PAGES_PER_WINDOW) {
		size_t pages = n_pages - first < PAGES_PER_WINDOW ? n_pages - first :
								     PAGES_PER_WINDOW;
		size_t slot0 = first * CP_SLOTS_PER_PAGE, n, len, i;
		void *p;

		for (i = 0; i < pages && !page_marked(ld->slot_pages, first + i); i++)
			;
		if (i == pages)
			continue;	/* no slot in use there: not even mapped */
		n = ld->sock_slots - slot0 < SLOT_WINDOW ? ld->sock_slots - slot0 : SLOT_WINDOW;
		err = map_slots(ld, slot0, n, &p, &len);
		if (err)
			return err;
		err = read_window(ld->slot_pages, p, first, pages, n, fn, arg);
		munmap(p, len);
	}
	return err;
}

/* slot_pages, mapped read-write for the life of the loader; and a first window of
 * sock_slots, to fail now rather than at the first pass. */
static int map_slot_pages(struct loader *ld)
{
	size_t page = sysconf(_SC_PAGESIZE), len;
	void *p;
	int err;

	ld->slot_pages_len = (CP_SLOT_PAGE_WORDS(ld->sock_slots) * sizeof(__u64) + page - 1) &
			     ~(page - 1);
	p = mmap(NULL, ld->slot_pages_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(ld->skel->maps.slot_pages), 0);
	if (p == MAP_FAILED)
		return -errno;
	ld->slot_pages = p;
	err = map_slots(ld, 0, ld->sock_slots < SLOT_WINDOW ? ld->sock_slots : SLOT_WINDOW, &p,
			&len);
	if (!err) {
		munmap(p, len);
		return 0;
	}
	munmap(ld->slot_pages, ld->slot_pages_len);
	ld->slot_pages = NULL;
	return err;
}

/* Attach to the cgroup v2 root with a link: beside whatever else is attached there. */
static int attach_cgroup(struct loader *ld, struct bpf_program *prog, struct bpf_link **link)
{
	*link = bpf_program__attach_cgroup(prog, ld->cgroup_fd);
	if (!*link) {
		int err = -errno;

		log_err("attaching %s to cgroup %s: %s", bpf_program__name(prog), ld->cgroup_path,
			strerror(-err));
		return err;
	}
	return 0;
}

/* The event ids of the syscall object's classic tracepoints ("tracepoint/CATEGORY/NAME"),
 * looked up once, at load: libbpf finds them only in a mounted tracefs, which hosts without
 * systemd often lack, so tracefs.c reads them (from a private mount if need be) and the
 * programs are attached to perf events of our own. */
static int resolve_syscall_events(struct loader *ld)
{
	const char *events[CP_SYS_PROGS];
	struct bpf_program *prog;
	int n = 0, err;

	bpf_object__for_each_program(prog, ld->sys->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (n == CP_SYS_PROGS || strncmp(sec, "tracepoint/", 11))
			return -EINVAL;
		ld->sys_progs[n] = prog;
		events[n++] = sec + 11;
	}
	ld->n_sys_progs = n;
	err = tracefs__event_ids(events, n, ld->sys_event_ids);
	if (err) {
		log_warn("syscall hooks unavailable: cannot read tracepoint ids from tracefs (%s): "
			 "UDP and bind() failures are not reported", strerror(-err));
		return err;
	}
	for (int i = 0; i < n; i++) {
		if (ld->sys_event_ids[i] < 0) {
			log_warn("syscall hooks unavailable: no tracepoint %s (%s): UDP and bind() "
				 "failures are not reported", events[i], strerror(-ld->sys_event_ids[i]));
			return ld->sys_event_ids[i];
		}
	}
	return 0;
}

/* The syscall object shares every map it has in common with the main one. Loaded now (it
 * costs nothing until attached); a kernel without syscall tracepoints only loses the
 * failures they report. */
static void load_syscalls(struct loader *ld, const struct cp_config *cfg, __u64 only_netns)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = cfg->btf_path);
	struct syscalls_bpf *sys = syscalls_bpf__open_opts(&opts);
	struct bpf_map *map, *shared;
	int err;

	if (!sys) {
		log_warn("syscall hooks unavailable (%s): UDP and bind() failures are not reported",
			 strerror(errno));
		return;
	}
	sys->rodata->dest_stripe_mask = ld->skel->rodata->dest_stripe_mask;
	bpf_object__for_each_map(map, sys->obj) {
		shared = bpf_object__find_map_by_name(ld->skel->obj, bpf_map__name(map));
		if (shared && bpf_map__reuse_fd(map, bpf_map__fd(shared))) {
			log_warn("syscall hooks: sharing map %s failed", bpf_map__name(map));
			syscalls_bpf__destroy(sys);
			return;
		}
	}
	err = syscalls_bpf__load(sys);
	if (!err)
		sys->bss->only_netns = only_netns;
	if (err) {
		log_warn("syscall hooks unavailable (%s): UDP and bind() failures are not reported",
			 strerror(-err));
		syscalls_bpf__destroy(sys);
		return;
	}
	ld->sys = sys;
	if (resolve_syscall_events(ld)) {
		syscalls_bpf__destroy(sys);
		ld->sys = NULL;
	}
}

static void disarm_syscalls(struct loader *ld)
{
	for (int i = 0; i < ld->n_sys_progs; i++) {
		bpf_link__destroy(ld->sys_links[i]);	/* closes its perf event too */
		ld->sys_links[i] = NULL;
	}
	ld->sys_armed = false;
}

/* One perf event of tracepoint id on CPU 0 runs the program on every CPU. */
static int attach_tracepoint_id(struct bpf_program *prog, int id, struct bpf_link **link)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = (__u64)id,
	};
	int err, pfd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (pfd < 0)
		return -errno;
	*link = bpf_program__attach_perf_event(prog, pfd);
	if (!*link) {
		err = -errno;
		close(pfd);
		return err;
	}
	return 0;
}

int loader__arm_syscalls(struct loader *ld, bool on)
{
	int err = 0;

	if (!ld->sys)
		return -ENOTSUP;
	if (on == ld->sys_armed)
		return 0;
	if (!on) {
		disarm_syscalls(ld);
		return 0;
	}
	for (int i = 0; i < ld->n_sys_progs && !err; i++) {
		err = attach_tracepoint_id(ld->sys_progs[i], ld->sys_event_ids[i], &ld->sys_links[i]);
		if (err)
			log_warn("arming syscall hooks: %s: %s",
				 bpf_program__section_name(ld->sys_progs[i]), strerror(-err));
	}
	if (err) {
		disarm_syscalls(ld);
		return err;
	}
	ld->sys_armed = true;
	return 0;
}

int loader__start(struct loader *ld, const struct cp_config *cfg, __u64 only_netns)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = cfg->btf_path);
	struct connpressure_bpf *skel;
	int err;

	memset(ld, 0, sizeof(*ld));
	ld->cgroup_fd = -1;
	err = find_cgroup2_root(ld->cgroup_path, sizeof(ld->cgroup_path));
	if (err) {
		log_err("no cgroup v2 hierarchy is mounted: the bind() hooks need one");
		return err;
	}
	ld->cgroup_fd = open(ld->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ld->cgroup_fd < 0) {
		err = -errno;
		log_err("opening cgroup %s: %s", ld->cgroup_path, strerror(-err));
		return err;
	}

	skel = connpressure_bpf__open_opts(&opts);
	if (!skel) {
		err = -errno;
		log_err("opening BPF object: %s", strerror(-err));
		goto out_close_cgroup;
	}
	ld->skel = skel;
	ld->sock_slots = cfg->sock_slots;
	size_maps(skel, cfg);
	skip_missing_iters(skel, cfg);

	err = connpressure_bpf__load(skel);
	if (err) {
		log_err("loading BPF programs: %s (run with -vv for the verifier log)", strerror(-err));
		goto out_destroy;
	}
	err = map_slot_pages(ld);
	if (err) {
		log_err("mapping sock_slots: %s", strerror(-err));
		goto out_destroy;
	}
	/* With -n, the hooks account for that netns only: other namespaces' sockets neither
	 * cost map entries nor fill the maps. */
	skel->bss->only_netns = only_netns;
	/* Tracepoints and the iterator first (the skeleton attaches those by itself). */
	err = connpressure_bpf__attach(skel);
	if (err) {
		log_err("attaching tracepoints: %s", strerror(-err));
		goto out_destroy;
	}
	err = attach_cgroup(ld, skel->progs.handle_post_bind4, &skel->links.handle_post_bind4);
	if (!err)
		err = attach_cgroup(ld, skel->progs.handle_post_bind6, &skel->links.handle_post_bind6);
	if (err)
		goto out_destroy;
	load_syscalls(ld, cfg, only_netns);
	return 0;

out_destroy:
	connpressure_bpf__destroy(skel);
	ld->skel = NULL;
out_close_cgroup:
	close(ld->cgroup_fd);
	ld->cgroup_fd = -1;
	return err;
}

void loader__stop(struct loader *ld)
{
	if (ld->slot_pages)
		munmap(ld->slot_pages, ld->slot_pages_len);
	ld->slot_pages = NULL;
	disarm_syscalls(ld);
	syscalls_bpf__destroy(ld->sys);
	ld->sys = NULL;
	ld->sys_armed = false;
	connpressure_bpf__destroy(ld->skel);	/* destroys every link the skeleton holds */
	ld->skel = NULL;
	if (ld->cgroup_fd >= 0)
		close(ld->cgroup_fd);
	ld->cgroup_fd = -1;
}

int loader__read_counters(const struct loader *ld, __u64 out[], int n)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(ld->skel->maps.counters);
	__u64 vals[ncpu > 0 ? ncpu : 1];

	if (ncpu <= 0)
		return ncpu;
	for (__u32 i = 0; i < (__u32)n; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals))
			return -errno;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	return 0;
}

/* Runs the kernel skipped because the program was already running on that CPU. */
static __u64 recursion_misses(struct bpf_object *obj)
{
	struct bpf_program *prog;
	__u64 sum = 0;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_program__fd(prog) >= 0 &&
		    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
			sum += info.recursion_misses;
	}
	return sum;
}

int loader__read_lost(const struct loader *ld, struct cp_lost *lost)
{
	__u64 cnt[CP_CNT_MAX];
	int err;

	memset(lost, 0, sizeof(*lost));
	lost->recursion_misses = recursion_misses(ld->skel->obj);
	if (ld->sys)
		lost->recursion_misses += recursion_misses(ld->sys->obj);
	err = loader__read_counters(ld, cnt, CP_CNT_MAX);
	if (err)
		return err;
	lost->map_full = cnt[CP_CNT_MAP_FULL];
	lost->ringbuf_drops = cnt[CP_CNT_RINGBUF_DROPS];
	lost->slot_fallbacks = cnt[CP_CNT_SLOT_TAKEN];
	return 0;
}

int loader__iter_udp_fd(const struct loader *ld)
{
	int fd;

	if (!ld->skel->links.iter_udp)
		return -EOPNOTSUPP;
	fd = bpf_iter_create(bpf_link__fd(ld->skel->links.iter_udp));
	return fd < 0 ? -errno : fd;
}

int loader__iter_task_fd(struct loader *ld)
{
	int fd;

	if (!ld->skel->links.iter_task)
		return -EOPNOTSUPP;
	ld->skel->bss->task_walk++;	/* what netns_walked holds is from the last walk */
	fd = bpf_iter_create(bpf_link__fd(ld->skel->links.iter_task));
	return fd < 0 ? -errno : fd;
}

int loader__iter_fd(const struct loader *ld)
{
	int fd = bpf_iter_create(bpf_link__fd(ld->skel->links.iter_tcp));

	return fd < 0 ? -errno : fd;
}
