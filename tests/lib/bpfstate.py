# SPDX-License-Identifier: GPL-2.0
# What connpressure leaves in the kernel: its programs (by name), links and cgroup attachments,
# compared by id against a snapshot taken before the run.
import json
import os
import shutil
import subprocess
import time

from .check import SkipTest

# Program names from the contract; the kernel keeps 15 characters (BPF_OBJ_NAME_LEN - 1).
PROG_NAMES = ("handle_sockops", "handle_post_bind4", "handle_post_bind6",
              "handle_inet_sock_set_state", "handle_tcp_destroy_sock", "iter_tcp")
SHORT_NAMES = {n[:15] for n in PROG_NAMES}


def cgroup2_root():
    for path in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        try:
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    parts = line.split()
                    if parts[4] == path and " - cgroup2 " in line:
                        return path
        except OSError:
            pass
    return None


def bpftool_json(*args):
    if shutil.which("bpftool") is None:
        raise SkipTest("bpftool not installed")
    p = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise RuntimeError(f"bpftool {' '.join(args)}: {p.stderr.strip()}")
    return json.loads(p.stdout or "[]") or []


def is_ours(name):
    return bool(name) and name[:15] in SHORT_NAMES


def snapshot():
    """{'progs': {id: name}, 'links': {id: prog_id}, 'cgroup': {(cgroup, type, prog_id): name}}"""
    progs = {p["id"]: p.get("name", "") for p in bpftool_json("prog", "show")}
    links = {l["id"]: l.get("prog_id") for l in bpftool_json("link", "show")}
    cg = {}
    root = cgroup2_root()
    if root:
        for entry in bpftool_json("cgroup", "tree", root):
            for pr in entry.get("programs", []):
                cg[(entry.get("cgroup"), pr.get("attach_type"), pr.get("id"))] = pr.get("name", "")
    return {"progs": progs, "links": links, "cgroup": cg}


def fd_refs(only_pid=None):
    """{pid: (prog ids, link ids)} that live processes hold through file descriptors (bpf-prog
    fds, and bpf_link fds with the program they link)."""
    refs = {}
    pids = [only_pid] if only_pid else [int(p) for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        progs, links = set(), set()
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if "bpf-prog" not in target and "bpf_link" not in target:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            except OSError:
                continue
            if "prog_id" in info:
                progs.add(int(info["prog_id"]))
            if "link_id" in info:
                links.add(int(info["link_id"]))
        if progs or links:
            refs[pid] = (progs, links)
    return refs


def ours_since(before, now=None, held_by=None, exclude_held=False):
    """connpressure programs/links/cgroup attachments present now but not in `before`, as
    human-readable strings. held_by=PID: only those that process holds. exclude_held: leave out
    what any live process holds (other connpressure instances running on this machine)."""
    now = now or snapshot()
    prog_ok = link_ok = None
    if held_by is not None:
        progs, links = fd_refs(held_by).get(held_by, (set(), set()))
        prog_ok = lambda i: i in progs       # noqa: E731
        link_ok = lambda i: i in links       # noqa: E731
    elif exclude_held:
        held_p, held_l = set(), set()
        for progs, links in fd_refs().values():
            held_p |= progs
            held_l |= links
        held_p |= {now["links"].get(l) for l in held_l}
        prog_ok = lambda i: i not in held_p  # noqa: E731
        link_ok = lambda i: i not in held_l  # noqa: E731
    found = []
    for pid, name in now["progs"].items():
        if pid not in before["progs"] and is_ours(name) and (not prog_ok or prog_ok(pid)):
            found.append(f"prog {pid} {name}")
    for lid, prog_id in now["links"].items():
        if (lid not in before["links"] and is_ours(now["progs"].get(prog_id, ""))
                and (not link_ok or link_ok(lid))):
            found.append(f"link {lid} -> prog {prog_id} {now['progs'].get(prog_id)}")
    for key, name in now["cgroup"].items():
        if key not in before["cgroup"] and is_ours(name) and (not prog_ok or prog_ok(key[2])):
            found.append(f"cgroup {key[0]} {key[1]} prog {key[2]} {name}")
    return found


def leftovers(before, grace=3.0):
    """connpressure objects still present after its exit that no live process holds (other
    connpressure instances may run at the same time). The kernel frees them asynchronously: poll
    for `grace` seconds."""
    deadline = time.monotonic() + grace
    while True:
        left = ours_since(before, exclude_held=True)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)
