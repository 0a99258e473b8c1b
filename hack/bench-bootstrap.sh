#!/usr/bin/env bash
# Benchmark of `kubectl kbs init` on the demo's four local nodes: from
# booted nodes to every node Ready, with each phase's wall time and kbs's own
# overhead — the run's total minus the wall time spent inside kubeadm
# (init --dry-run, init, join), etcd coming up and `ctr images import`, which
# kbs only drives. Both numbers come from the same run (--timings), so the
# ratio holds on a noisy shared machine. Goals: total ≤ 90 s, overhead ≤ 10 %.
#
#   hack/bench-bootstrap.sh [RUNS]      (default 1; needs make test-env)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-1}
cd "$ROOT"
make -s build
hack/build-bundle.sh >/dev/null 2>&1
for i in $(seq "$RUNS"); do
  dir=$(mktemp -d /tmp/kbs-bench-bootstrap.XXXX)
  trap 'go run ./test/demo down "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
  go run ./test/demo up "$dir" 2>/dev/null
  echo "== run $i: kubectl kbs init (booted nodes → all Ready)"
  _output/kubectl-kbs init -f "$dir/cluster.yaml" --known-hosts "$dir/known_hosts" --state-dir "$dir/state" \
    --kubeconfig "$dir/kubeconfig" --timings 2>&1 | sed -n '/^PHASE/,$p'
  go run ./test/demo down "$dir" >/dev/null 2>&1
  rm -rf "$dir"
  trap - EXIT
done
