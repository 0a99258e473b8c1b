//go:build integration

// Package ha brings up the HA shape with kubectl kbs init — three etcd
// members, two control planes behind a kbs-managed VIP (keepalived and
// haproxy), one worker — one release back, and takes it through what HA is
// for: the control plane that holds the VIP loses power (an etcd member
// too) and the cluster keeps serving and writing; the hosts come back by
// themselves; a control plane is reset and joined again; then the whole
// cluster is upgraded to the current release with the API answering
// through the VIP, and the conformance smoke subset judges the result.
package ha

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

var cluster *nodes.Cluster

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	// upgrade plan checks the kubectl on PATH: the test's, of this release.
	if err := env.UseTestKubectl(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Five minutes: in make test other packages build and boot their nodes
	// beside these, and CI once saw six nodes take longer than two.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	cluster, err = localcluster.BootHA(ctx, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "booting nodes:", err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}
