#!/usr/bin/env bash
# Plugin start-up cost: `kubectl-kbs version` against `kubectl version
# --client` (the test binary, v1.37.2), interleaved in one run so machine
# noise hits both alike. Prints medians and the ratio; the goal is <= 1.0x.
#
#   hack/bench-startup.sh [RUNS]     (default 200)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-200}
KBS=$ROOT/_output/kubectl-kbs
KUBECTL=$ROOT/_output/bin/kubectl
[[ -x $KUBECTL ]] || "$ROOT/hack/build-test-binaries.sh" kubernetes
make -s -C "$ROOT" build

ns() { date +%s%N; }
time_one() { # prints nanoseconds one run of "$@" took
  local t0 t1
  t0=$(ns); "$@" >/dev/null 2>&1; t1=$(ns)
  echo $((t1 - t0))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kbs_t=$(mktemp) kubectl_t=$(mktemp)
trap 'rm -f "$kbs_t" "$kubectl_t"' EXIT
# Warm the page cache for both binaries first.
for _ in 1 2 3; do "$KBS" version >/dev/null; "$KUBECTL" version --client >/dev/null; done
for ((i = 0; i < RUNS; i++)); do
  time_one "$KBS" version >>"$kbs_t"
  time_one "$KUBECTL" version --client >>"$kubectl_t"
done
kbs_ms=$(median <"$kbs_t" | awk '{printf "%.2f", $1/1e6}')
kubectl_ms=$(median <"$kubectl_t" | awk '{printf "%.2f", $1/1e6}')
ratio=$(awk -v a="$kbs_ms" -v b="$kubectl_ms" 'BEGIN {printf "%.2f", a/b}')
printf 'runs=%d  kubectl-kbs version: %s ms  kubectl version --client: %s ms  ratio: %sx (goal <= 1.0x)\n' \
  "$RUNS" "$kbs_ms" "$kubectl_ms" "$ratio"
