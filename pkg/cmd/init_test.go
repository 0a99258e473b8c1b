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
