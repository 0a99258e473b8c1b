#!/usr/bin/env bash
# Runs every fuzz target of the parsers that read what someone else wrote
# (the spec decoder, the kubeconfig editor, a diag bundle from elsewhere,
# the redactor and its fast paths, zstd frames, shell quoting) for a bounded
# time each. The seed corpus is in each target's f.Add calls; a failing
# input is written under the package's testdata/fuzz/ and kept as a case.
#
#   hack/fuzz.sh [SECONDS]   # default 10 per target
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
targets=(
  "./pkg/cluster FuzzDecode"
  "./pkg/kubeconfig FuzzEditDoc"
  "./pkg/diag FuzzAnalyzeHostileBundle"
  "./pkg/diag FuzzRedact"
  "./pkg/diag FuzzRedactFastPathMatchesLineByLine"
  "./pkg/diag FuzzNeedle"
  "./pkg/diag FuzzZstdFrames"
  "./pkg/shell FuzzQuote"
)
start=$SECONDS
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  printf '[fuzz] %s %s for %ss\n' "$pkg" "$name" "$secs" >&2
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "$pkg"
done
printf '[fuzz] %d targets, %ds each, in %ds\n' "${#targets[@]}" "$secs" $((SECONDS - start)) >&2
