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


def ours_since(before, now=None):
    """Human-readable list of connpressure programs/links/cgroup attachments present now but not
    in `before`."""
    now = now or snapshot()
    found = []
    for pid, name in now["progs"].items():
        if pid not in before["progs"] and is_ours(name):
            found.append(f"prog {pid} {name}")
    for lid, prog_id in now["links"].items():
        if lid not in before["links"] and is_ours(now["progs"].get(prog_id, "")):
            found.append(f"link {lid} -> prog {prog_id} {now['progs'].get(prog_id)}")
    for key, name in now["cgroup"].items():
        if key not in before["cgroup"] and is_ours(name):
            found.append(f"cgroup {key[0]} {key[1]} prog {key[2]} {name}")
    return found


def leftovers(before, grace=3.0):
    """connpressure objects still present after its exit (the kernel frees them asynchronously:
    poll for `grace` seconds)."""
    deadline = time.monotonic() + grace
    while True:
        left = ours_since(before)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)
