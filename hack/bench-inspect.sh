#!/usr/bin/env bash
# `kubectl kbs inspect static-pods -o yaml` against `kubectl get pods -n
# kube-system -l tier=control-plane -o yaml`, both as processes, on an API
# server holding 5,000 pods in 200 namespaces. Goal: <= 1.5x.
#
#   hack/bench-inspect.sh [COUNT]   (iterations per side, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20}
out=$(go test -tags integration -run '^$' -bench 'BenchmarkInspect' -benchtime "${count}x" -count 1 -timeout 30m ./test/bench/)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  /^BenchmarkInspect\/kbs-summary/ { summary = $3; next }
  /^BenchmarkInspect\/kbs/ { kbs = $3 }
  /^BenchmarkInspect\/kubectl/ { kubectl = $3 }
  END {
    printf "inspect static-pods: kbs %.0f ms, kubectl get %.0f ms, ratio %.2fx (goal <= 1.5x)\n", kbs / 1e6, kubectl / 1e6, kbs / kubectl
    printf "inspect (summary of every view): %.0f ms, ratio %.2fx\n", summary / 1e6, summary / kubectl
  }'
