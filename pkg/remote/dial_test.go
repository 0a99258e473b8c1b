package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
)

// Handshakes with different hosts run side by side: while one host has
// accepted the TCP connection and says nothing (a hung sshd), a dial to
// another host still reaches it. The dialer once held its lock through the
// handshake, and the second host was contacted only when the first gave up.
func TestDialsDoNotWaitForEachOther(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	// Two sshds that accept and then never speak; each reports its accept.
	accepted := make(chan string, 2)
	hung := func(name string) (string, int) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			accepted <- name
		}()
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		p, _ := strconv.Atoi(port)
		return host, p
	}
	d := &Dialer{HostKeys: &HostKeys{Files: []string{known}}, Timeout: time.Minute, SSHConfig: emptySSHConfig(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dial := func(name string) {
		host, port := hung(name)
		go d.Dial(ctx, Target{Name: name, Address: host, Port: port, User: "root", KeyFile: keyFile})
	}
	dial("a")
	if got := <-accepted; got != "a" {
		t.Fatalf("accepted %s first", got)
	}
	// a's handshake is now in flight and will not finish.
	dial("b")
	select {
	case got := <-accepted:
		if got != "b" {
			t.Fatalf("accepted %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dial to b waited for a's hung handshake")
	}
}

// emptySSHConfig keeps the test from reading the user's ~/.ssh/config.
func emptySSHConfig(t *testing.T) *ssh_config.Config {
	cfg, err := ssh_config.Decode(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
