#!/usr/bin/env bash
# House rules a grep can check. Each rule says why it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
rule() { # rule "why" pattern pathspec...
  local why=$1 pattern=$2; shift 2
  local hits
  hits=$(git grep -n -E "$pattern" -- "$@" 2>/dev/null || true)
  if [[ -n $hits ]]; then
    printf '%s\n%s\n\n' "$why" "$hits" >&2
    fail=1
  fi
}

rule "Host keys must be verified against known_hosts; InsecureIgnoreHostKey only in tests:" \
  'InsecureIgnoreHostKey' '*.go' ':!*_test.go' ':!test/**'
rule "Output goes through the injected IOStreams, never os.Stdout/os.Stderr below main:" \
  'os\.(Stdout|Stderr)' 'pkg/**.go' ':!*_test.go'
rule "Only pkg/cmd imports cobra:" \
  '"github.com/spf13/cobra"' 'pkg/**.go' ':!pkg/cmd/**'
rule "Commands return errors; kubectl's CheckErr calls os.Exit inside a command:" \
  'cmdutil\.CheckErr' '*.go'
rule "Bootstrap joins always pin the CA hash:" \
  'unsafeSkipCAVerification|discovery-token-unsafe-skip-ca-verification' '*.go' ':!*_test.go'
# internal/hostile is the tests' reader of shell quoting: it spells quotes.
rule "Every value that reaches a shell is quoted by one helper, pkg/shell's Quote:" \
  "'\\\\''" '*.go' ':!pkg/shell/**' ':!internal/hostile/**' ':!*_test.go'

# Arrows point one way: a capability never imports another (they share the
# building blocks: host, state, workflow, etcdhost, remote, pki, ...).
caps=(bootstrap upgrade users inspect diag etcd fleet)
for c in "${caps[@]}"; do
  [[ -d pkg/$c ]] || continue
  imports=$(go list -f '{{join .Imports "\n"}}' "./pkg/$c")
  for d in "${caps[@]}"; do
    if [[ $c != "$d" ]] && grep -qx "github.com/kubectl-kbs/kbs/pkg/$d" <<<"$imports"; then
      printf 'A capability never imports another: pkg/%s imports pkg/%s\n\n' "$c" "$d" >&2
      fail=1
    fi
  done
done

exit $fail
