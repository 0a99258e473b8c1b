#!/usr/bin/env bash
# kbs etcd snapshot save (streamed over mutual TLS to this machine) against
# etcdctl snapshot save run on the etcd host itself, same 256 MiB of data,
# same run (root; needs the test environment: make test-env). Prints the
# throughput ratio (goal >= 0.9x).
#
#   hack/bench-etcd.sh [COUNT]   (snapshots per side, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
out=$(go test -tags integration -run '^$' -bench '^BenchmarkSnapshot$' -benchtime "${count}x" -count 1 -timeout 20m ./test/bench/)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
  /^BenchmarkSnapshot\// { split($1, p, "/"); key = p[2]; sub(/-[0-9]+$/, "", key); for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") mbps[key] = $i }
  END { printf "snapshot: kbs %.0f MB/s, etcdctl on the node %.0f MB/s, ratio %.2fx (goal >= 0.9x)\n", mbps["kbs"], mbps["etcdctl-on-node"], mbps["kbs"] / mbps["etcdctl-on-node"] }'
