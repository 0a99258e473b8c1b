#!/usr/bin/env bash
# kubectl kbs upgrade apply on local nodes, in one run (root; needs make
# test-env): the notes' k8s shape at the previous release (v1.36.3, etcd
# v3.6.16) upgraded to v1.37.2 and etcd v3.7.3 while a two-replica
# Deployment with a PodDisruptionBudget is probed every 200 ms. Prints each
# phase's wall time, the time inside kubeadm, drains, restarts and image
# imports, kbs's own share of the total (goal ≤ 15 %) and the prober's
# failed requests (goal ≤ 1 %).
#
#   hack/bench-upgrade.sh
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./test/benchupgrade
