#!/usr/bin/env bash
# HA control planes on local nodes, in one run (root; needs make test-env):
# kubectl kbs init of the single-control-plane shape and of the HA shape
# (three etcd, two control planes behind a kbs-managed VIP, one worker),
# booted nodes to all Ready, with their phases and the ratio (goal: HA ≤ 1.6×
# single); then failover: seconds from powering off the control plane that
# holds the VIP until the API answers through the endpoint (goal ≤ 10 s).
#
#   hack/bench-ha.sh [FAILOVERS] [RUNS]   (failover trials, default 3; inits of
#                                         each shape, alternated, default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build-bundle.sh >/dev/null 2>&1
go run ./test/benchha -failovers "${1:-3}" -runs "${2:-1}"
