package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// setHAProxyBackends rewrites haproxy's servers on members (a graceful
// reload: open connections to the remaining API servers stay).
func setHAProxyBackends(ctx context.Context, d InitData, members, backends []cluster.Host) error {
	cfg := RenderHAProxy(d.Cluster(), backends)
	return d.OnHosts(ctx, members, func(ctx context.Context, h *host.Host) error {
		reloaded, err := ensureLoaded(ctx, h, host.File{Path: HAProxyConfig, Data: cfg, Mode: 0o644},
			"haproxy -c -q -f "+HAProxyConfig+" && systemctl reload-or-restart haproxy")
		if err != nil || !reloaded {
			return err
		}
		if !h.DryRun() {
			d.Log("load-balancer", h.Spec.Name, "haproxy forwards to %s", hostNames(backends))
		}
		return nil
	})
}

// leaveLoadBalancer stops keepalived and haproxy on a control plane being
// reset, before its API server goes: keepalived hands the VIP over as it
// stops (an advertisement of priority 0), so clients move to another
// control plane at once. Its configuration goes too (it holds the VRRP
// password); the packages stay, like the runtime.
func leaveLoadBalancer(ctx context.Context, d InitData, h *host.Host) error {
	vip := shell.Quote(d.Cluster().Spec.LoadBalancer.VIP + "/32")
	cmd := "systemctl disable -q --now keepalived haproxy 2>/dev/null; rm -f " + KeepalivedConfig +
		"; dev=$(ip -o -4 addr show to " + vip + " | awk '{print $2; exit}'); [ -z \"$dev\" ] || ip addr del " + vip + " dev \"$dev\""
	if err := h.Exec(ctx, "stop keepalived and haproxy (the VIP moves to another control plane)", cmd); err != nil {
		return err
	}
	if !h.DryRun() {
		d.Log("reset", h.Spec.Name, "keepalived and haproxy stopped; out of the load balancer")
	}
	return nil
}

// endpointServes waits until one of the remaining control planes holds the
// VIP and the API answers through the endpoint.
func endpointServes(ctx context.Context, d InitData, remaining []cluster.Host) error {
	if d.Cluster().ManagedLoadBalancer() {
		holder, err := waitVIP(ctx, d, remaining)
		if err != nil {
			return err
		}
		d.Log("endpoint", holder, "holds the VIP %s", d.Cluster().Spec.LoadBalancer.VIP)
	}
	_, cfg, err := adminClient(d)
	if err != nil {
		return err
	}
	if err := workflow.Retry(ctx, 500*time.Millisecond, time.Minute, func(ctx context.Context) error {
		return readyzAt(ctx, cfg, d.Cluster().Spec.ControlPlaneEndpoint)
	}); err != nil {
		return fmt.Errorf("the endpoint %s does not answer since the reset: %w", d.Cluster().Spec.ControlPlaneEndpoint, err)
	}
	d.Log("endpoint", "", "the API answers through %s (served by %s)", d.Cluster().Spec.ControlPlaneEndpoint, hostNames(remaining))
	return nil
}
