package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// MemberOptions tune a membership change.
type MemberOptions struct {
	// SkipAPIServers leaves the API servers' --etcd-servers alone (they are
	// restarted to change it; do it later with a re-run).
	SkipAPIServers bool
	// Force removes a member even though the others are not all healthy.
	Force bool
}

// specHost is the spec's etcd host called name.
func specHost(c *cluster.Cluster, name string) (cluster.Host, error) {
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		if h.Name == name {
			return h, nil
		}
	}
	return cluster.Host{}, fmt.Errorf("%s is not an etcd host of the spec: add it under spec.hosts with role etcd first", name)
}

// liveClient dials the members that answer, so that calls never land on
// the member being added or removed.
func liveClient(ctx context.Context, e *Env, except string) (*clientv3.Client, []MemberStatus, error) {
	rows, err := Status(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	var eps []string
	for _, r := range rows {
		if r.Healthy && !r.Learner && r.Name != except {
			eps = append(eps, r.Endpoint)
		}
	}
	if len(eps) == 0 {
		return nil, rows, fmt.Errorf("no healthy etcd member besides %s: %s", except, summary(rows))
	}
	cli, _, err := e.Dial(eps...)
	return cli, rows, err
}

// AddMember grows etcd by the spec's host name: certificates from the etcd
// CA, etcd installed there to join the existing cluster as a learner,
// promoted to a voting member once it has caught up, and then the API
// servers pointed at every member. Each step can be re-run: a member
// already added is picked up where it stopped.
func AddMember(ctx context.Context, e *Env, name string, o MemberOptions) error {
	h, err := specHost(e.Spec, name)
	if err != nil {
		return err
	}
	cli, rows, err := liveClient(ctx, e, name)
	if err != nil {
		return err
	}
	defer cli.Close()
	for _, r := range rows {
		if r.InSpec && r.Name != name && !r.Healthy && r.ID != "" {
			return fmt.Errorf("member %s is not healthy (%s): adding a member now could cost etcd its quorum; fix it first", r.Name, r.Error)
		}
	}
	// Each phase's Verify asks etcd itself, so a journal entry from an
	// earlier add that was undone since (member remove) never skips work.
	listed := func(wantVoting bool) func(context.Context, *Env) error {
		return func(ctx context.Context, _ *Env) error {
			m, err := memberByPeer(ctx, cli, h)
			switch {
			case err != nil:
				return err
			case m == nil || m.Name == "":
				return fmt.Errorf("%s is not a started member of etcd", name)
			case wantVoting && m.IsLearner:
				return fmt.Errorf("%s is still a learner", name)
			}
			return nil
		}
	}
	return host.RunOperation(ctx, e.Session, e, "etcd-member-add "+name,
		workflow.Phase[*Env]{Name: "learner", Short: "certificates from the etcd CA; added as a learner; etcd started there to join",
			Run:    func(ctx context.Context, e *Env) error { _, err := learner(ctx, e, cli, h); return err },
			Verify: listed(false)},
		workflow.Phase[*Env]{Name: "promote", Short: "promoted to a voting member once caught up, and healthy",
			Run: func(ctx context.Context, e *Env) error {
				// Only listed, never installed again: a learner has no name
				// until it has started and published, and learner() would
				// take that for one that never started.
				m, err := memberByPeer(ctx, cli, h)
				if err != nil {
					return err
				}
				if m == nil {
					return fmt.Errorf("%s is not a member of etcd any more: run kubectl kbs etcd member add %s again", name, name)
				}
				if m.IsLearner {
					if err := promote(ctx, e, cli, h, m.ID); err != nil {
						return err
					}
				}
				if err := waitMemberHealthy(ctx, e, name, 2*time.Minute); err != nil {
					return err
				}
				e.Session.Log("etcd", name, "a voting member of etcd")
				return nil
			},
			Verify: listed(true)},
		workflow.Phase[*Env]{Name: "apiservers", Short: "--etcd-servers of every API server and kubeadm-config include it",
			Run: func(ctx context.Context, e *Env) error {
				if o.SkipAPIServers {
					return nil
				}
				return SetAPIServerEndpoints(ctx, e, votingEndpoints(ctx, e, cli))
			}},
	)
}

// memberByPeer is the member the cluster lists under h's peer URL (nil
// when none).
func memberByPeer(ctx context.Context, cli *clientv3.Client, h cluster.Host) (*memberInfo, error) {
	members, err := memberList(ctx, cli)
	if err != nil {
		return nil, err
	}
	return byPeerURL(members, etcdhost.PeerURL(h)), nil
}

// learner adds h as a learner (unless the cluster already lists it) and
// starts etcd there; it returns the member as the cluster lists it.
func learner(ctx context.Context, e *Env, cli *clientv3.Client, h cluster.Host) (*memberInfo, error) {
	members, err := memberList(ctx, cli)
	if err != nil {
		return nil, err
	}
	peer := etcdhost.PeerURL(h)
	m := byPeerURL(members, peer)
	if m != nil && m.Name != "" {
		return m, nil // started before: nothing to install
	}
	if m == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := cli.MemberAddAsLearner(actx, []string{peer})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("adding %s as a learner: %s", h.Name, describe(err))
		}
		e.Session.Log("etcd", h.Name, "added to the cluster as learner %x", resp.Member.ID)
		if members, err = memberList(ctx, cli); err != nil {
			return nil, err
		}
		m = byPeerURL(members, peer)
	}
	var initial []etcdhost.InitialMember
	for _, x := range members {
		n := x.Name
		if x == m {
			n = h.Name
		}
		if n != "" && len(x.PeerURLs) > 0 {
			initial = append(initial, etcdhost.InitialMember{Name: n, PeerURL: x.PeerURLs[0]})
		}
	}
	env := etcdhost.RenderInitialEnv(initial, "existing", etcdhost.ClusterToken(e.Spec))
	return m, e.Session.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
		return startJoining(ctx, e, hh, env)
	})
}

