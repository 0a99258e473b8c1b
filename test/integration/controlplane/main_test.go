//go:build integration

// Package controlplane_test proves the control-plane harness is real: etcd
// enforces client certificates, kube-apiserver serves through it, the
// controller-manager issues CSRs and signs cluster-info, and real kubeadm
// validates configurations against it.
package controlplane_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/controlplane"
)

var cp *controlplane.ControlPlane

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	start := time.Now()
	var err error
	cp, err = controlplane.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "control plane did not start: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("control plane (etcd + kube-apiserver + kube-controller-manager) healthy in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	cp.Stop()
	os.Exit(code)
}
