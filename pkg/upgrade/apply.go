package upgrade

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// ApplyOptions tune `upgrade apply`.
type ApplyOptions struct {
	// MaxUnavailable is how many workers are drained and upgraded at once.
	MaxUnavailable int
	// DrainTimeout bounds one node's drain (PodDisruptionBudgets may hold
	// it); NodeTimeout bounds a node's return to Ready at the target.
	DrainTimeout, NodeTimeout time.Duration
	// Window is the certificates' margin the preflight checks.
	Window time.Duration
	// Snapshot saves an etcd snapshot on this machine and says where: the
	// etcd capability's, handed in by the command (a capability never
	// imports another).
	Snapshot func(ctx context.Context) (string, error)
}

// applyRun is one `upgrade apply`: the session, the API, the target and
// where its binaries come from.
type applyRun struct {
	*host.Session
	cs                 kubernetes.Interface
	opts               ApplyOptions
	target, etcdTarget string
	// bundle is the target's air-gapped bundle, read once (nil for packages).
	bundle *bundle.Bundle
	etcd   *http.Client
}

// Apply upgrades the cluster to its spec's versions: the plan's checks
// first (a cluster already at the spec is left alone), then one journaled
// operation: an etcd snapshot, etcd member
// by member (followers first, the leader last), the target's images on
// every node, the first control plane (kubeadm upgrade apply), the other
// control planes (kubeadm upgrade node), then the workers in batches of
// MaxUnavailable — each node drained before its kubelet restarts and
// uncordoned once Ready at the target. A re-run resumes at the host where
// the last one stopped; a dry run prints the plan and touches nothing.
func Apply(ctx context.Context, s *host.Session, cs kubernetes.Interface, opts ApplyOptions) error {
	c := s.Cluster()
	etcdTarget, err := EtcdTarget(ctx, c)
	if err != nil {
		return err
	}
	r := &applyRun{Session: s, cs: cs, opts: opts, target: c.Spec.KubernetesVersion, etcdTarget: etcdTarget}
	if opts.MaxUnavailable < 1 {
		r.opts.MaxUnavailable = 1
	}
	if c.Spec.Runtime.Source == cluster.RuntimeSourceBundle {
		b, err := bundle.Load(c.Spec.Runtime.Bundle)
		if err != nil {
			return err
		}
		if v := b.Versions["kubernetes"]; v != r.target {
			return fmt.Errorf("bundle %s holds Kubernetes %s, not the target %s: build the target's bundle (hack/build-bundle.sh) and point spec.runtime.bundle at it", b.Dir, v, r.target)
		}
		r.bundle = b
	}
	if !s.DryRun() {
		hc, err := etcdHTTP(c, s.State())
		if err != nil {
			return err
		}
		defer hc.CloseIdleConnections()
		r.etcd = hc
	}
	// Not a phase of the operation (it runs every time, journal or not),
	// but part of the upgrade's time: --timings shows it as one.
	start := time.Now()
	done, err := r.preflight(ctx)
	s.Timings.Phase("preflight", time.Since(start))
	if err != nil || done {
		return err
	}
	if err := host.RunOperation(ctx, s, r, "upgrade "+r.target+" etcd "+r.etcdTarget, r.phases(ctx)...); err != nil {
		return err
	}
	if s.DryRun() {
		return nil
	}
	// The spec as applied, as init records it: what the next plan and
	// `kubectl kbs clusters` compare with.
	return s.State().SaveSpec(c)
}

func (r *applyRun) phases(ctx context.Context) []workflow.Phase[*applyRun] {
	c := r.Cluster()
	ps := []workflow.Phase[*applyRun]{
		{Name: "etcd-snapshot", Short: "an etcd snapshot saved on this machine first", Run: func(ctx context.Context, r *applyRun) error { return r.snapshot(ctx) }},
	}
	for _, m := range r.etcdOrder(ctx) {
		ps = append(ps, workflow.Phase[*applyRun]{
			Name: "etcd-" + m.Name, Short: "etcd on " + m.Name + ": the target binary, a restart, healthy at the target and caught up",
			Run:    func(ctx context.Context, r *applyRun) error { return r.upgradeMember(ctx, m) },
			Verify: func(ctx context.Context, r *applyRun) error { return r.memberAtTarget(ctx, m) },
		})
	}
	nodes := append(c.HostsWithRole(cluster.RoleControlPlane), c.HostsWithRole(cluster.RoleWorker)...)
	ps = append(ps, workflow.Phase[*applyRun]{Name: "images", Short: "the target's images on every node, before any kubelet needs them",
		Run: func(ctx context.Context, r *applyRun) error { return r.images(ctx, nodes) }})
	for i, cp := range c.HostsWithRole(cluster.RoleControlPlane) {
		first := i == 0
		ps = append(ps, workflow.Phase[*applyRun]{
			Name: "control-plane-" + cp.Name, Short: "kubeadm upgrade on " + cp.Name + ", drained, its kubelet and kubectl, uncordoned",
			Run:    func(ctx context.Context, r *applyRun) error { return r.upgradeNodes(ctx, []cluster.Host{cp}, first) },
			Verify: func(ctx context.Context, r *applyRun) error { return r.nodesAtTarget(ctx, []cluster.Host{cp}) },
		})
	}
	for _, batch := range batches(c.HostsWithRole(cluster.RoleWorker), r.opts.MaxUnavailable) {
		ps = append(ps, workflow.Phase[*applyRun]{
			Name: "workers-" + names(batch), Short: "drained, kubeadm upgrade node, kubelet and kubectl, uncordoned: " + names(batch),
			Run:    func(ctx context.Context, r *applyRun) error { return r.upgradeNodes(ctx, batch, false) },
			Verify: func(ctx context.Context, r *applyRun) error { return r.nodesAtTarget(ctx, batch) },
		})
	}
	return ps
}

