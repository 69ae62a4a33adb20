# SPDX-License-Identifier: GPL-2.0
# Helpers for connpressure's system tests: namespaces, workloads, the tool runner, ss ground truth.
