#!/usr/bin/env bash
# kubectl kbs diag against `ssh host cat` on a real node, in one run (root;
# needs make test-env): one node with a 1 GiB kubelet log, of one repeated
# line and of lines that vary as real ones do (goal: peak RSS <= 64 MiB,
# throughput >= 0.8x ssh cat), and 100 SSH endpoints with a 20 MiB
# log each (goal: <= 60 s, peak RSS <= 128 MiB), and 20 nodes of which 5
# are down against the 15 live alone. Redaction alone:
# go test -run '^$' -bench Redact -cpu 1 ./pkg/diag (goal >= 500 MB/s).
#
#   hack/bench-diag.sh [COUNT]   (iterations per benchmark, default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1}
out=$(go test -tags integration -run '^$' -bench Diag -benchtime "${count}x" -count 1 -timeout 30m ./test/bench/)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  function val(unit,   i) { for (i = 1; i <= NF; i++) if ($(i+1) == unit) return $i }
  /^BenchmarkDiagLargeLog\/[a-z]+\/kbs/ { split($1, p, "/"); kbs[p[2]] = val("MB/s"); rss[p[2]] = val("peak-RSS-MiB") }
  /^BenchmarkDiagLargeLog\/[a-z]+\/ssh-cat/ { split($1, p, "/"); cat[p[2]] = val("MB/s") }
  /^BenchmarkDiagCluster-|^BenchmarkDiagCluster / { ns = $3; crss = val("peak-RSS-MiB") }
  /^BenchmarkDiagClusterSomeDown/ { l15 = val("live15-s"); d20 = val("20with5down-s") }
  END {
    for (k in kbs)
      printf "1 GiB log (%s lines): kbs %.0f MB/s, ssh cat %.0f MB/s, ratio %.2fx (goal >= 0.8x); peak RSS %.0f MiB (goal <= 64)\n", k, kbs[k], cat[k], kbs[k] / cat[k], rss[k]
    printf "100 nodes x 20 MiB: %.1f s (goal <= 60 s); peak RSS %.0f MiB (goal <= 128)\n", ns / 1e9, crss
    printf "20 nodes, 5 down: %.1f s; the 15 live alone: %.1f s (the dead cost one dial timeout, in parallel)\n", d20, l15
  }'
go test -run '^$' -bench Redact -cpu 1 ./pkg/diag | grep -E '^Benchmark'
