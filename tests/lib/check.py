# SPDX-License-Identifier: GPL-2.0
# Assertions that name what they check, skips that say why, and per-test options (timeout).
import json


class SkipTest(Exception):
    """Raised by a test (or a helper) when the test cannot run here; the message says why."""


def skip(reason):
    raise SkipTest(reason)


def timeout(seconds):
    """Decorator: per-test timeout in seconds (the runner's default is 60)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def _plain(v):
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else " ".join(map(str, k)) if isinstance(k, tuple)
                 else str(k)): _plain(x) for k, x in v.items() if not str(k).startswith("_")}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def fmt(v):
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(_plain(v), sort_keys=True)
    return repr(v)


def assert_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {fmt(expected)}, got {fmt(actual)}")


def assert_true(cond, what, detail=""):
    if not cond:
        raise AssertionError(f"{what}" + (f": {detail}" if detail else ""))


def assert_close(actual, expected, what, tol=1e-6):
    if not isinstance(actual, (int, float)) or isinstance(actual, bool) or abs(actual - expected) > tol:
        raise AssertionError(f"{what}: expected {fmt(expected)} (±{tol}), got {fmt(actual)}")


def assert_in(member, container, what):
    if member not in container:
        raise AssertionError(f"{what}: {fmt(member)} not in {fmt(container)}")
