// Package controlplane starts a real Kubernetes control plane for tests:
// etcd with TLS and client-certificate auth, kube-apiserver using it as an
// external etcd over mutual TLS (the operator's topology), and
// kube-controller-manager signing CSRs and bootstrap tokens. Every certificate
// comes from kbs's own pki package.
package controlplane

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubectl-kbs/kbs/test/env"
)

// ServiceCIDR and ServiceIP are the Service network and the apiserver's
// ClusterIP in it.
const (
	ServiceCIDR = "10.96.0.0/12"
	ServiceIP   = "10.96.0.1"
)

// ControlPlane is a running control plane.
type ControlPlane struct {
	Run  *env.RunDir
	PKI  *PKI
	Etcd *env.Process
	API  *env.Process
	KCM  *env.Process

	EtcdURL      string // https://127.0.0.1:PORT, client-cert auth
	APIServerURL string
	KCMURL       string
	// AdminKubeconfig is a kubeconfig for a system:masters user.
	AdminKubeconfig string
	AdminConfig     *rest.Config

	opts Options
}

// Options vary the control plane for tests of unusual clusters.
type Options struct {
	// NoSigner runs kube-controller-manager without cluster signing, like a
	// cluster whose client certificates come from an external CA: CSRs are
	// approved but never issued.
	NoSigner bool
}

// Start brings the control plane up and waits until each part is healthy.
// On error it tears down what it started.
func Start(ctx context.Context, opts ...Options) (cp *ControlPlane, err error) {
	run, err := env.NewRunDir("cp")
	if err != nil {
		return nil, fmt.Errorf("creating run directory: %w", err)
	}
	cp = &ControlPlane{Run: run}
	for _, o := range opts {
		cp.opts = o
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	if cp.PKI, err = newPKI(run.Join("pki")); err != nil {
		return cp, fmt.Errorf("making certificates: %w", err)
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"etcd", cp.startEtcd},
		{"kube-apiserver", cp.startAPIServer},
		{"kube-controller-manager", cp.startKCM},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return cp, fmt.Errorf("starting %s: %w", s.name, err)
		}
	}
	return cp, nil
}

// Stop stops every component, newest first, and removes the run directory.
func (cp *ControlPlane) Stop() {
	for _, p := range []*env.Process{cp.KCM, cp.API, cp.Etcd} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
	if cp.Run != nil {
		env.Reap(cp.Run.Path)
	}
}

func ports(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		p, err := env.FreePort()
		if err != nil {
			return nil, err
		}
		out[i] = strconv.Itoa(p)
	}
	return out, nil
}
