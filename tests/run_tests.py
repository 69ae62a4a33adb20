#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# connpressure test runner: unit binaries (TAP-like "ok - name" lines) and system tests
# (tests/system/test_*.py, each test function in its own process with a timeout). Ends with the line
# "N passed, N failed[, N skipped]"; exit code 0 only if nothing failed.
#
#   python3 tests/run_tests.py --build .output --unit-dir .output/unit [--only unit|system]
#                              [-k SUBSTRING] [-v] [--timeout SECONDS]
import argparse
import importlib.util
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS_DIR)
sys.path.insert(0, TESTS_DIR)

from lib import netns as netns_lib  # noqa: E402
from lib import procs  # noqa: E402
from lib.check import SkipTest  # noqa: E402

DEFAULT_TIMEOUT = 60
UNIT_TIMEOUT = 60
TAP_RE = re.compile(r"^(not ok|ok)\b\s*\d*\s*-?\s*(.*)$")


class Results:
    def __init__(self, verbose):
        self.passed = self.failed = self.skipped = 0
        self.verbose = verbose

    def report(self, status, name, reason="", secs=None, output=""):
        if status == "pass":
            self.passed += 1
            print(f"PASS {name}" + (f" ({secs:.1f}s)" if secs is not None else ""))
        elif status == "skip":
            self.skipped += 1
            print(f"SKIP {name}: {reason}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {reason}")
        show = output.rstrip("\n").splitlines()
        if show and (self.verbose or status == "fail"):
            if not self.verbose:
                show = show[-15:]
            for line in show:
                print(f"    | {line}")
        sys.stdout.flush()

    def summary(self):
        s = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            s += f", {self.skipped} skipped"
        return s


# --- unit tests

def run_unit(unit_dir, k, res):
    if not os.path.isdir(unit_dir):
        res.report("skip", "unit", f"no unit test directory {unit_dir} (run make test)")
        return
    for name in sorted(os.listdir(unit_dir)):
        path = os.path.join(unit_dir, name)
        if not os.path.isfile(path) or not os.access(path, os.X_OK) or "." in name:
            continue
        t0 = time.monotonic()
        try:
            p = subprocess.run([path], capture_output=True, text=True, timeout=UNIT_TIMEOUT,
                               cwd=REPO)
            out, rc = p.stdout, p.returncode
            err = p.stderr
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            rc, err = None, f"timeout after {UNIT_TIMEOUT}s"
        secs = time.monotonic() - t0
        counted = failed_lines = 0
        for line in out.splitlines():
            m = TAP_RE.match(line.strip())
            if not m:
                continue
            tname = f"unit/{name}: {m.group(2).strip()}"
            if k and k not in tname:
                continue
            counted += 1
            if m.group(1) == "ok":
                res.report("pass", tname)
            else:
                failed_lines += 1
                res.report("fail", tname, "not ok", output=err if res.verbose else "")
        whole = f"unit/{name}"
        if k and k not in whole and counted == 0:
            continue
        if rc is None:
            res.report("fail", whole, err, output=out + err)
        elif rc < 0:
            res.report("fail", whole, f"crashed with signal {-rc} "
                       f"({signal.Signals(-rc).name if -rc in signal.valid_signals() else '?'})",
                       output=out + err)
        elif rc != 0 and failed_lines == 0:
            res.report("fail", whole, f"exit code {rc} without a 'not ok' line", output=out + err)
        elif counted == 0:
            res.report("fail", whole, "printed no 'ok - name' line", output=out + err)
        elif res.verbose:
            print(f"     ({whole}: {counted} tests, {secs:.1f}s)")


# --- system tests

