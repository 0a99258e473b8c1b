//go:build integration

// Package nodes_test proves the node harness gives real systemd machines:
// each answers over SSH with strict host-key checking, runs systemd to
// `running`, and has a working journal.
package nodes_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/nodes"
)

var cluster *nodes.Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	var err error
	cluster, err = nodes.Boot(ctx, nodes.Options{Count: 3})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodes did not boot: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d nodes running with sshd up in %s\n", len(cluster.Nodes), time.Since(start).Round(time.Millisecond))
	var total int64
	for _, n := range cluster.Nodes {
		b, err := n.MemoryBytes()
		if err == nil {
			total += b
		}
	}
	fmt.Printf("memory charged to the %d nodes' cgroups: %.1f MiB\n", len(cluster.Nodes), float64(total)/(1<<20))
	code := m.Run()
	stop := time.Now()
	cluster.Stop()
	fmt.Printf("nodes stopped and cleaned up in %s\n", time.Since(stop).Round(time.Millisecond))
	os.Exit(code)
}
