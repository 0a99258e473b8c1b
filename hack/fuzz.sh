#!/usr/bin/env bash
# Runs every fuzz target of the parsers that read what someone else wrote
# (the spec decoder, the kubeconfig editor, a diag bundle from elsewhere,
# the redactor and its fast paths, zstd frames, shell quoting). The seed
# corpus is each target's f.Add calls and its committed corpus under the
# package's testdata/fuzz/<target>/ (the inputs earlier runs found new paths
# with, copied from $(go env GOCACHE)/fuzz/; every plain go test replays
# them); a failing input is written there too and kept as a case.
#
# Budgets are counts of executions, not seconds: with -fuzztime 10s, Go
# 1.26's fuzz coordinator sometimes fails a target with "context deadline
# exceeded" and no failing input when the time is up while a worker is busy
# (golang/go#75804, fixed in Go 1.27). Each count is about 10 s here.
#
#   hack/fuzz.sh [SCALE]   # SCALE multiplies every budget (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
targets=(
  "./pkg/cluster FuzzDecode 200000"
  "./pkg/kubeconfig FuzzEditDoc 60000"
  "./pkg/diag FuzzAnalyzeHostileBundle 8000"
  "./pkg/diag FuzzRedact 50000"
  "./pkg/diag FuzzRedactFastPathMatchesLineByLine 60000"
  "./pkg/diag FuzzNeedle 35000"
  "./pkg/diag FuzzZstdFrames 30000"
  "./pkg/shell FuzzQuote 20000"
)
start=$SECONDS
for t in "${targets[@]}"; do
  read -r pkg name count <<<"$t"
  n=$((count * scale))
  printf '[fuzz] %s %s: %d executions\n' "$pkg" "$name" "$n" >&2
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "${n}x" "$pkg"
done
printf '[fuzz] %d targets in %ds\n' "${#targets[@]}" $((SECONDS - start)) >&2
