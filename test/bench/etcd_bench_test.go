//go:build integration

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kbscluster "github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
)

// etcdData is how much the benchmark etcd holds: the snapshot size.
const etcdData = 256 << 20

var (
	etcdOnce sync.Once
	etcdEnv  *etcd.Env
	etcdErr  error
)

// needEtcd runs kbs's own etcd phases on the bench node (a one-member
// external etcd with mutual TLS) and fills it with etcdData bytes.
func needEtcd(b *testing.B) *etcd.Env {
	b.Helper()
	needNodes(b)
	etcdOnce.Do(func() { etcdEnv, etcdErr = startEtcd(b.TempDir()) })
	if etcdErr != nil {
		b.Fatal(etcdErr)
	}
	return etcdEnv
}

func startEtcd(dir string) (*etcd.Env, error) {
	bin, err := env.Binary("etcd")
	if err != nil {
		return nil, err
	}
	n := cluster.Nodes[0]
	// The control-plane host is never contacted: only the etcd phases run.
	specText := fmt.Sprintf(`apiVersion: kbs.kubectl-kbs.io/v1alpha1
kind: Cluster
metadata: {name: bench}
spec:
  kubernetesVersion: v1.37.2
  etcd: {binary: %s}
  ssh: {user: root, keyFile: %s}
  hosts:
  - {name: %s, role: etcd, address: %s}
  - {name: cp, role: control-plane, address: %s}
`, bin, cluster.ClientKey, n.Name, n.IP, cluster.Gateway)
	specPath, stateDir := filepath.Join(dir, "bench.yaml"), filepath.Join(dir, "state")
	if err := os.WriteFile(specPath, []byte(specText), 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, stderr, err := kbsrun.Run(ctx, "init", "-f", specPath, "--state-dir", stateDir, "--known-hosts", cluster.KnownHosts,
		"--skip-phases", "preflight,runtime,runtime-workers,etcd-client-certs,kubeadm-config,control-plane,cni,join,wait-ready"); err != nil {
		return nil, fmt.Errorf("etcd phases: %w\n%s", err, stderr)
	}
	spec, err := kbscluster.LoadOne(specPath, "")
	if err != nil {
		return nil, err
	}
	st, err := state.Open(stateDir, false)
	if err != nil {
		return nil, err
	}
	e := &etcd.Env{Spec: spec, State: st}
	cli, _, err := e.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	value := strings.Repeat("x", 512<<10)
	for i := range etcdData / len(value) {
		if _, err := cli.Put(ctx, fmt.Sprintf("/bench/%05d", i), value); err != nil {
			return nil, fmt.Errorf("filling etcd: %w", err)
		}
	}
	return e, nil
}

// BenchmarkSnapshot compares kbs's snapshot, streamed over mutual TLS to
// this machine, with etcdctl snapshot save run on the etcd host itself.
func BenchmarkSnapshot(b *testing.B) {
	e := needEtcd(b)
	n := cluster.Nodes[0]
	b.Run("kbs", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "snap.db")
		var size int64
		for b.Loop() {
			s, err := etcd.Save(context.Background(), e, etcd.SaveOptions{Output: out})
			if err != nil {
				b.Fatal(err)
			}
			size = s.Size
		}
		b.SetBytes(size)
	})
	b.Run("etcdctl-on-node", func(b *testing.B) {
		cmd := "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/server.crt --key=/etc/etcd/pki/server.key snapshot save /var/tmp/bench.db >/dev/null 2>&1 && stat -c %s /var/tmp/bench.db && rm -f /var/tmp/bench.db"
		var size int64
		for b.Loop() {
			out, err := n.Exec(context.Background(), "sh", "-c", cmd)
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			fmt.Sscan(strings.TrimSpace(string(out)), &size)
		}
		b.SetBytes(size)
	})
}
