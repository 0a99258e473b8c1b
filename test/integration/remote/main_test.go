//go:build integration

// Package remote_test runs pkg/remote against real sshd on real systemd
// nodes: strict host keys, connection reuse, atomic file transfer, sudo with
// and without a password, a bastion, ~/.ssh/config aliases, cancellation.
package remote_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/nodes"
)

var cluster *nodes.Cluster

// Users created on every node: ops needs its password for sudo, nopw does not.
const (
	opsPassword = "correct horse battery staple"
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cluster, err = nodes.Boot(ctx, nodes.Options{Count: 2, Prefix: "rnode"})
	if err == nil {
		err = addUsers(ctx)
	}
	cancel()
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

func addUsers(ctx context.Context) error {
	if err := cluster.AddUser(ctx, "ops", opsPassword); err != nil {
		return err
	}
	return cluster.AddUser(ctx, "nopw", "")
}
