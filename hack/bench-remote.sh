#!/usr/bin/env bash
# pkg/remote against OpenSSH on a real node, in one run (root; needs the test
# environment: make test-env). Prints throughput ratios (goal >= 0.8x OpenSSH)
# and the fan-out speedup of parallelism 10 over 1 on 50 SSH endpoints.
#
#   hack/bench-remote.sh [COUNT]   (iterations per benchmark, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
out=$(go test -tags integration -run '^$' -bench . -benchtime "${count}x" -count 1 -timeout 30m ./test/bench/)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  /^BenchmarkCopy\// { split($1, p, "/"); key = p[2] "/" p[3]; sub(/-[0-9]+$/, "", key); for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") mbps[key] = $i }
  /^BenchmarkFanOut\// { split($1, p, "/"); key = p[2]; sub(/-[0-9]+$/, "", key); ns[key] = $3 }
  END {
    printf "upload:   kbs %.0f MB/s, openssh %.0f MB/s, ratio %.2fx (goal >= 0.8x)\n", mbps["upload/kbs"], mbps["upload/openssh"], mbps["upload/kbs"] / mbps["upload/openssh"]
    printf "download: kbs %.0f MB/s, openssh %.0f MB/s, ratio %.2fx (goal >= 0.8x)\n", mbps["download/kbs"], mbps["download/openssh"], mbps["download/kbs"] / mbps["download/openssh"]
    printf "fan-out over 50 hosts: parallel 1 %.0f ms, parallel 10 %.0f ms, speedup %.1fx\n", ns["parallel-1"] / 1e6, ns["parallel-10"] / 1e6, ns["parallel-1"] / ns["parallel-10"]
  }'
