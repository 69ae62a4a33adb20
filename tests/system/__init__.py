# SPDX-License-Identifier: GPL-2.0
# System tests: real kernel, real sockets, one network namespace per test. Run via tests/run_tests.py.
