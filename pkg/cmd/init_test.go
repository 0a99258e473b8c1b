package cmd

import (
	"strings"
	"testing"
)

// A spec init cannot finish is refused before any host is contacted.
func TestInitRefusesUnembeddedCNIUpFront(t *testing.T) {
	state := t.TempDir()
	_, _, err := run(t, "init", "-f", "../../examples/hk8s.yaml", "--state-dir", state, "--dry-run")
	if err == nil || !strings.Contains(err.Error(), "--skip-phases cni") {
		t.Fatalf("calico: %v", err)
	}
	if out, _, err := run(t, "init", "-f", "../../examples/hk8s.yaml", "--state-dir", state, "--dry-run", "--skip-phases", "cni"); err != nil {
		t.Fatalf("calico with cni skipped: %v\n%s", err, out)
	}
}

// Bad flags of the etcd verbs stop before any connection.
func TestEtcdFlagsCheckedFirst(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"etcd", "snapshot", "save", "--keep", "2", "--output", state + "/x.db"}, "--keep needs --output to be an existing directory"},
		{[]string{"etcd", "snapshot", "save", "--keep", "-1"}, "--keep must be 0"},
		{[]string{"etcd", "restore"}, "--from is required"},
		{[]string{"etcd", "status", "-o", "wide"}, "unknown --output"},
		{[]string{"etcd", "certs", "check", "--warn-within", "soon"}, "soon"},
	} {
		args := append(tc.args, "-f", "../../examples/k8s.yaml", "--state-dir", state)
		if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
