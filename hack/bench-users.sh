#!/usr/bin/env bash
# `kubectl kbs user create` against the notes' manual flow (openssl + kubectl),
# on the same real control plane in one run. Goal: kbs <= 1 s and <= 0.5x manual.
#
#   hack/bench-users.sh [COUNT]   (iterations per side, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10}
out=$(go test -tags integration -run '^$' -bench 'BenchmarkUserCreate' -benchtime "${count}x" -count 1 -timeout 30m ./test/bench/)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  /^BenchmarkUserCreate\/kbs/ { kbs = $3 }
  /^BenchmarkUserCreate\/manual/ { manual = $3 }
  END { printf "user create: kbs %.0f ms, manual flow %.0f ms, ratio %.2fx (goal <= 1 s and <= 0.5x)\n", kbs / 1e6, manual / 1e6, kbs / manual }'
