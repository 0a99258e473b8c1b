package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// With --accept-new-host-keys the key a host presented first is the one
// for the whole run: a reconnect that presents another is refused, though
// the known_hosts the run started with had no entry for the host.
func TestAcceptedKeyHoldsForTheRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	h := &HostKeys{Files: []string{file}, AcceptNew: true}
	check, _, err := h.callbacks()
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 22}
	first, other := newHostKey(t), newHostKey(t)
	if err := check("10.0.0.1:22", addr, first); err != nil {
		t.Fatalf("first contact: %v", err)
	}
	if err := check("10.0.0.1:22", addr, other); err == nil || !strings.Contains(err.Error(), "HOST KEY MISMATCH") {
		t.Fatalf("another key on reconnect: %v, want a mismatch", err)
	}
	if err := check("10.0.0.1:22", addr, first); err != nil {
		t.Fatalf("the same key on reconnect: %v", err)
	}
	b, _ := os.ReadFile(file)
	if strings.Count(string(b), "\n") != 1 {
		t.Fatalf("known_hosts holds %q, want the one key", b)
	}
}

// A known_hosts that hashes its names gets hashed entries from kbs too.
func TestRecordsHashedWhereTheFileIs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	old := knownhosts.Line([]string{knownhosts.HashHostname("10.0.0.9")}, newHostKey(t))
	if err := os.WriteFile(file, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &HostKeys{Files: []string{file}, AcceptNew: true}
	check, _, err := h.callbacks()
	if err != nil {
		t.Fatal(err)
	}
	if err := check("10.0.0.1:22", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 22}, newHostKey(t)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "|1|") || strings.Contains(lines[1], "10.0.0.1") {
		t.Fatalf("new entry %q, want it hashed", lines[len(lines)-1])
	}
}

// An unknown host is asked for a plain key, which the flag can record, not
// a certificate, which nothing here can check.
func TestUnknownHostsAreAskedForAPlainKey(t *testing.T) {
	d := &Dialer{HostKeys: &HostKeys{Files: []string{filepath.Join(t.TempDir(), "none")}, AcceptNew: true}}
	if err := d.initHostKeys(); err != nil {
		t.Fatal(err)
	}
	algos := d.hostKeyAlgorithms("10.0.0.1:22")
	if len(algos) == 0 {
		t.Fatal("no algorithms: the server would pick, certificates included")
	}
	for _, a := range algos {
		if strings.Contains(a, "-cert-") {
			t.Errorf("asks an unknown host for %s", a)
		}
	}
}
