//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/test/nodes"
	"github.com/kubectl-kbs/kbs/test/workload"
)

// paths of one test cluster on the operator's side.
type paths struct{ spec, state, kubeconfig string }

func newPaths(t *testing.T) paths {
	t.Helper()
	dir := t.TempDir()
	p := paths{spec: filepath.Join(dir, "cluster.yaml"), state: filepath.Join(dir, "state"), kubeconfig: filepath.Join(dir, "kubeconfig")}
	s, err := localClusterSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.spec, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p paths) args(cmd ...string) []string {
	return append(cmd, "-f", p.spec, "--state-dir", p.state, "--known-hosts", cluster.KnownHosts, "--kubeconfig", p.kubeconfig)
}

// kbs runs the binary; progress (stderr) is copied to onLine line by line.
func kbs(ctx context.Context, onLine func(string), args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, kbsBin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	var out, errBuf bytes.Buffer
	cmd.Stdout = &out
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			errBuf.WriteString(sc.Text() + "\n")
			if onLine != nil {
				onLine(sc.Text())
			}
		}
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	return out.String(), errBuf.String(), err
}

func mustKbs(t *testing.T, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, progress, err := kbs(ctx, nil, args...)
	if err != nil {
		t.Fatalf("kubectl kbs %s: %v\n%s", strings.Join(args, " "), err, progress)
	}
	return out, progress
}

func client(t *testing.T, p paths) kubernetes.Interface {
	t.Helper()
	return workload.Client(t, p.kubeconfig)
}

func node(name string) *nodes.Node {
	for _, n := range cluster.Nodes {
		if n.Name == name {
			return n
		}
	}
	panic("no node " + name)
}

// onNode runs a command inside a node through the harness, for checks
// from outside kbs.
func onNode(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := node(name).Exec(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// etcdGet asks etcd0 for /health over TLS, with or without the API server's
// client certificate.
func etcdGet(p paths, withCert bool) error {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(p.state, "pki", "etcd", "ca.crt"))
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(ca)
	cfg := &tls.Config{RootCAs: pool}
	if withCert {
		pair, err := tls.LoadX509KeyPair(filepath.Join(p.state, "pki", "etcd", "apiserver-etcd-client.crt"), filepath.Join(p.state, "pki", "etcd", "apiserver-etcd-client.key"))
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := hc.Get(fmt.Sprintf("https://%s:2379/health", node("etcd0").IP))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, body)
	}
	return nil
}
