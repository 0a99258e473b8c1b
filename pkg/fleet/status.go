package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// Status is one cluster's line of the inventory. The JSON names are stable.
type Status struct {
	Name string `json:"name"`
	// Spec counts the members the spec lists, by role.
	Spec Members `json:"spec"`
	// Live counts the members that are well: etcd members healthy, nodes
	// Ready, by role. Nil when neither the API nor etcd answered.
	Live *Members `json:"live,omitempty"`
	// CNI is the spec's pod network; CNIRunning what the cluster runs and
	// how many of its pods are ready ("flannel 3/3").
	CNI        string `json:"cni"`
	CNIRunning string `json:"cniRunning,omitempty"`
	// KubernetesVersion is the API server's, EtcdVersion the members'.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	EtcdVersion       string `json:"etcdVersion,omitempty"`
	// API is answering, not answering or not built.
	API    string `json:"api"`
	Server string `json:"server,omitempty"`
	// Problems are what an operator should look at, each a sentence; the
	// table's description.
	Problems []string `json:"problems,omitempty"`
	Took     string   `json:"took"`
}

// Members counts a cluster's members by role.
type Members struct {
	Etcd          int `json:"etcd"`
	ControlPlanes int `json:"controlPlanes"`
	Workers       int `json:"workers"`
}

// API states.
const (
	APIAnswering    = "answering"
	APINotAnswering = "not answering"
	APINotBuilt     = "not built"
)

// Description is the table's last column: the problems, or nothing.
func (s Status) Description() string { return strings.Join(s.Problems, "; ") }

func specMembers(c *cluster.Cluster) Members {
	return Members{
		Etcd:          len(c.HostsWithRole(cluster.RoleEtcd)),
		ControlPlanes: len(c.HostsWithRole(cluster.RoleControlPlane)),
		Workers:       len(c.HostsWithRole(cluster.RoleWorker)),
	}
}

// surveyOne asks the API server and etcd side by side; where the API
// server does not answer, it asks the hosts over SSH what they are doing.
func surveyOne(ctx context.Context, c *cluster.Cluster, p Probes) Status {
	s := Status{Name: c.Metadata.Name, Spec: specMembers(c), CNI: c.Spec.CNI.Plugin, API: APINotBuilt}
	cs, server, err := p.Kube(c)
	if errors.Is(err, ErrNotBuilt) {
		s.Problems = []string{fmt.Sprintf("not built yet: kubectl kbs init -f <inventory> --cluster-name %s", c.Metadata.Name)}
		return s
	}
	s.Server = server
	var api apiView
	var etcd etcdView
	var wg sync.WaitGroup
	if err == nil {
		wg.Go(func() { api = readAPI(ctx, cs, c) })
	} else {
		api.err = err
	}
	if p.Etcd != nil {
		wg.Go(func() { etcd = readEtcd(ctx, c, p) })
	}
	wg.Wait()
	live := Members{}
	if api.err == nil {
		s.API, s.KubernetesVersion, s.CNIRunning = APIAnswering, api.version, api.cni
		live.ControlPlanes, live.Workers = api.readyCP, api.readyWorkers
		s.Problems = append(s.Problems, api.problems...)
	} else {
		s.API = APINotAnswering
		s.Problems = append(s.Problems, notAnswering(ctx, server, api.err))
		s.Problems = append(s.Problems, askHosts(ctx, c, p)...)
	}
	if p.Etcd != nil {
		live.Etcd, s.EtcdVersion = etcd.healthy, etcd.version
		s.Problems = append(s.Problems, etcd.problems...)
	}
	if api.err == nil || (p.Etcd != nil && etcd.answered) {
		s.Live = &live
	}
	return s
}

func notAnswering(ctx context.Context, server string, err error) string {
	if ctx.Err() != nil {
		return fmt.Sprintf("API server %s did not answer in time", server)
	}
	return fmt.Sprintf("API server %s not answering: %v", server, err)
}

// askHosts reaches the control planes over SSH, side by side, and says
// for each whether it answers and what its kubelet is doing.
func askHosts(ctx context.Context, c *cluster.Cluster, p Probes) []string {
	if p.SSH == nil {
		return nil
	}
	hosts := c.HostsWithRole(cluster.RoleControlPlane)
	out := make([]string, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			state, err := p.SSH(ctx, c, h)
			switch {
			case err != nil:
				out[i] = fmt.Sprintf("%s unreachable over SSH: %v", h.Name, err)
			default:
				out[i] = fmt.Sprintf("%s answers SSH, %s", h.Name, state)
			}
		})
	}
	wg.Wait()
	return out
}
