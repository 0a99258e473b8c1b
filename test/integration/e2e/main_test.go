//go:build integration

// Package e2e brings the operator's k8s cluster up with the kbs binary over
// SSH on local nodes and checks it from outside: nodes, pods on every
// worker, pod-to-pod across nodes, a Service, DNS, the external etcd; then
// faults: an init interrupted inside kubeadm init, a re-run that must
// change nothing, a worker reset and joined again.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

var (
	cluster *nodes.Cluster
	kbsBin  string
	workDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	workDir, err = os.MkdirTemp("", "kbs-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	root, err := env.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := env.UseTestKubectl(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The real binary: the fault test interrupts it like an operator would.
	kbsBin = filepath.Join(workDir, "kubectl-kbs")
	build := exec.Command("go", "build", "-o", kbsBin, "./cmd/kubectl-kbs")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kubectl-kbs:", err)
		return 1
	}
	// Five minutes: in make test other packages build and boot their nodes
	// beside these, and CI once saw six nodes take longer than two.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cluster, err = localcluster.Boot(ctx, false, localcluster.Spares...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "booting nodes:", err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}
