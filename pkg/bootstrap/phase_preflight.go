package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// Preflight outcomes. A warning is reported and does not stop init: it names
// something a later phase (the runtime install) provides.
const (
	statusOK      = "ok"
	statusWarn    = "warn"
	statusFail    = "FAILED"
	statusIgnored = "ignored"
)

// check is one preflight check, run on the hosts of its roles.
type check struct {
	name  string
	roles []string // empty: every host
	cmd   string
	eval  func(out string, h cluster.Host, c *cluster.Cluster) (status, detail string)
}

var kubeRoles = []string{cluster.RoleControlPlane, cluster.RoleWorker}

func preflightPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "preflight",
		Short: "check every host (OS, systemd, swap, kernel modules, sysctls, runtime, kube binaries, time, ports) and reachability between hosts",
		Run:   runPreflight,
		// No Verify: preflight changes nothing, so there is no result to
		// check; the journal records that the hosts passed for this spec.
		// `kubectl kbs init phase preflight` checks them again.
	}
}

// finding is one row of the preflight table.
type finding struct{ host, check, status, detail string }

func runPreflight(ctx context.Context, d InitData) error {
	var mu sync.Mutex
	var rows []finding
	add := func(f finding) {
		if f.status == statusFail && slices.Contains(d.IgnoredChecks(), f.check) {
			f.status = statusIgnored
		}
		mu.Lock()
		rows = append(rows, f)
		mu.Unlock()
	}
	err := d.OnHosts(ctx, d.Cluster().Spec.Hosts, func(ctx context.Context, h *host.Host) error {
		_, _, _ = h.Probe(ctx, staleProbesCmd)
		for _, c := range preflightChecks {
			if len(c.roles) > 0 && !slices.Contains(c.roles, h.Spec.Role) {
				continue
			}
			if h.DryRun() {
				h.Plan("would check %s: %s", c.name, c.cmd)
				continue
			}
			out, _, err := h.Query(ctx, c.cmd)
			status, detail := statusFail, fmt.Sprintf("could not check: %v", err)
			if err == nil {
				status, detail = c.eval(out, h.Spec, d.Cluster())
			}
			add(finding{h.Spec.Name, c.name, status, detail})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !d.DryRun() {
		for _, f := range checkReachability(ctx, d) {
			add(f)
		}
		for _, f := range checkLoadBalancer(ctx, d) {
			add(f)
		}
		for _, f := range checkOperatorEndpoint(ctx, d) {
			add(f)
		}
	}
	return report(d, rows)
}

// report prints the table, sorted by host and check, and fails on failures.
func report(d InitData, rows []finding) error {
	slices.SortFunc(rows, func(a, b finding) int {
		return strings.Compare(a.host+"\x00"+a.check, b.host+"\x00"+b.check)
	})
	var failed []string
	for _, r := range rows {
		d.Log("preflight", "", "%-12s %-18s %-7s %s", r.host, r.check, r.status, r.detail)
		if r.status == statusFail {
			failed = append(failed, r.host+"/"+r.check)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("checks failed: %s (fix them, or skip a check by name with --ignore-preflight-checks)", strings.Join(failed, ", "))
	}
	return nil
}
