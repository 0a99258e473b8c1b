package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// probe is one path that must be open between two hosts.
type probe struct {
	from, to cluster.Host
	port     int
	proto    string // tcp or udp
	why      string
}

type endpoint struct {
	host  string
	port  int
	proto string
}

// probes lists the paths a kubeadm cluster with an external etcd needs:
// control planes to etcd clients, etcd peers to each other, workers to the
// API server, and (flannel) VXLAN between every pair of nodes.
func probes(c *cluster.Cluster) []probe {
	var ps []probe
	etcd, cps, workers := c.HostsWithRole(cluster.RoleEtcd), c.HostsWithRole(cluster.RoleControlPlane), c.HostsWithRole(cluster.RoleWorker)
	for _, cp := range cps {
		for _, e := range etcd {
			ps = append(ps, probe{cp, e, etcdhost.ClientPort, "tcp", "API server to etcd"})
		}
	}
	for _, a := range etcd {
		for _, b := range etcd {
			if a.Name != b.Name {
				ps = append(ps, probe{a, b, etcdhost.PeerPort, "tcp", "etcd peers"})
			}
		}
	}
	for _, w := range workers {
		for _, cp := range cps {
			ps = append(ps, probe{w, cp, 6443, "tcp", "kubelet to API server"})
			if lb := c.Spec.LoadBalancer; lb != nil {
				ps = append(ps, probe{w, cp, lb.Port, "tcp", "kubelet to the endpoint (haproxy)"})
			}
		}
	}
	if len(cps) > 1 {
		for _, a := range cps {
			for _, b := range cps {
				if a.Name != b.Name {
					ps = append(ps, probe{a, b, 6443, "tcp", "control plane to API server (haproxy, join)"})
				}
			}
		}
	}
	if c.Spec.CNI.Plugin == cluster.CNIFlannel {
		nodes := append(append([]cluster.Host{}, cps...), workers...)
		for _, a := range nodes {
			for _, b := range nodes {
				if a.Name != b.Name {
					ps = append(ps, probe{a, b, 8472, "udp", "flannel VXLAN"})
				}
			}
		}
	}
	return ps
}

// checkReachability starts short-lived listeners (socat) where nothing
// listens yet, probes every path from its source host, and cleans up. It
// answers what no single-host check can: is the firewall between hosts open.
func checkReachability(ctx context.Context, d InitData) []finding {
	ps := probes(d.Cluster())
	if len(ps) == 0 {
		return nil
	}
	r := &reach{d: d, pids: map[string][]string{}, listening: map[string]map[int]string{}, vxlan: map[string]bool{}}
	if missing := r.prepare(ctx); len(missing) > 0 {
		return []finding{{"(all)", "reachability", statusWarn, "socat is not installed on " + strings.Join(missing, ", ") + ": cross-host paths not checked"}}
	}
	defer r.cleanup(ctx)
	if err := r.listen(ctx, ps); err != nil {
		return []finding{{"(all)", "reachability", statusFail, err.Error()}}
	}
	return r.run(ctx, ps)
}

type reach struct {
	d         InitData
	mu        sync.Mutex
	pids      map[string][]string       // listeners started, by host
	listening map[string]map[int]string // existing TCP listeners, by host
	vxlan     map[string]bool           // hosts whose VXLAN device owns 8472/udp
}

func (r *reach) hosts() []cluster.Host { return r.d.Cluster().Spec.Hosts }

// prepare checks for socat and notes what already listens on each host.
func (r *reach) prepare(ctx context.Context) []string {
	var missing []string
	_ = r.d.OnHosts(ctx, r.hosts(), func(ctx context.Context, h *host.Host) error {
		_, ok, _ := h.Query(ctx, "command -v socat")
		ss, _, _ := h.Query(ctx, "ss -Hltnp")
		// On a running cluster the kernel's VXLAN device holds 8472/udp: no
		// listener can bind it, and datagrams go to the overlay.
		vx, _, _ := h.Query(ctx, "ip -d link show type vxlan 2>/dev/null | grep -c 'dstport 8472' || true")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.vxlan[h.Spec.Name] = vx != "" && vx != "0"
		if !ok {
			missing = append(missing, h.Spec.Name)
		}
		r.listening[h.Spec.Name] = listeners(ss)
		return nil
	})
	return missing
}

// listen starts a listener for every probed endpoint nothing serves yet.
func (r *reach) listen(ctx context.Context, ps []probe) error {
	want := map[string][]endpoint{}
	seen := map[endpoint]bool{}
	for _, p := range ps {
		ep := endpoint{p.to.Name, p.port, p.proto}
		if seen[ep] || (p.proto == "tcp" && r.listening[p.to.Name][p.port] != "") || (p.proto == "udp" && r.vxlan[p.to.Name]) {
			continue
		}
		seen[ep] = true
		want[p.to.Name] = append(want[p.to.Name], ep)
	}
	return r.d.OnHosts(ctx, r.hosts(), func(ctx context.Context, h *host.Host) error {
		for _, ep := range want[h.Spec.Name] {
			pid, _, err := h.Probe(ctx, listenerCmd(ep))
			if err != nil {
				return fmt.Errorf("starting a %s listener on %s:%d: %w", ep.proto, ep.host, ep.port, err)
			}
			r.mu.Lock()
			r.pids[h.Spec.Name] = append(r.pids[h.Spec.Name], pid)
			r.mu.Unlock()
		}
		return nil
	})
}

