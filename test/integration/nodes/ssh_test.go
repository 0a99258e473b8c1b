//go:build integration

package nodes_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kubectl-kbs/kbs/test/nodes"
)

func dial(t *testing.T, n *nodes.Node, knownHostsFile string) (*ssh.Client, error) {
	t.Helper()
	hostKeys, err := knownhosts.New(knownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", net.JoinHostPort(n.IP.String(), "22"), &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(cluster.ClientSigner)},
		HostKeyCallback: hostKeys,
		Timeout:         10 * time.Second,
	})
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	if err := s.Run(cmd); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// Every node answers over SSH, verified against the harness's known_hosts,
// as itself, with systemd running and a journal that can be read.
func TestNodesAnswerOverSSH(t *testing.T) {
	for _, n := range cluster.Nodes {
		t.Run(n.Name, func(t *testing.T) {
			c, err := dial(t, n, cluster.KnownHosts)
			if err != nil {
				t.Fatalf("ssh %s: %v", n.Name, err)
			}
			defer c.Close()
			if got := run(t, c, "hostname"); got != n.Name {
				t.Errorf("hostname = %q, want %q", got, n.Name)
			}
			if got := run(t, c, "systemctl is-system-running"); got != "running" {
				t.Errorf("is-system-running = %q, want running", got)
			}
			journal := run(t, c, "journalctl --no-pager -b -u ssh.service -o cat")
			if !strings.Contains(journal, "Server listening") {
				t.Errorf("journal of ssh.service lacks sshd's start:\n%s", journal)
			}
			if got := run(t, c, "ip -4 -o addr show dev host0"); !strings.Contains(got, n.IP.String()+"/24") {
				t.Errorf("host0 addresses %q, want %s/24", got, n.IP)
			}
		})
	}
}

// Nodes reach each other by name on the bridge.
func TestNodesReachEachOther(t *testing.T) {
	a, b := cluster.Nodes[0], cluster.Nodes[1]
	c, err := dial(t, a, cluster.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := run(t, c, "exec 3<>/dev/tcp/"+b.Name+"/22 && head -c 4 <&3")
	if out != "SSH-" {
		t.Fatalf("%s could not reach %s:22, read %q", a.Name, b.Name, out)
	}
}

// Strict checking really is strict: a known_hosts entry with another key for
// the node's address is refused, and so is a node missing from the file.
func TestHostKeyMismatchRefused(t *testing.T) {
	n := cluster.Nodes[0]
	other := cluster.Nodes[1]
	dir := t.TempDir()
	wrong := filepath.Join(dir, "known_hosts_wrong")
	line := knownhosts.Line([]string{n.IP.String()}, other.HostKey)
	if err := os.WriteFile(wrong, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := dial(t, n, wrong)
	var keyErr *knownhosts.KeyError
	if err == nil || !errorsAs(err, &keyErr) || len(keyErr.Want) == 0 {
		t.Fatalf("dial with a wrong host key: %v; want a knownhosts mismatch", err)
	}
	empty := filepath.Join(dir, "known_hosts_empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = dial(t, n, empty); err == nil || !errorsAs(err, &keyErr) || len(keyErr.Want) != 0 {
		t.Fatalf("dial with an empty known_hosts: %v; want an unknown-host error", err)
	}
}

// The harness can also reach inside a node without SSH, and each node sees
// its own cgroup subtree as its root (what kubelets need later).
func TestExecAndCgroupNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range cluster.Nodes {
		out, err := n.Exec(ctx, "cat", "/proc/1/cgroup")
		if err != nil {
			t.Fatalf("%s: %v: %s", n.Name, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(line, ":pids:") && !strings.HasSuffix(line, ":/") && !strings.HasSuffix(line, ":/init.scope") {
				t.Errorf("%s: init's pids cgroup is %q; want the node's own subtree as root", n.Name, line)
			}
		}
	}
}
