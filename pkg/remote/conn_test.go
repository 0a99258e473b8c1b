package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// A connection its user closed is closed at once for the Dialer: diag
// closes each node's connection when done with it, and the next Dial of
// that node (a second collection in the same process) was handed the dead
// connection while the goroutine that notices the close had not yet run,
// and every command failed with "opening a session: EOF".
//
// The race is lost about one time in six, so the test closes fifty.
func TestClosedConnIsNeverReused(t *testing.T) {
	for range 50 {
		c := newConn(Target{Name: "n"}, pipeClient(t), &Credentials{})
		if c.closed() {
			t.Fatal("an open connection reports itself closed")
		}
		c.Close()
		if !c.closed() {
			t.Fatal("a closed connection reports itself open: the Dialer would hand it out again")
		}
	}
}

// pipeClient is an SSH client connected to an in-process server on the
// loopback (no authentication; every session refused).
func pipeClient(t *testing.T) *ssh.Client {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := &ssh.ServerConfig{NoClientAuth: true}
	srvCfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		a, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { a.Close() })
		_, chans, reqs, err := ssh.NewServerConn(a, srvCfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			ch.Reject(ssh.Prohibited, "no sessions here")
		}
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc, ch, reqs, err := ssh.NewClientConn(b, ln.Addr().String(), &ssh.ClientConfig{User: "u", HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	return ssh.NewClient(cc, ch, reqs)
}
