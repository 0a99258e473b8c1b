//go:build integration

// Package bootstrap_test runs `kubectl kbs init` (in process, through the
// real command tree) against real systemd nodes over SSH: etcd under
// systemd with mutual TLS, idempotent re-runs, resume after a kill, a
// three-member etcd, dry-run and bad specs that touch no host, and the real
// binary SIGKILLed at random moments of init.
package bootstrap_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

var cluster *nodes.Cluster

// opsPassword is the sudo password of the non-root user "ops" on every node.
const opsPassword = "s3cret sudo pass"

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cluster, err = nodes.Boot(ctx, nodes.Options{Count: 4, Prefix: "b"})
	cancel()
	if err == nil {
		err = installKubeadm(cluster.Nodes[1])
	}
	if err == nil {
		err = cluster.AddUser(context.Background(), "ops", opsPassword)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if cluster != nil {
			cluster.Stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// installKubeadm puts the test kubeadm on the control-plane node, as the
// runtime phase of a full bootstrap will.
func installKubeadm(n *nodes.Node) error {
	bin, err := env.Binary("kubeadm")
	if err != nil {
		return err
	}
	dst := filepath.Join(n.Root, "usr", "local", "bin", "kubeadm")
	if out, err := exec.Command("cp", bin, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("installing kubeadm on %s: %v: %s", n.Name, err, out)
	}
	return nil
}
