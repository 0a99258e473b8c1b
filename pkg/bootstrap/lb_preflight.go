package bootstrap

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// checkLoadBalancer is preflight for spec.loadBalancer: each control plane
// reaches the VIP on its own network, and the VIP is free: held by kbs's
// keepalived on a control plane (a re-run) or by no machine at all. A VIP
// another machine holds would split every client between two servers.
func checkLoadBalancer(ctx context.Context, d InitData) []finding {
	c := d.Cluster()
	if !c.ManagedLoadBalancer() {
		return nil
	}
	lb := c.Spec.LoadBalancer
	var mu sync.Mutex
	var rows []finding
	held := false
	cps := c.HostsWithRole(cluster.RoleControlPlane)
	_ = d.OnHosts(ctx, cps, func(ctx context.Context, h *host.Host) error {
		f := finding{h.Spec.Name, "load-balancer", statusOK, ""}
		// The grep must not fail the query on a host without keepalived.
		out, _, err := h.Query(ctx, "{ "+lbAddrQuery(lb.VIP, lb.Interface)+"; }; if grep -qs "+shell.Quote("Written by kbs for cluster "+c.Metadata.Name)+" "+KeepalivedConfig+"; then echo ours; fi")
		iface, src, holds, perr := parseLBAddr(out)
		switch {
		case err != nil:
			f.status, f.detail = statusFail, fmt.Sprintf("could not check: %v", err)
		case perr != nil:
			f.status, f.detail = statusFail, fmt.Sprintf("spec.loadBalancer.vip %s: %v: choose a free address of the control planes' network", lb.VIP, perr)
		case holds && !strings.HasSuffix(out, "ours"):
			f.status, f.detail = statusFail, fmt.Sprintf("%s already holds the VIP %s on %s, and not through kbs's keepalived: remove it there or choose another VIP", h.Spec.Name, lb.VIP, iface)
		case holds:
			f.detail = fmt.Sprintf("holds the VIP %s on %s (kbs's keepalived)", lb.VIP, iface)
		default:
			f.detail = fmt.Sprintf("VIP %s reachable on %s from %s", lb.VIP, iface, src)
		}
		mu.Lock()
		rows = append(rows, f)
		held = held || holds
		mu.Unlock()
		return nil
	})
	if held {
		return rows
	}
	return append(rows, vipAnswers(ctx, d, cps[0])...)
}

// vipAnswersCmd knocks on the VIP and reads the neighbour table: an entry
// with a link-layer address means a machine answered ARP for it — whatever
// it listens on, even nothing at all.
func vipAnswersCmd(vip string) string {
	q := shell.Quote(vip)
	// A cached entry may be minutes old: only a fresh answer counts.
	// The address goes to bash -c as an argument: its shell reads only
	// the quoted script, never the value.
	return "ip neigh flush to " + q + " 2>/dev/null; timeout 2 bash -c ': </dev/tcp/\"$1\"/22' bash " + q + " 2>/dev/null; ip neigh show " + q
}

// vipAnswers checks from the first control plane that no machine answers
// for the VIP.
func vipAnswers(ctx context.Context, d InitData, first cluster.Host) []finding {
	vip := d.Cluster().Spec.LoadBalancer.VIP
	var rows []finding
	_ = d.OnHosts(ctx, []cluster.Host{first}, func(ctx context.Context, h *host.Host) error {
		out, _, err := h.Probe(ctx, vipAnswersCmd(vip))
		f := finding{h.Spec.Name, "vip-free", statusOK, "no machine answers for " + vip}
		if mac := neighMAC(out); err == nil && mac != "" {
			f.status, f.detail = statusFail, fmt.Sprintf("%s is already in use: the machine with MAC %s answered ARP for it (ip neigh: %s); choose a free address for spec.loadBalancer.vip", vip, mac, strings.TrimSpace(out))
		}
		rows = append(rows, f)
		return nil
	})
	return rows
}

// neighMAC is the link-layer address of a reachable `ip neigh` entry.
func neighMAC(out string) string {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" && !strings.Contains(out, "FAILED") && !strings.Contains(out, "INCOMPLETE") {
			return f[i+1]
		}
	}
	return ""
}

// checkOperatorEndpoint is preflight for a load balancer the operator runs
// (spec.controlPlaneEndpoint that is none of the control planes): every
// node must reach it. Before init no API server is up behind it, so a load
// balancer that accepts connections only for healthy backends refuses them
// now: that is a warning; after init, the join of every control plane and
// worker goes through it and proves it.
func checkOperatorEndpoint(ctx context.Context, d InitData) []finding {
	c := d.Cluster()
	epHost, port, err := net.SplitHostPort(c.Spec.ControlPlaneEndpoint)
	if err != nil || c.ManagedLoadBalancer() || endpointIsFirstControlPlane(c) {
		return nil
	}
	cmd := "timeout 3 bash -c ': </dev/tcp/\"$1\"/\"$2\"' bash " + shell.Join(epHost, port) + " 2>&1"
	var mu sync.Mutex
	var rows []finding
	_ = d.OnHosts(ctx, KubeletHosts(c), func(ctx context.Context, h *host.Host) error {
		out, ok, _ := h.Probe(ctx, cmd)
		f := finding{h.Spec.Name, "endpoint", statusOK, "the endpoint " + c.Spec.ControlPlaneEndpoint + " accepts connections"}
		if !ok {
			f.status, f.detail = statusWarn, fmt.Sprintf("the endpoint %s does not accept connections (%s): fine if your load balancer accepts only once an API server is up behind it; otherwise check it and the firewall", c.Spec.ControlPlaneEndpoint, strings.TrimSpace(firstLine(out, "timed out")))
		}
		mu.Lock()
		rows = append(rows, f)
		mu.Unlock()
		return nil
	})
	return rows
}

// endpointIsFirstControlPlane says whether the endpoint is the (only)
// control plane itself rather than a load balancer.
func endpointIsFirstControlPlane(c *cluster.Cluster) bool {
	first := c.HostsWithRole(cluster.RoleControlPlane)[0]
	return strings.HasPrefix(c.Spec.ControlPlaneEndpoint, first.Address+":") || strings.HasPrefix(c.Spec.ControlPlaneEndpoint, first.Name+":")
}

func firstLine(s, orElse string) string {
	if s = strings.TrimSpace(s); s == "" {
		return orElse
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}
