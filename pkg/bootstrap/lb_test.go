package bootstrap

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// The load balancer's configurations for the HA example: haproxy's on
// every control plane, keepalived's on the first (highest priority, the
// others as unicast peers), and the second control plane's JoinConfiguration.
func TestRenderLoadBalancer(t *testing.T) {
	c := loadExample(t, "ha/prod")
	cps := c.HostsWithRole("control-plane")
	members := make([]lbMember, len(cps))
	for i, h := range cps {
		members[i] = lbMember{Host: h, Interface: "eth0", Source: h.Address}
	}
	golden(t, "ha-haproxy.cfg", RenderHAProxy(c, cps))
	golden(t, "ha-keepalived-master-0.conf", RenderKeepalived(c, members[0], members, "s3cr3tpw"))
	cfg, err := RenderKubeadmConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ha-kubeadm.yaml", cfg)
	join, err := RenderControlPlaneJoinConfig(c, cps[1], "abcdef.0123456789abcdef", "sha256:00")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ha-join-master-1.yaml", join)
	for _, want := range []string{"controlPlaneEndpoint: 10.10.0.100:8443", "bindPort: 6443", "- 10.10.0.21\n", "- 10.10.0.100\n"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("kubeadm config lacks %q", want)
		}
	}
	k := string(RenderKeepalived(c, members[1], members, "s3cr3tpw"))
	if !strings.Contains(k, "priority 149") || !strings.Contains(k, "unicast_src_ip 10.10.0.21") || strings.Contains(k, "        10.10.0.21\n") {
		t.Errorf("master-1's keepalived.conf has the wrong priority or peers:\n%s", k)
	}
}

func TestParseLBAddr(t *testing.T) {
	for _, tc := range []struct {
		out, iface, src string
		held            bool
		err             string
	}{
		{out: "10.0.0.50 dev eth0 src 10.0.0.20 uid 0 \\    cache", iface: "eth0", src: "10.0.0.20"},
		{out: "dev host0 src 10.0.0.20 held host0", iface: "host0", src: "10.0.0.20", held: true},
		{out: "dev eth1 src 10.0.0.20 held none", iface: "eth1", src: "10.0.0.20"},
		{out: "10.9.0.50 via 10.0.0.1 dev eth0 src 10.0.0.20 uid 0", err: "routed via 10.0.0.1"},
		{out: "local 10.0.0.50 dev lo src 10.0.0.50", err: "outside keepalived's control"},
		{out: "RTNETLINK answers: Network is unreachable", err: "no address to reach the VIP"},
		{out: "dev eth0 src  held none", err: "no address"},
	} {
		iface, src, held, err := parseLBAddr(tc.out)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.out, err, tc.err)
			}
			continue
		}
		if err != nil || iface != tc.iface || src != tc.src || held != tc.held {
			t.Errorf("%q: %q %q %v %v", tc.out, iface, src, held, err)
		}
	}
}

func TestNeighMAC(t *testing.T) {
	for out, want := range map[string]string{
		"10.0.0.50 dev eth0 lladdr 52:54:00:12:34:56 REACHABLE": "52:54:00:12:34:56",
		"10.0.0.50 dev eth0 lladdr 52:54:00:12:34:56 STALE":     "52:54:00:12:34:56",
		"10.0.0.50 dev eth0  FAILED":                            "",
		"10.0.0.50 dev eth0  INCOMPLETE":                        "",
		"":                                                      "",
	} {
		if got := neighMAC(out); got != want {
			t.Errorf("neighMAC(%q) = %q, want %q", out, got, want)
		}
	}
}

// A configuration written by a run whose reload failed or was cut short
// is reloaded by the next run, though the file is already as wanted; once
// loaded, a run reloads nothing.
func TestEnsureLoadedRetriesAnInterruptedReload(t *testing.T) {
	spec := loadExample(t, "ha/prod")
	f := newFakeInit(t, spec, false)
	cfg := host.File{Path: HAProxyConfig, Data: RenderHAProxy(spec, spec.HostsWithRole("control-plane")), Mode: 0o644}
	c := f.conn("master-0")
	serveFileSums(c)
	c.SetFileEntry(cfg.Path, remotetest.FileEntry{Data: cfg.Data, Mode: cfg.Mode})
	const reload = "systemctl reload-or-restart haproxy"
	run := func() bool {
		var reloaded bool
		err := f.OnHosts(context.Background(), spec.HostsWithRole("control-plane")[:1], func(ctx context.Context, h *host.Host) (err error) {
			reloaded, err = ensureLoaded(ctx, h, cfg, reload)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return reloaded
	}
	if !run() || !c.Ran(`^install -d -m 0755 /run/kbs && systemctl reload-or-restart haproxy$`) {
		t.Fatalf("the unloaded configuration was not reloaded:\n%s", c)
	}
	c.Reset()
	serveFileSums(c)
	if run() || c.Ran(`reload-or-restart`) {
		t.Fatalf("a loaded configuration was reloaded again:\n%s", c)
	}
}
