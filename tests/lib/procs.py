# SPDX-License-Identifier: GPL-2.0
# Start processes for tests and record them (pid + start time) so the runner can kill leftovers.
import os
import signal
import subprocess
import time

PIDLOG_ENV = "CPT_PIDLOG"


def stat_fields(pid):
    """Fields of /proc/PID/stat after comm (state first), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    return data[data.rindex(")") + 2:].split()


def proc_starttime(pid):
    """Start time of pid in clock ticks (field 22 of /proc/PID/stat), or None if it is gone."""
    rest = stat_fields(pid)
    return int(rest[19]) if rest else None


def record(pid, what):
    path = os.environ.get(PIDLOG_ENV)
    if not path:
        return
    st = proc_starttime(pid)
    if st is None:
        return
    with open(path, "a") as f:
        f.write(f"{pid} {st} {what}\n")


def spawn(argv, what=None, **kw):
    """subprocess.Popen that records the child in the runner's pid log."""
    p = subprocess.Popen(argv, **kw)
    record(p.pid, what or os.path.basename(argv[0]))
    return p


def alive(pid, starttime):
    return proc_starttime(pid) == starttime


def is_zombie(pid):
    rest = stat_fields(pid)
    return rest is None or rest[0] in ("Z", "X")


def kill_recorded(path, sig=signal.SIGKILL):
    """Kill every process in the pid log that is still the same process, then empty the log.
    Returns what was killed."""
    killed = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return killed
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) < 3:
            continue
        pid, st, what = int(parts[0]), int(parts[1]), parts[2]
        if alive(pid, st) and not is_zombie(pid):
            try:
                os.kill(pid, sig)
                killed.append(f"{what} (pid {pid})")
            except ProcessLookupError:
                pass
    with open(path, "w"):
        pass
    return killed


def stop(p, sig=signal.SIGTERM, timeout=3.0):
    """Stop a Popen: signal, wait, then SIGKILL. Never raises."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            p.kill()
            p.wait(timeout=timeout)
        except Exception:
            pass
    except Exception:
        pass


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until it returns a truthy value or timeout passes; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
