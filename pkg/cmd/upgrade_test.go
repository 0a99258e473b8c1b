package cmd

import (
	"strings"
	"testing"
)

// Bad input to upgrade plan and apply stops before any connection: the spec has no
// reachable hosts (10.10.0.0/24 is not routed here), so an answer that
// needed one would time out instead of naming the flag.
func TestUpgradePlanFlagsCheckedFirst(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"upgrade", "plan"}, "a cluster spec is required"},
		{[]string{"upgrade", "plan", "-f", "../../examples/k8s.yaml", "-o", "wide"}, "unknown --output"},
		{[]string{"upgrade", "plan", "-f", "../../examples/k8s.yaml", "--window", "-1h"}, "--window must not be negative"},
		{[]string{"upgrade", "plan", "-f", "../../examples/k8s.yaml", "--parallel", "0"}, "--parallel must be at least 1"},
		{[]string{"upgrade", "plan", "-f", "../../examples/k8s.yaml"}, "no admin credentials for cluster k8s in " + state},
		{[]string{"upgrade", "apply"}, "a cluster spec is required"},
		{[]string{"upgrade", "apply", "-f", "../../examples/k8s.yaml", "--max-unavailable", "0"}, "--max-unavailable must be at least 1"},
		{[]string{"upgrade", "apply", "-f", "../../examples/k8s.yaml", "--drain-timeout", "0s"}, "--drain-timeout and --node-timeout must be positive"},
		{[]string{"upgrade", "apply", "-f", "../../examples/k8s.yaml", "--dry-run"}, "no admin credentials for cluster k8s in " + state},
	} {
		args := append(tc.args, "--state-dir", state)
		if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
