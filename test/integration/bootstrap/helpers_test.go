//go:build integration

package bootstrap_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

// spec writes a cluster spec over the test nodes; roles maps node index to role.
func spec(t *testing.T, name string, roles map[int]string) string {
	t.Helper()
	etcd, err := env.Binary("etcd")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: kbs.kubectl-kbs.io/v1alpha1
kind: Cluster
metadata: {name: %s}
spec:
  kubernetesVersion: v1.37.2
  etcd: {binary: %s}
  ssh: {user: root, keyFile: %s}
  hosts:
`, name, etcd, cluster.ClientKey)
	for i := range len(cluster.Nodes) {
		if role, ok := roles[i]; ok {
			n := cluster.Nodes[i]
			fmt.Fprintf(&b, "  - {name: %s, role: %s, address: %s}\n", n.Name, role, n.IP)
		}
	}
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kbs runs the real command tree in process.
func kbs(ctx context.Context, errOut io.Writer, args ...string) (string, error) {
	var out bytes.Buffer
	err := kbsrun.To(ctx, &out, errOut, args...)
	return out.String(), err
}

// initArgs runs Bootstrap I's phases: these nodes have no runtime bundle,
// so the cluster phases (tested end to end in test/integration/e2e) are
// skipped. Further --skip-phases flags add to the list.
func initArgs(specPath, stateDir string, extra ...string) []string {
	return append([]string{"init", "-f", specPath, "--state-dir", stateDir, "--known-hosts", cluster.KnownHosts,
		"--skip-phases", "runtime,runtime-workers,control-plane,cni,join,wait-ready"}, extra...)
}

func mustKbs(t *testing.T, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errOut bytes.Buffer
	out, err := kbs(ctx, &errOut, args...)
	if err != nil {
		t.Fatalf("kubectl kbs %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out, errOut.String()
}

func onNode(t *testing.T, n *nodes.Node, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %v: %s", n.Name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// sshLogins counts sshd's accepted logins on n: reading the journal through
// the node's namespaces, not SSH, so the count itself adds none.
func sshLogins(t *testing.T, n *nodes.Node) int {
	t.Helper()
	out := onNode(t, n, "sh", "-c", "journalctl -u ssh.service -o cat --no-pager | grep -c 'Accepted publickey' || true")
	c, _ := strconv.Atoi(out)
	return c
}

// etcdHealth asks etcd for /health from this machine, with the client cert
// from the state directory, or with none.
func etcdHealth(stateDir string, n *nodes.Node, withCert bool) error {
	caPEM, err := os.ReadFile(filepath.Join(stateDir, "pki", "etcd", "ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool}
	if withCert {
		pair, err := tls.LoadX509KeyPair(filepath.Join(stateDir, "pki", "etcd", "apiserver-etcd-client.crt"), filepath.Join(stateDir, "pki", "etcd", "apiserver-etcd-client.key"))
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := client.Get("https://" + n.IP.String() + ":2379/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, body)
	}
	return nil
}

// journaled says whether the state directory's journal records phase.
func journaled(t *testing.T, stateDir, phase string) bool {
	t.Helper()
	ok, err := env.Journaled(stateDir, phase)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