def discover(k):
    """[(name, path, func_name, timeout)] or [(name, path, None, error)] for modules that fail to
    import."""
    found = []
    sysdir = os.path.join(TESTS_DIR, "system")
    for fn in sorted(os.listdir(sysdir)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        path = os.path.join(sysdir, fn)
        mod_name = fn[:-3]
        try:
            mod = load_module(path)
        except Exception as e:
            found.append((mod_name, path, None, f"import failed: {type(e).__name__}: {e}"))
            continue
        for attr, obj in vars(mod).items():
            if attr.startswith("test_") and inspect.isfunction(obj) and obj.__module__ == mod.__name__:
                name = f"{mod_name}.{attr}"
                if k and k not in name:
                    continue
                found.append((name, path, attr, getattr(obj, "timeout", None)))
    return found


def load_module(path):
    mod_name = "system." + os.path.basename(path)[:-3]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    spec.loader.exec_module(mod)
    return mod


def cleanup_after(child_pid, pidlog):
    """Kill what a test process left behind and delete its namespaces."""
    notes = []
    killed = procs.kill_recorded(pidlog)
    if killed:
        notes.append("killed leftover " + ", ".join(killed))
    for name in netns_lib.list_names():
        if netns_lib.owner_pid(name) == child_pid:
            netns_lib.delete(name)
            notes.append(f"deleted leftover netns {name}")
    return notes


def run_system_test(name, path, func, timeout, args, pidlog, child_pids):
    fd, resfile = tempfile.mkstemp(prefix="cpt-result-")
    os.close(fd)
    outf = tempfile.TemporaryFile(mode="w+")
    env = dict(os.environ, **{procs.PIDLOG_ENV: pidlog, "PYTHONDONTWRITEBYTECODE": "1"})
    argv = [sys.executable, os.path.abspath(__file__), "--child", path, func, "--result", resfile,
            "--build", args.build]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=outf, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                         start_new_session=True)
    child_pids.add(p.pid)
    status, reason = None, ""
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        status, reason = "fail", f"timeout after {timeout}s"
    except KeyboardInterrupt:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        cleanup_after(p.pid, pidlog)
        raise
    finally:
        if p.poll() is None or status:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    secs = time.monotonic() - t0
    notes = cleanup_after(p.pid, pidlog)
    if status is None:
        try:
            with open(resfile) as f:
                r = json.load(f)
            status, reason = r["status"], r.get("reason", "")
        except (OSError, ValueError, KeyError):
            status, reason = "fail", f"test process died (exit code {p.returncode}) without a result"
    os.unlink(resfile)
    outf.seek(0)
    output = outf.read()
    outf.close()
    if notes:
        output += "".join(f"runner: {n}\n" for n in notes)
    return status, reason, secs, output


def run_system(args, res, pidlog, child_pids):
    tests = discover(args.k)
    binary = os.path.join(args.build, "connpressure")
    for name, path, func, extra in tests:
        if func is None:
            res.report("fail", name, extra)
            continue
        if os.geteuid() != 0:
            res.report("skip", name, "system tests need root (BPF, namespaces)")
            continue
        if not os.access(binary, os.X_OK):
            res.report("fail", name, f"binary {binary} not found — run make")
            continue
        status, reason, secs, output = run_system_test(name, path, func, extra or args.timeout,
                                                        args, pidlog, child_pids)
        res.report(status, name, reason, secs, output)


def final_cleanup(pidlog, child_pids):
    procs.kill_recorded(pidlog)
    for name in netns_lib.list_names():
        owner = netns_lib.owner_pid(name)
        if owner is None:
            continue
        if owner in child_pids or owner == os.getpid() or procs.proc_starttime(owner) is None:
            netns_lib.delete(name)


# --- child: run one test function

def child_main(args):
    from lib.fixture import Context
    result = {"status": "fail", "reason": "did not finish"}
    ctx = None
    try:
        mod = load_module(args.child[0])
        fn = getattr(mod, args.child[1])
        binary = os.path.abspath(os.path.join(args.build, "connpressure"))
        ctx = Context(binary, REPO)
        if inspect.signature(fn).parameters:
            fn(ctx)
        else:
            fn()
        result = {"status": "pass"}
    except SkipTest as e:
        result = {"status": "skip", "reason": str(e)}
    except AssertionError as e:
        result = {"status": "fail", "reason": str(e) or "assertion failed"}
        traceback.print_exc()
    except Exception as e:
        result = {"status": "fail", "reason": f"{type(e).__name__}: {e}"}
        traceback.print_exc()
    finally:
        if ctx is not None:
            errs = ctx.cleanup()
            if errs and result["status"] == "pass":
                result = {"status": "fail", "reason": "cleanup: " + "; ".join(errs)}
        with open(args.result, "w") as f:
            json.dump(result, f)
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


def main():
    ap = argparse.ArgumentParser(description="connpressure test runner")
    ap.add_argument("--build", default=".output", help="build directory holding connpressure")
    ap.add_argument("--unit-dir", default=None, help="directory of unit test executables")
    ap.add_argument("--only", choices=["unit", "system"])
    ap.add_argument("-k", default=None, help="run only tests whose name contains SUBSTRING")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per system test")
    ap.add_argument("--child", nargs=2, metavar=("FILE", "FUNC"), help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(args)

    os.chdir(REPO)
    if args.unit_dir is None:
        args.unit_dir = os.path.join(args.build, "unit")
    res = Results(args.verbose)
    fd, pidlog = tempfile.mkstemp(prefix="cpt-pids-")
    os.close(fd)
    child_pids = set()
    try:
        if args.only != "system":
            run_unit(args.unit_dir, args.k, res)
        if args.only != "unit":
            run_system(args, res, pidlog, child_pids)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        res.failed += 1
    finally:
        final_cleanup(pidlog, child_pids)
        os.unlink(pidlog)
    print(res.summary())
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
