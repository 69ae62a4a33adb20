# SPDX-License-Identifier: GPL-2.0
# Bad input and missing privileges: exactly one line on stderr naming the problem, non-zero exit,
# nothing left loaded. -h and -V succeed.
import os
import shutil
import stat
import tempfile

from lib import bpfstate
from lib.check import assert_eq, assert_true
from lib.tool import run_once

# (test name, arguments, words of which the error line must contain at least one)
BAD_INPUT = [
    ("unknown_flag", ["--once", "--bogus-flag"], ["--bogus-flag", "bogus"]),
    ("interval_zero", ["--once", "-i", "0"], ["-i", "interval"]),
    ("interval_not_a_number", ["--once", "-i", "abc"], ["abc"]),
    ("interval_negative", ["--once", "-i", "-1"], ["-i", "interval", "-1"]),
    ("output_xml", ["--once", "-o", "xml"], ["xml"]),
    ("max_tw_zero", ["--once", "--max-tw", "0"], ["max-tw"]),
    ("max_dests_not_a_number", ["--once", "--max-dests", "many"], ["max-dests", "many"]),
    ("sock_slots_not_a_power_of_two", ["--once", "--sock-slots", "1000"], ["power of two"]),
    ("missing_value", ["--once", "-i"], ["-i", "interval", "argument"]),
    ("netns_unknown_name", ["--once", "-n", "cpt-no-such-netns"], ["cpt-no-such-netns"]),
    ("netns_missing_path", ["--once", "-n", "/nonexistent/netns"], ["/nonexistent/netns"]),
    ("netns_missing_pid", ["--once", "-n", "4194303"], ["4194303"]),
    ("btf_missing", ["--once", "--btf", "/nonexistent"], ["btf"]),
]


def check_error(p, words, what):
    lines = p.stderr.splitlines()
    assert_true(p.returncode not in (0, None), f"{what}: non-zero exit code",
                f"got {p.returncode}; stdout {p.stdout[:200]!r}")
    assert_true(p.returncode > 0, f"{what}: exits with an error code, not a signal",
                f"got {p.returncode}")
    assert_eq(len(lines), 1, f"{what}: number of stderr lines (stderr was {p.stderr[:400]!r})")
    line = lines[0].lower()
    assert_true(any(w.lower() in line for w in words),
                f"{what}: stderr line names the problem (one of {words})", repr(lines[0]))
    assert_true('"schema"' not in p.stdout, f"{what}: no JSON document on stdout", p.stdout[:200])


def make_bad_input_test(args, words):
    def test(ctx):
        before = bpfstate.snapshot()
        p = run_once(ctx.binary, args, timeout=20)
        check_error(p, words, "connpressure " + " ".join(args))
        assert_eq(bpfstate.leftovers(before), [], "programs/links left after the error exit")
    return test


for _name, _args, _words in BAD_INPUT:
    _fn = make_bad_input_test(_args, _words)
    _fn.__name__ = _fn.__qualname__ = f"test_bad_input_{_name}"
    globals()[_fn.__name__] = _fn


def reachable_binary(ctx):
    """The binary as uid 65534 can execute it (copied to a 0755 temp dir if the path is closed)."""
    path = ctx.binary
    d, ok = path, True
    while d != "/":
        d = os.path.dirname(d)
        if not os.stat(d).st_mode & stat.S_IXOTH:
            ok = False
    if ok and os.stat(path).st_mode & stat.S_IXOTH:
        return path
    tmp = tempfile.mkdtemp(prefix="cpt-bin-")
    os.chmod(tmp, 0o755)
    ctx.defer(shutil.rmtree, tmp, True)
    dst = os.path.join(tmp, "connpressure")
    shutil.copy(path, dst)
    os.chmod(dst, 0o755)
    return dst


def test_unprivileged_user_refused(ctx):
    before = bpfstate.snapshot()
    binary = reachable_binary(ctx)
    p = run_once(binary, ["--once", "-o", "json"], timeout=20, user="nobody")
    assert_true("setpriv" not in p.stderr, "setpriv ran the binary (precondition)", p.stderr)
    check_error(p, ["CAP_SYS_ADMIN", "privilege", "permission", "root", "capabilit"],
                "connpressure as uid 65534 without capabilities")
    assert_eq(bpfstate.leftovers(before), [], "programs/links left after the error exit")


def test_root_without_sys_ptrace_refused(ctx):
    """Root but without CAP_SYS_PTRACE (needed to read other processes' /proc/PID/ns/net)."""
    before = bpfstate.snapshot()
    p = run_once("setpriv", ["--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", "--",
                             ctx.binary, "--once", "-o", "json"], timeout=20)
    check_error(p, ["CAP_SYS_PTRACE", "ptrace"], "connpressure as root without CAP_SYS_PTRACE")
    assert_eq(bpfstate.leftovers(before), [], "programs/links left after the error exit")


def test_help_and_version(ctx):
    p = run_once(ctx.binary, ["-h"], timeout=10)
    assert_eq(p.returncode, 0, "-h exit code")
    assert_true("--once" in p.stdout, "-h prints usage (mentioning --once) on stdout", p.stdout[:300])
    p = run_once(ctx.binary, ["-V"], timeout=10)
    assert_eq(p.returncode, 0, "-V exit code")
    assert_true(p.stdout.strip() != "", "-V prints a version on stdout")


def test_kernel_without_the_tracepoint_refused(ctx):
    """A kernel whose BTF lacks sock:inet_sock_set_state (here: a minimal BTF made by bpftool with
    only the types the BPF object relocates against, so no btf_trace_* typedefs): one line naming
    the missing tracepoint, non-zero exit, nothing loaded."""
    import subprocess
    obj = os.path.join(os.path.dirname(ctx.binary), "connpressure.bpf.o")
    tmp = tempfile.mkdtemp(prefix="cpt-btf-")
    ctx.defer(shutil.rmtree, tmp, True)
    btf = os.path.join(tmp, "min.btf")
    subprocess.run(["bpftool", "gen", "min_core_btf", "/sys/kernel/btf/vmlinux", btf, obj],
                   check=True, capture_output=True, timeout=60)
    before = bpfstate.snapshot()
    p = run_once(ctx.binary, ["--once", "--btf", btf], timeout=20)
    check_error(p, ["inet_sock_set_state"], "connpressure --btf <BTF without the tracepoint>")
    assert_eq(bpfstate.leftovers(before), [], "programs/links left after the error exit")