// batches splits hosts into groups of at most n, in the spec's order.
func batches(hosts []cluster.Host, n int) [][]cluster.Host {
	var out [][]cluster.Host
	for len(hosts) > 0 {
		k := min(n, len(hosts))
		out = append(out, hosts[:k])
		hosts = hosts[k:]
	}
	return out
}

func names(hs []cluster.Host) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return strings.Join(out, ",")
}

// preflight runs the plan's checks before anything changes, on every run
// (a resumed one too): any failed check stops the upgrade; a cluster that
// already runs the spec is done. A dry run only says it would check.
func (r *applyRun) preflight(ctx context.Context) (done bool, err error) {
	if r.DryRun() {
		r.Log("preflight", "", "would read the cluster and run the checks of `kubectl kbs upgrade plan`; any failed check stops the upgrade")
		return false, nil
	}
	p, err := r.stablePlan(ctx)
	if err != nil {
		return false, err
	}
	if bad := p.Failed(); len(bad) > 0 {
		var reasons []string
		for _, c := range p.Checks {
			if c.Result == Failed {
				reasons = append(reasons, c.Name+": "+c.Reason)
			}
		}
		return false, fmt.Errorf("the upgrade may not start: %s (kubectl kbs upgrade plan shows every check)", strings.Join(reasons, "; "))
	}
	if p.UpToDate() {
		r.Log("preflight", "", "nothing to upgrade: %s runs Kubernetes %s and etcd %s, as its spec says", p.Cluster, r.target, r.etcdTarget)
		return true, nil
	}
	r.Log("preflight", "", "every check passed: Kubernetes %s → %s, etcd %s → %s", p.Kubernetes.Current, r.target, p.Etcd.Current, r.etcdTarget)
	return false, nil
}

// transient are the checks a resumed run can find failing for a moment
// (a control plane's static pods restarting after its kubelet did): the
// plan is read again for up to NodeTimeout while only these fail. kubeadm's
// plan is one of them only when its own health checks failed ([ERROR …]):
// a version it disagrees on does not pass by waiting.
func transient(c Check) bool {
	switch c.Name {
	case "control-plane-pods", "nodes-ready", "etcd-healthy":
		return true
	case "kubeadm-upgrade-plan":
		return strings.Contains(c.Reason, "[ERROR")
	}
	return false
}

func (r *applyRun) stablePlan(ctx context.Context) (*Plan, error) {
	deadline := time.Now().Add(r.opts.NodeTimeout)
	for {
		p, err := MakePlan(ctx, r.Session, r.cs, Options{Window: r.opts.Window, EtcdTarget: r.etcdTarget})
		if err != nil {
			return nil, err
		}
		waiting := len(p.Failed()) > 0
		for _, c := range p.Checks {
			waiting = waiting && (c.Result != Failed || transient(c))
		}
		if !waiting || time.Now().After(deadline) {
			return p, nil
		}
		r.Log("preflight", "", "waiting for %s to pass (up to %s)", strings.Join(p.Failed(), ", "), r.opts.NodeTimeout)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

func (r *applyRun) snapshot(ctx context.Context) error {
	if r.DryRun() {
		r.Log("etcd-snapshot", "", "would save an etcd snapshot into the state directory's snapshots/")
		return nil
	}
	if r.opts.Snapshot == nil {
		return fmt.Errorf("no way to save an etcd snapshot was given: this is a bug in kbs")
	}
	path, err := r.opts.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("saving the etcd snapshot before the upgrade: %w", err)
	}
	r.Log("etcd-snapshot", "", "saved %s (restore it with kubectl kbs etcd restore --from %s)", path, path)
	return nil
}