// startJoining installs etcd on a host that joins an existing cluster;
// data left there by an earlier life is moved aside, never deleted.
func startJoining(ctx context.Context, e *Env, h *host.Host, env []byte) error {
	p, issued, err := etcdhost.LoadPKI(e.Spec, e.State, []string{})
	if err != nil {
		return err
	}
	if len(issued) > 0 {
		e.Session.Log("etcd", h.Spec.Name, "issued %s from the etcd CA", strings.Join(issued, ", "))
	}
	data := e.Spec.Spec.Etcd.DataDir
	stale := fmt.Sprintf("%s.stale-%s", data, time.Now().UTC().Format("20060102T150405Z"))
	if err := h.Exec(ctx, "move stale etcd data aside", fmt.Sprintf("systemctl stop etcd.service 2>/dev/null; if [ -d %s/member ]; then mv %s %s; fi", shell.Quote(data), shell.Quote(data), shell.Quote(stale))); err != nil {
		return err
	}
	if _, err := etcdhost.InstallFiles(ctx, e.Spec, h, p, env); err != nil {
		return err
	}
	e.Session.Log("etcd", h.Spec.Name, "starting etcd to join the existing cluster")
	return h.Exec(ctx, "start etcd", "systemctl daemon-reload && systemctl enable --quiet etcd.service && systemctl restart --no-block etcd.service")
}

// promote makes the learner a voting member once it has caught up with
// the leader (etcd refuses before that).
func promote(ctx context.Context, e *Env, cli *clientv3.Client, h cluster.Host, id uint64) error {
	var failed error
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cli.MemberPromote(pctx, id)
		cancel()
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, rpctypes.ErrMemberLearnerNotReady) || strings.Contains(err.Error(), "not in sync"):
			return false, nil // not caught up yet
		}
		failed = fmt.Errorf("promoting %s: %s", h.Name, describe(err))
		return false, failed
	})
	switch {
	case failed != nil:
		return failed
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("%s has not caught up with the leader within 3m (on the host: journalctl -u etcd); run member add again to retry", h.Name)
	}
	e.Session.Log("etcd", h.Name, "promoted from learner to voting member")
	return nil
}

// votingEndpoints are the client URLs of the voting members, in spec
// order (the API server tries them in that order).
func votingEndpoints(ctx context.Context, e *Env, cli *clientv3.Client) []string {
	members, _ := memberList(ctx, cli)
	var out []string
	for _, m := range Members(e.Spec) {
		for _, x := range members {
			if !x.IsLearner && x.Name != "" && slices.Contains(x.PeerURLs, m.PeerURL) {
				out = append(out, m.Endpoint)
			}
		}
	}
	return out
}

func waitMemberHealthy(ctx context.Context, e *Env, name string, timeout time.Duration) error {
	return waitStatus(ctx, e, timeout, func(rows []MemberStatus) bool {
		return slices.ContainsFunc(rows, func(r MemberStatus) bool { return r.Name == name && r.Healthy && !r.Learner })
	})
}

func byPeerURL(ms []*memberInfo, peer string) *memberInfo {
	for _, m := range ms {
		if slices.Contains(m.PeerURLs, peer) {
			return m
		}
	}
	return nil
}

func specPeer(c *cluster.Cluster, name string) string {
	if h, err := specHost(c, name); err == nil {
		return etcdhost.PeerURL(h)
	}
	return ""
}

func specClient(c *cluster.Cluster, name string) string {
	if h, err := specHost(c, name); err == nil {
		return etcdhost.ClientURL(h)
	}
	return ""
}

func memberNames(ms []*memberInfo) string {
	var n []string
	for _, m := range ms {
		n = append(n, m.Name)
	}
	return strings.Join(n, ", ")
}