// staleProbesCmd ends the probe listeners a kbs that was killed during
// preflight left behind (they would hold the ports the next run checks
// are free, for up to their minute). The pattern is anchored to the
// listeners' own command lines (timeout's and socat's), so it matches
// neither the shell that runs pkill nor a sudo around it.
const staleProbesCmd = `pkill -f '^(timeout [0-9]+ )?socat .*(kbs-prob[e]|/tmp/kbs-ud[p]-)' 2>/dev/null; rm -f /tmp/kbs-udp-*; true`

// listenerCmd starts a listener that ends by itself within a minute, waits
// until it is bound (a probe must not race it), and prints its PID.
func listenerCmd(ep endpoint) string {
	start, ss := fmt.Sprintf("socat TCP-LISTEN:%d,fork,reuseaddr SYSTEM:'true kbs-probe'", ep.port), "-Hltn"
	if ep.proto == "udp" {
		start, ss = fmt.Sprintf("socat -u UDP-RECV:%[1]d,reuseaddr OPEN:/tmp/kbs-udp-%[1]d,creat,append", ep.port), "-Hlun"
	}
	return fmt.Sprintf(`rm -f /tmp/kbs-udp-%[1]d; setsid nohup timeout 60 %[2]s >/dev/null 2>&1 & pid=$!
for i in $(seq 50); do ss %[3]s "sport = :%[1]d" | grep -q . && break; sleep 0.1; done; echo $pid`, ep.port, start, ss)
}

// run probes each path from its source; UDP arrivals are read back from
// the receivers afterwards.
func (r *reach) run(ctx context.Context, ps []probe) []finding {
	var out []finding
	var mu sync.Mutex
	result := func(p probe, ok bool, detail string) {
		mu.Lock()
		defer mu.Unlock()
		status := okIf(ok, statusFail)
		out = append(out, finding{p.from.Name, "reachability", status, fmt.Sprintf("→ %s:%d/%s (%s) %s", p.to.Name, p.port, p.proto, p.why, detail)})
	}
	_ = r.d.OnHosts(ctx, r.hosts(), func(ctx context.Context, h *host.Host) error {
		for _, p := range ps {
			if p.from.Name != h.Spec.Name {
				continue
			}
			if p.proto == "tcp" {
				_, ok, _ := h.Query(ctx, "socat -u /dev/null "+shell.Quote(fmt.Sprintf("TCP:%s:%d,connect-timeout=3", p.to.Address, p.port)))
				result(p, ok, map[bool]string{true: "open", false: "no connection"}[ok])
				continue
			}
			if r.vxlan[p.to.Name] {
				continue
			}
			// Three datagrams: one lost on a busy host is not a closed port.
			for range 3 {
				_, _, _ = h.Probe(ctx, "echo "+shell.Quote("kbs-probe-from-"+p.from.Name)+" | socat -u - "+shell.Quote(fmt.Sprintf("UDP-SENDTO:%s:%d", p.to.Address, p.port)))
			}
		}
		return nil
	})
	senders := map[string][]string{} // by receiving host
	for _, p := range ps {
		if p.proto == "udp" && !r.vxlan[p.to.Name] {
			senders[p.to.Name] = append(senders[p.to.Name], "kbs-probe-from-"+p.from.Name)
		}
	}
	received := map[string]string{}
	_ = r.d.OnHosts(ctx, r.hosts(), func(ctx context.Context, h *host.Host) error {
		want := senders[h.Spec.Name]
		if len(want) == 0 {
			return nil
		}
		// Up to half a second for the datagrams, but no longer than they take.
		got, _, _ := h.Query(ctx, fmt.Sprintf(`f=/tmp/kbs-udp-8472; for i in $(seq 10); do all=1; for w in %s; do grep -qx "$w" $f 2>/dev/null || all=0; done; [ $all = 1 ] && break; sleep 0.05; done; cat $f 2>/dev/null || true`, shell.Join(want...)))
		mu.Lock()
		received[h.Spec.Name] = got
		mu.Unlock()
		return nil
	})
	for _, p := range ps {
		if p.proto == "udp" && r.vxlan[p.to.Name] {
			result(p, true, "not probed: the pod network's VXLAN device already serves it there")
			continue
		}
		if p.proto == "udp" {
			ok := strings.Contains(received[p.to.Name], "kbs-probe-from-"+p.from.Name+"\n") || strings.HasSuffix(received[p.to.Name], "kbs-probe-from-"+p.from.Name)
			result(p, ok, map[bool]string{true: "datagram arrived", false: "datagram lost"}[ok])
		}
	}
	return out
}

func (r *reach) cleanup(ctx context.Context) {
	_ = r.d.OnHosts(context.WithoutCancel(ctx), r.hosts(), func(ctx context.Context, h *host.Host) error {
		if pids := r.pids[h.Spec.Name]; len(pids) > 0 {
			_, _, _ = h.Probe(ctx, "kill "+strings.Join(pids, " ")+" 2>/dev/null; rm -f /tmp/kbs-udp-*; true")
		}
		return nil
	})
}
