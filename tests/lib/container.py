# SPDX-License-Identifier: GPL-2.0
# A container-like namespace: unnamed (nothing under /run/netns), kept alive by one process
# (`unshare -n sleep`), its members in a cgroup v2 of their own. Same interface as netns.Netns
# (exec_argv, run, sysctl, port_range, close), so Workload and ss helpers work with it.
import os
import signal
import time

from . import bpfstate, procs
from .netns import NsCommands, kill_members

_counter = 0


def members(inum):
    """Pids whose network namespace has inode number `inum`."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.stat(f"/proc/{p}/ns/net").st_ino == inum:
                pids.append(int(p))
        except OSError:
            pass
    return pids


def cgroup_of(pid):
    """The cgroup v2 path of pid (the '0::' line of /proc/PID/cgroup), or None."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


class UnnamedNetns(NsCommands):
    def __init__(self, port_range=(40000, 40009), sysctls=None):
        global _counter
        _counter += 1
        self.name = f"unnamed-cpt-{os.getpid()}-{_counter}"
        self.port_range = tuple(port_range)
        self.closed = False
        self.cgroup_dir = None
        root = bpfstate.cgroup2_root()
        if root is None:
            raise RuntimeError("no cgroup v2 mount")
        self.cgroup = f"/cpt-{os.getpid()}-{_counter}"
        self.cgroup_dir = root + self.cgroup
        os.mkdir(self.cgroup_dir)
        self.pin = procs.spawn(["unshare", "-n", "--", "sleep", "600"], what="unshare -n sleep")
        try:
            self.pin_pid = self.pin.pid
            ok = procs.wait_until(lambda: os.readlink(f"/proc/{self.pin_pid}/exe").endswith("sleep"),
                                  5)
            if not ok:
                raise RuntimeError("unshare -n sleep did not start")
            self.inum = os.stat(f"/proc/{self.pin_pid}/ns/net").st_ino
            if self.inum == os.stat("/proc/self/ns/net").st_ino:
                raise RuntimeError("unshare -n did not create a namespace")
            self.move(self.pin_pid)
            self.run(["ip", "link", "set", "lo", "up"])
            settings = {"net.ipv4.ip_local_port_range": f"{port_range[0]} {port_range[1]}"}
            settings.update(sysctls or {})
            for k, v in settings.items():
                self.sysctl_set(k, v)
        except Exception:
            self.close()
            raise

    def move(self, pid):
        """Put pid into this namespace's cgroup."""
        with open(os.path.join(self.cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def exec_argv(self, argv):
        return ["nsenter", "-t", str(self.pin_pid), "-n", "--"] + list(argv)

    def members(self):
        return members(self.inum)

    def close(self):
        """Kill every member (the namespace goes away with the last one), remove the cgroup."""
        if self.closed:
            return
        self.closed = True

        def live_members():
            pids = members(self.inum) if hasattr(self, "inum") else []
            if hasattr(self, "pin") and self.pin.poll() is None and self.pin.pid not in pids:
                pids.append(self.pin.pid)
            return pids

        kill_members(live_members)
        if hasattr(self, "pin"):
            procs.stop(self.pin, signal.SIGKILL)
        if self.cgroup_dir:
            for _ in range(20):
                try:
                    os.rmdir(self.cgroup_dir)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
