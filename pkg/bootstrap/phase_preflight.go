package bootstrap

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// check is one preflight check, run on the hosts of its roles.
type check struct {
	name  string
	roles []string // empty: every host
	cmd   string
	eval  func(out string, h cluster.Host) (ok bool, detail string)
}

// rolePorts are the TCP ports each role must have free, with the process
// allowed to hold one already (a re-run finds its own daemons listening).
// The notes' 10251/10252 are the insecure ports removed in 1.23.
var rolePorts = map[string]map[int]string{
	cluster.RoleEtcd:         {2379: "etcd", 2380: "etcd"},
	cluster.RoleControlPlane: {6443: "kube-apiserver", 10250: "kubelet", 10257: "kube-controller", 10259: "kube-scheduler"},
	cluster.RoleWorker:       {10250: "kubelet", 10256: "kube-proxy"},
}

var preflightChecks = []check{
	{name: "os", cmd: "uname -s -m", eval: func(out string, _ cluster.Host) (bool, string) {
		return out == "Linux x86_64" || out == "Linux aarch64", out
	}},
	{name: "systemd", cmd: "systemctl is-system-running || true", eval: func(out string, _ cluster.Host) (bool, string) {
		return out == "running" || out == "degraded", "system state " + out
	}},
	{name: "swap", roles: []string{cluster.RoleControlPlane, cluster.RoleWorker}, cmd: "swapon --noheadings --show | wc -l", eval: func(out string, _ cluster.Host) (bool, string) {
		return out == "0", "kubelet wants swap off; active swap devices: " + out
	}},
	{name: "ports", cmd: "ss -Hltnp", eval: portsFree},
}

var listenRE = regexp.MustCompile(`:(\d+)\s+\S+\s*(?:users:\(\("([^"]+)")?`)

func portsFree(out string, h cluster.Host) (bool, string) {
	holders := map[int]string{}
	for _, line := range strings.Split(out, "\n") {
		if m := listenRE.FindStringSubmatch(line); m != nil {
			port, _ := strconv.Atoi(m[1])
			holders[port] = m[2]
		}
	}
	var busy []string
	for port, ours := range rolePorts[h.Role] {
		if who, used := holders[port]; used && !strings.HasPrefix(who, ours) {
			busy = append(busy, fmt.Sprintf("%d (held by %q)", port, who))
		}
	}
	slices.Sort(busy)
	if len(busy) > 0 {
		return false, "ports in use: " + strings.Join(busy, ", ")
	}
	return true, "required ports free"
}

func preflightPhase() Phase[InitData] {
	return Phase[InitData]{
		Name:  "preflight",
		Short: "check every host: OS, systemd, swap, required ports",
		Run:   runPreflight,
	}
}

func runPreflight(ctx context.Context, d InitData) error {
	var mu sync.Mutex
	var failed []string
	err := d.OnHosts(ctx, d.Cluster().Spec.Hosts, func(ctx context.Context, h *Host) error {
		for _, c := range preflightChecks {
			if len(c.roles) > 0 && !slices.Contains(c.roles, h.Spec.Role) {
				continue
			}
			if h.DryRun() {
				h.plan("would check %s: %s", c.name, c.cmd)
				continue
			}
			out, _, err := h.Query(ctx, c.cmd)
			ok, detail := false, fmt.Sprintf("could not check: %v", err)
			if err == nil {
				ok, detail = c.eval(out, h.Spec)
			}
			status := "ok"
			if !ok {
				status = "FAILED"
				if slices.Contains(d.IgnoredChecks(), c.name) {
					status = "ignored"
				} else {
					mu.Lock()
					failed = append(failed, h.Spec.Name+"/"+c.name)
					mu.Unlock()
				}
			}
			d.Log("preflight", h.Spec.Name, "%-8s %-7s %s", c.name, status, detail)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return fmt.Errorf("checks failed: %s (fix them, or skip a check by name with --ignore-preflight-checks)", strings.Join(failed, ", "))
	}
	return nil
}
