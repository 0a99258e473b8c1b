#!/usr/bin/env bash
# Calico against flannel on local nodes, in one run (root; needs make
# test-env): kubectl kbs init of the notes' k8s shape (flannel) and hk8s
# shape (calico), booted nodes to all Ready, with their phases and the ratio
# (goal: calico ≤ 1.3× flannel); then kubectl kbs clusters over six clusters
# of which two do not answer, against --timeout (goal: one timeout, not two).
#
#   hack/bench-calico.sh [RUNS] [TIMEOUT]   (inits of each shape, alternated,
#                                           default 1; clusters --timeout, default 5s)
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build-bundle.sh >/dev/null 2>&1
go run ./test/benchcalico -runs "${1:-1}" -timeout "${2:-5s}"
