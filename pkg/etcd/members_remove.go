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

// RemoveMember shrinks etcd by one member: the API servers stop using it
// first, leadership moves away from it, it leaves the cluster, and etcd on
// the host is stopped with its data moved aside.
func RemoveMember(ctx context.Context, e *Env, name string, o MemberOptions) error {
	cli, rows, err := liveClient(ctx, e, name)
	if err != nil {
		return err
	}
	defer cli.Close()
	members, err := memberList(ctx, cli)
	if err != nil {
		return err
	}
	var target *memberInfo
	for _, m := range members {
		if m.Name == name || (m.Name == "" && specPeer(e.Spec, name) != "" && slices.Contains(m.PeerURLs, specPeer(e.Spec, name))) {
			target = m
		}
	}
	scope := "etcd-member-remove " + name
	if target == nil {
		// Out of etcd already: fine when an earlier remove got that far and
		// was interrupted (the rest — stopping etcd there — is still to do).
		j, err := host.OperationJournal(e.Session, scope)
		if err != nil {
			return err
		}
		if !j.Started() {
			return fmt.Errorf("%s is not a member of etcd (members: %s)", name, memberNames(members))
		}
	}
	if len(members) == 1 && target != nil {
		return fmt.Errorf("%s is etcd's only member: removing it would destroy the cluster (kubectl kbs reset --etcd-data does that on purpose)", name)
	}
	for _, r := range rows {
		if r.Name != name && r.ID != "" && !r.Healthy && !o.Force {
			return fmt.Errorf("member %s is not healthy (%s): removing %s now could cost etcd its quorum; fix it first, or --force", r.Name, r.Error, name)
		}
	}
	return host.RunOperation(ctx, e.Session, e, scope,
		workflow.Phase[*Env]{Name: "apiservers", Short: "every API server's --etcd-servers and kubeadm-config without it",
			Run: func(ctx context.Context, e *Env) error {
				if o.SkipAPIServers {
					return nil
				}
				var rest []string
				for _, ep := range votingEndpoints(ctx, e, cli) {
					if ep != specClient(e.Spec, name) {
						rest = append(rest, ep)
					}
				}
				return SetAPIServerEndpoints(ctx, e, rest)
			}},
		workflow.Phase[*Env]{Name: "remove", Short: "leadership moved away, the member removed from etcd",
			Verify: func(context.Context, *Env) error {
				if target != nil {
					return fmt.Errorf("%s is still a member", name)
				}
				return nil
			},
			Run: func(ctx context.Context, e *Env) error {
				if target == nil {
					return nil // removed by the run that was interrupted
				}
				if err := moveLeaderOff(ctx, e, rows, target); err != nil {
					return err
				}
				if err := removeWhenSafe(ctx, cli, target.ID); err != nil {
					return fmt.Errorf("removing %s from etcd: %s", name, describe(err))
				}
				e.Session.Log("etcd", name, "removed from the cluster (member %x)", target.ID)
				return nil
			}},
		workflow.Phase[*Env]{Name: "stop", Short: "etcd stopped and disabled on the host, its data kept",
			Run: func(ctx context.Context, e *Env) error { return stopRemoved(ctx, e, name) }},
	)
}

// removeWhenSafe removes a member, waiting while etcd refuses because the
// rest would not be a healthy quorum yet (a member that joined seconds ago
// does not count as active until the leader has heard from it for a
// while).
func removeWhenSafe(ctx context.Context, cli *clientv3.Client, id uint64) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, last = cli.MemberRemove(rctx, id)
		cancel()
		unhealthy := last != nil && (errors.Is(last, rpctypes.ErrUnhealthy) || strings.Contains(last.Error(), "unhealthy cluster"))
		if last != nil && !unhealthy {
			return false, last
		}
		return last == nil, nil
	})
	if err != nil && ctx.Err() == nil && last != nil {
		return last // still refused after a minute: etcd's own reason
	}
	return err
}

// moveLeaderOff hands leadership to another healthy member when the one
// leaving leads, so the cluster does not wait out an election.
func moveLeaderOff(ctx context.Context, e *Env, rows []MemberStatus, target *memberInfo) error {
	var leader, next *MemberStatus
	for i := range rows {
		r := &rows[i]
		if r.ID == fmt.Sprintf("%x", target.ID) && r.Leader {
			leader = r
		} else if r.Healthy && !r.Learner && next == nil && r.ID != fmt.Sprintf("%x", target.ID) {
			next = r
		}
	}
	if leader == nil || next == nil {
		return nil
	}
	cli, _, err := e.Dial(leader.Endpoint)
	if err != nil {
		return err
	}
	defer cli.Close()
	var id uint64
	fmt.Sscanf(next.ID, "%x", &id)
	mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := cli.MoveLeader(mctx, id); err != nil {
		return fmt.Errorf("moving etcd leadership from %s to %s: %s", leader.Name, next.Name, describe(err))
	}
	e.Session.Log("etcd", leader.Name, "leadership moved to %s", next.Name)
	return nil
}

// stopRemoved stops etcd on a removed member's host; a host that cannot
// be reached is reported, not an error: the cluster no longer needs it.
func stopRemoved(ctx context.Context, e *Env, name string) error {
	h, err := specHost(e.Spec, name)
	if err != nil {
		e.Session.Log("etcd", name, "not in the spec: stop etcd on it yourself")
		return nil
	}
	data := e.Spec.Spec.Etcd.DataDir
	aside := fmt.Sprintf("%s.removed-%s", data, time.Now().UTC().Format("20060102T150405Z"))
	err = e.Session.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
		return hh.Exec(ctx, "stop etcd and move its data aside", fmt.Sprintf("systemctl disable --now etcd.service; rm -f %s; if [ -e %s ]; then mv %s %s; fi",
			etcdhost.InitialEnvPath, shell.Quote(data), shell.Quote(data), shell.Quote(aside)))
	})
	if err != nil {
		e.Session.Log("etcd", name, "could not stop etcd there (%v): it is out of the cluster anyway; stop it by hand", err)
		return nil
	}
	e.Session.Log("etcd", name, "etcd stopped and disabled, its data kept in %s; now remove %s from the spec (or give it another role)", aside, name)
	return nil
}
