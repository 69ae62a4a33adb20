# SPDX-License-Identifier: GPL-2.0
# Run a program in a detached tmux pane of a given size (a private tmux server, -L), read the screen
# with capture-pane, and tear it all down.
import os
import shlex
import shutil
import signal
import subprocess
import time

from . import procs
from .check import SkipTest

_counter = 0


class TmuxView:
    def __init__(self, argv, width=80, height=30):
        global _counter
        if shutil.which("tmux") is None:
            raise SkipTest("tmux not installed")
        _counter += 1
        self.sock = f"cpt-{os.getpid()}-{_counter}"
        self.width, self.height = width, height
        self.argv = list(argv)
        self.pane_pid = None
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(width),
                  "-y", str(height), "exec " + shlex.join(self.argv),
                  ";", "set-option", "-t", "main", "remain-on-exit", "on")
        out = self.tmux("display-message", "-p", "-t", "main", "#{pane_pid}").stdout.strip()
        if out.isdigit():
            self.pane_pid = int(out)
            procs.record(self.pane_pid, "connpressure (tmux)")

    def tmux(self, *args, check=True):
        p = subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True, text=True,
                           timeout=10)
        if check and p.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {p.stderr.strip()}")
        return p

    def screen(self):
        """The visible screen, one string per line; wrapped lines joined (-J), so a line longer
        than the pane width means the program wrote past the edge."""
        p = self.tmux("capture-pane", "-p", "-J", "-t", "main", check=False)
        return p.stdout.rstrip("\n").split("\n") if p.returncode == 0 else []

    def dead(self):
        p = self.tmux("display-message", "-p", "-t", "main", "#{pane_dead} #{pane_dead_status}",
                      check=False)
        f = p.stdout.split()
        return f[1] if f and f[0] == "1" else None

    def wait_for(self, pred, what, timeout=8.0):
        """Poll the screen until pred(lines) is truthy; returns the lines."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            lines = self.screen()
            if pred(lines):
                return lines
            rc = self.dead()
            if rc is not None:
                raise AssertionError(f"{what}: the program exited (status {rc}); screen:\n"
                                     + "\n".join(lines))
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what}: not on screen within {timeout}s; screen:\n"
                                     + "\n".join(lines))
            time.sleep(0.2)

    def stop(self):
        if self.pane_pid:
            try:
                os.kill(self.pane_pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            procs.wait_until(lambda: procs.proc_starttime(self.pane_pid) is None
                             or procs.is_zombie(self.pane_pid), 3)
        self.tmux("kill-server", check=False)
        if self.pane_pid and procs.proc_starttime(self.pane_pid) is not None \
                and not procs.is_zombie(self.pane_pid):
            try:
                os.kill(self.pane_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
