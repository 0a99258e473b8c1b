package state

import (
	"os"
	"path/filepath"
	"strings"
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

func TestSecretIsKeptPrivateAndStable(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Secret("vrrp-password", 8)
	if err != nil || len(a) != 8 {
		t.Fatalf("secret %q: %v", a, err)
	}
	if fi, err := os.Stat(s.Path("vrrp-password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi.Mode(), err)
	}
	if b, _ := s.Secret("vrrp-password", 8); b != a {
		t.Fatalf("second read %q, first %q", b, a)
	}
	if err := os.WriteFile(s.Path("vrrp-password"), []byte("x; rm -rf /\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret("vrrp-password", 8); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("a tampered secret was used: %v", err)
	}
}
