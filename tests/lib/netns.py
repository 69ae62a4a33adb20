# SPDX-License-Identifier: GPL-2.0
# Network namespace fixture: unique name cpt-<pid>-<n>, lo up, sysctls set inside, always deleted.
import os
import re
import signal
import subprocess
import time

PREFIX = "cpt-"
_counter = 0


def run(argv, check=True, timeout=10):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (rc {p.returncode}): {p.stderr.strip()}")
    return p


def list_names():
    p = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def pids_in(name):
    p = run(["ip", "netns", "pids", name], check=False)
    return [int(x) for x in p.stdout.split() if x.isdigit()]


def kill_members(list_pids, tries=3):
    """SIGKILL what list_pids() returns until it returns nothing (or tries run out)."""
    for _ in range(tries):
        pids = list_pids()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def delete(name):
    """Kill every process in the namespace, then delete it. Never raises."""
    kill_members(lambda: pids_in(name))
    run(["ip", "netns", "del", name], check=False)


def owner_pid(name):
    """The pid encoded in a test namespace's name (cpt-<pid>-<n>), or None."""
    m = re.fullmatch(re.escape(PREFIX) + r"(\d+)-\d+", name)
    return int(m.group(1)) if m else None


class NsCommands:
    """Commands run inside a namespace; subclasses say how to enter it (exec_argv)."""

    def exec_argv(self, argv):
        raise NotImplementedError

    def run(self, argv, check=True, timeout=10):
        return run(self.exec_argv(argv), check=check, timeout=timeout)

    def sysctl_set(self, key, value):
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def sysctl(self, key):
        """Value of a sysctl as seen inside the namespace (the ground truth for limits)."""
        return self.run(["sysctl", "-n", key]).stdout.strip()


class Netns(NsCommands):
    """A private network namespace for one test. Use as a context manager or call close()."""

    def __init__(self, port_range=(40000, 40009), sysctls=None):
        global _counter
        _counter += 1
        self.name = f"{PREFIX}{os.getpid()}-{_counter}"
        self.port_range = tuple(port_range)
        self.closed = False
        run(["ip", "netns", "add", self.name])
        try:
            run(["ip", "-n", self.name, "link", "set", "lo", "up"])
            settings = {"net.ipv4.ip_local_port_range": f"{port_range[0]} {port_range[1]}"}
            settings.update(sysctls or {})
            for k, v in settings.items():
                self.sysctl_set(k, v)
        except Exception:
            self.close()
            raise

    @property
    def path(self):
        return f"/run/netns/{self.name}"

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def inum(self):
        return os.stat(self.path).st_ino

    def close(self):
        if not self.closed:
            self.closed = True
            delete(self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
