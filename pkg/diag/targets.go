package diag

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

// Selection says which of the hosts and nodes kbs knows to diagnose.
type Selection struct {
	// Names picks these, in this order (diag node NAME...); empty: all.
	Names []string
	// Role keeps one role: control-plane, worker or etcd ("" keeps all).
	Role string
	// Selector is a label selector on the API's nodes. When set, a spec
	// host the API does not list is left out: it cannot match a label.
	Selector string
}

// Validate checks the role before anything is contacted.
func (s Selection) Validate() error {
	if s.Role != "" && !slices.Contains([]string{cluster.RoleControlPlane, cluster.RoleWorker, cluster.RoleEtcd}, s.Role) {
		return fmt.Errorf("unknown --role %q: use control-plane, worker or etcd", s.Role)
	}
	return nil
}

// SelectTargets lists what kbs can reach — the spec's hosts (nil spec: none)
// and the nodes the API server knows (nil cs: none) — and keeps what sel
// asks for.
func SelectTargets(ctx context.Context, spec *cluster.Cluster, cs kubernetes.Interface, sel Selection) ([]Target, error) {
	ts := SpecTargets(spec)
	if cs != nil {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel.Selector})
		if err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		ts = MergeNodes(ts, TargetsFromNodes(list.Items), sel.Selector != "")
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no nodes to diagnose: give a spec with -f, or a kubeconfig for a reachable API server")
	}
	return sel.choose(ts)
}

// SpecTargets turns the spec's hosts into targets reachable over SSH, etcd
// hosts included: they are no Kubernetes node, so only the spec knows them.
func SpecTargets(spec *cluster.Cluster) []Target {
	if spec == nil {
		return nil
	}
	var ts []Target
	for _, h := range spec.Spec.Hosts {
		t := host.TargetFor(spec, h)
		ts = append(ts, Target{Name: h.Name, Role: h.Role, Address: h.Address, SSH: &t})
	}
	return ts
}

// MergeNodes adds the API's nodes to the spec's targets. A node the spec
// names too keeps the spec's role, address and SSH settings and is marked
// InAPI; the others are added as the API describes them. With onlyAPI (a
// label selector was given) spec hosts the API did not list are dropped.
func MergeNodes(spec, nodes []Target, onlyAPI bool) []Target {
	ts := slices.Clone(spec)
	for _, n := range nodes {
		if i := slices.IndexFunc(ts, func(t Target) bool { return t.Name == n.Name }); i >= 0 {
			ts[i].InAPI = true
			continue
		}
		ts = append(ts, n)
	}
	if onlyAPI {
		ts = slices.DeleteFunc(ts, func(t Target) bool { return !t.InAPI })
	}
	return ts
}

// choose applies Names, then Role.
func (s Selection) choose(ts []Target) ([]Target, error) {
	if len(s.Names) > 0 {
		picked, err := pick(ts, s.Names)
		if err != nil {
			return nil, err
		}
		ts = picked
	}
	if s.Role == "" {
		return ts, nil
	}
	var out []Target
	for _, t := range ts {
		if t.Role == s.Role {
			out = append(out, t)
		}
	}
	return out, nil
}

// pick returns the targets named, in the order named; an unknown name is an
// error that lists the known ones, since a typo is the likely cause.
func pick(ts []Target, names []string) ([]Target, error) {
	var out []Target
	for _, n := range names {
		i := slices.IndexFunc(ts, func(t Target) bool { return t.Name == n })
		if i < 0 {
			known := make([]string, len(ts))
			for j, t := range ts {
				known[j] = t.Name
			}
			return nil, fmt.Errorf("no node or spec host named %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, ts[i])
	}
	return out, nil
}
