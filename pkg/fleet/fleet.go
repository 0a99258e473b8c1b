// Package fleet is `kubectl kbs clusters`: every cluster of an inventory,
// surveyed live and side by side — its members as the spec has them and as
// the cluster has them, the pod network actually running, the versions, and
// a description of what is wrong, as the notes' inventory table has one.
//
// The package reaches a cluster only through Probes, which the command
// wires (the API through the kubeconfig context init merged, etcd through
// the etcd capability, hosts over SSH), so it depends on no other
// capability and its judgement is tested without a cluster.
package fleet

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// ErrNotBuilt is what Probes.Kube returns for a cluster kbs has no trace
// of: no kubeconfig context of its name and no state directory.
var ErrNotBuilt = errors.New("not built yet")

// Probes reach one cluster. Each honours its context's deadline.
type Probes struct {
	// Kube is a client for the cluster's API server and the server it
	// talks to (for messages), or ErrNotBuilt.
	Kube func(c *cluster.Cluster) (kubernetes.Interface, string, error)
	// Etcd asks every etcd member of the spec for its health; nil skips
	// etcd (no state directory, so no client certificate).
	Etcd func(ctx context.Context, c *cluster.Cluster) ([]EtcdMember, error)
	// SSH says whether a host answers over SSH and, if it does, what its
	// kubelet (or, for an etcd host, etcd) unit is doing; used only when
	// the API server does not answer, to say where the trouble is.
	SSH func(ctx context.Context, c *cluster.Cluster, h cluster.Host) (string, error)
}

// EtcdMember is one member's health as the etcd probe sees it.
type EtcdMember struct {
	Name    string
	Healthy bool
	InSpec  bool
	Version string
	Error   string
}

// Options bound a survey.
type Options struct {
	// Timeout bounds each cluster's survey (default 10s); clusters are
	// surveyed side by side, so the whole survey takes about the slowest
	// cluster's time, never their sum.
	Timeout time.Duration
}

// Survey reports on every cluster, in the inventory's order.
func Survey(ctx context.Context, clusters []*cluster.Cluster, p Probes, o Options) []Status {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	out := make([]Status, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			start := time.Now()
			out[i] = surveyOne(cctx, c, p)
			out[i].Took = time.Since(start).Round(time.Millisecond).String()
		})
	}
	wg.Wait()
	return out
}

// Problems says whether any cluster has something wrong (for the exit
// code: a cron job runs `kubectl kbs clusters`).
func Problems(rows []Status) []string {
	var names []string
	for _, r := range rows {
		if len(r.Problems) > 0 {
			names = append(names, r.Name)
		}
	}
	return names
}
