package state

import (
	"os"
	"path/filepath"
	"testing"
)

// A dry run makes up the CAs it lacks, writes none, and names the same one
// every time it is asked in the run: one plan, one CA, one join hash.
func TestDryRunPlansOneCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	first, created, err := s.KubernetesCA()
	if err != nil || !created {
		t.Fatalf("first: %v, created %v", err, created)
	}
	again, _, err := s.KubernetesCA()
	if err != nil || !again.Cert.Equal(first.Cert) {
		t.Fatalf("a second look at the planned CA gave another one (%v)", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a dry run created %s", dir)
	}
}
