package upgrade

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// memberMetrics are the two numbers of an etcd member's /metrics the
// upgrade needs: whether it leads, and the raft index it has applied.
type memberMetrics struct {
	leader  bool
	applied int64
}

// readMetrics asks a member for /metrics (Prometheus text).
func readMetrics(ctx context.Context, hc *http.Client, base string) (memberMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return memberMetrics{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return memberMetrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return memberMetrics{}, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	return parseMetrics(bufio.NewScanner(resp.Body))
}

func parseMetrics(sc *bufio.Scanner) (memberMetrics, error) {
	var m memberMetrics
	found := 0
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "etcd_server_is_leader":
			m.leader = strings.TrimSpace(value) == "1"
			found++
		case "etcd_server_proposals_applied_total":
			f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return m, fmt.Errorf("etcd_server_proposals_applied_total %q: %w", value, err)
			}
			m.applied = int64(f)
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if found < 2 {
		return m, fmt.Errorf("the member's /metrics lacks etcd_server_is_leader or etcd_server_proposals_applied_total")
	}
	return m, nil
}

// etcdOrder is the order members are upgraded in: followers first, the
// leader last, so leadership moves once at most. In a dry run, or when the
// leader cannot be told, the spec's order.
func (r *applyRun) etcdOrder(ctx context.Context) []cluster.Host {
	members := r.Cluster().HostsWithRole(cluster.RoleEtcd)
	if r.DryRun() {
		return members
	}
	var followers, leaders []cluster.Host
	for _, m := range members {
		mm, err := readMetrics(ctx, r.etcd, etcdhost.ClientURL(m))
		if err == nil && mm.leader {
			leaders = append(leaders, m)
		} else {
			followers = append(followers, m)
		}
	}
	return append(followers, leaders...)
}

// upgradeMember installs the target etcd on one member and restarts it,
// then waits until it answers healthy at the target and has applied the
// raft index the cluster had reached before the restart.
func (r *applyRun) upgradeMember(ctx context.Context, m cluster.Host) error {
	phase := "etcd-" + m.Name
	base := etcdhost.ClientURL(m)
	if !r.DryRun() {
		if cur := askMember(ctx, r.etcd, base); cur.Healthy && cur.Version == r.etcdTarget {
			r.Log(phase, m.Name, "already at %s and healthy", r.etcdTarget)
			return nil
		}
	}
	if r.DryRun() {
		r.Log("plan", m.Name, "would install etcd %s (%s) with its certificates and unit, restart etcd, and wait until it is healthy at %s and caught up", r.etcdTarget, binarySource(r.Cluster()), r.etcdTarget)
		return nil
	}
	before := r.clusterApplied(ctx)
	p, err := etcdhost.ReadPKI(r.Cluster(), r.State())
	if err != nil {
		return err
	}
	var start time.Time
	err = r.OnHosts(ctx, []cluster.Host{m}, func(ctx context.Context, h *host.Host) error {
		if _, err := etcdhost.InstallFiles(ctx, r.Cluster(), h, p, nil); err != nil {
			return err
		}
		start = time.Now()
		return h.Exec(ctx, "restart etcd", "systemctl daemon-reload && systemctl restart "+etcdhost.UnitName)
	})
	if err != nil {
		return err
	}
	err = workflow.Retry(ctx, time.Second, r.opts.NodeTimeout, func(ctx context.Context) error {
		cur := askMember(ctx, r.etcd, base)
		switch {
		case !cur.Healthy:
			return fmt.Errorf("not healthy: %s", cur.Error)
		case cur.Version != r.etcdTarget:
			return fmt.Errorf("answers as %s, not %s", cur.Version, r.etcdTarget)
		}
		mm, err := readMetrics(ctx, r.etcd, base)
		if err != nil {
			return err
		}
		if mm.applied < before {
			return fmt.Errorf("applied raft index %d, behind the %d the cluster had reached", mm.applied, before)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s after its restart: %w (on %s: journalctl -u %s; the snapshot saved first restores the data)", m.Name, err, m.Name, etcdhost.UnitName)
	}
	r.Trace("etcd restart until healthy", start)
	r.Log(phase, m.Name, "at %s, healthy and caught up in %s", r.etcdTarget, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// clusterApplied is the highest raft index any member has applied (0 in a
// dry run or when none answers).
func (r *applyRun) clusterApplied(ctx context.Context) int64 {
	if r.DryRun() {
		return 0
	}
	var most int64
	for _, m := range r.Cluster().HostsWithRole(cluster.RoleEtcd) {
		if mm, err := readMetrics(ctx, r.etcd, etcdhost.ClientURL(m)); err == nil && mm.applied > most {
			most = mm.applied
		}
	}
	return most
}

// memberAtTarget is the etcd phases' check on a re-run.
func (r *applyRun) memberAtTarget(ctx context.Context, m cluster.Host) error {
	cur := askMember(ctx, r.etcd, etcdhost.ClientURL(m))
	if !cur.Healthy || cur.Version != r.etcdTarget {
		return fmt.Errorf("%s runs etcd %q (healthy: %t), not %s", m.Name, cur.Version, cur.Healthy, r.etcdTarget)
	}
	return nil
}

// binarySource says where the target etcd comes from.
func binarySource(c *cluster.Cluster) string {
	if c.Spec.Etcd.Binary != "" {
		return "uploaded from " + c.Spec.Etcd.Binary
	}
	return "already on the host"
}
