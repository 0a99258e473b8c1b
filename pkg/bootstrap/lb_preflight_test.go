package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// Preflight of the HA example: the VIP reachable on each control plane's
// network and answered by no machine; a VIP some machine answers ARP for
// fails on the first control plane, naming the MAC; one routed through a
// gateway fails on the control plane that sees it so.
func TestPreflightLoadBalancer(t *testing.T) {
	route := func(src string) string { return "10.10.0.100 dev eth0 src " + src + " uid 0\n" }
	for _, tc := range []struct {
		name    string
		answers []answer
		failed  []string
		want    string
	}{
		{name: "a free VIP", want: "vip-free           ok      no machine answers for 10.10.0.100"},
		{name: "a VIP another machine holds", failed: []string{"master-0/vip-free"},
			answers: []answer{{host: "master-0", pattern: `^ip neigh flush to `, out: "10.10.0.100 dev eth0 lladdr 52:54:00:aa:bb:cc REACHABLE\n"}},
			want:    "the machine with MAC 52:54:00:aa:bb:cc answered ARP"},
		{name: "a VIP behind a gateway", failed: []string{"master-2/load-balancer"},
			answers: []answer{{host: "master-2", pattern: `^\{ vip=`, out: "10.10.0.100 via 10.10.1.1 dev eth0 src 10.10.1.22 uid 0\n"}},
			want:    "routed via 10.10.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadExample(t, "ha/prod")
			f := newFakeInit(t, spec, false)
			answers := append([]answer{}, tc.answers...)
			for _, cp := range spec.HostsWithRole(cluster.RoleControlPlane) {
				answers = append(answers,
					answer{host: cp.Name, pattern: `^\{ vip=`, out: route(cp.Address)},
					answer{host: cp.Name, pattern: `^ip neigh flush to `, out: "10.10.0.100 dev eth0  FAILED\n"})
			}
			scriptPreflight(f, answers)
			f.ssh.Configure(func(c *remotetest.Conn) {
				c.On(`^socat -u /dev/null 'TCP:[0-9.]+:\d+,connect-timeout=3'$`, "", nil)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := f.run(ctx, "preflight")
			switch {
			case tc.failed == nil && err != nil:
				t.Fatalf("preflight failed: %v\n%s", err, f.output())
			case tc.failed != nil && (err == nil || !strings.Contains(err.Error(), strings.Join(tc.failed, ", "))):
				t.Fatalf("error %v, want %v failed\n%s", err, tc.failed, f.output())
			}
			if !strings.Contains(f.output(), tc.want) {
				t.Errorf("no %q in\n%s", tc.want, f.output())
			}
		})
	}
}

// With a load balancer the operator runs, preflight checks every node
// reaches it, and only warns when it does not: before init no API server
// is behind it yet.
func TestPreflightOperatorEndpoint(t *testing.T) {
	spec := twoControlPlanes(t)
	spec.Spec.ControlPlaneEndpoint = "lb.example.com:6443"
	f := newFakeInit(t, spec, false)
	scriptPreflight(f, []answer{{host: "worker-1", pattern: `^timeout 3 bash -c `, out: "bash: connect: Connection refused\n", err: remotetest.Exit(1, "")}})
	f.ssh.Configure(func(c *remotetest.Conn) {
		c.On(`^timeout 3 bash -c ': </dev/tcp/"\$1"/"\$2"' bash 'lb\.example\.com' '6443' 2>&1$`, "", nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.run(ctx, "preflight"); err != nil {
		t.Fatalf("preflight failed: %v\n%s", err, f.output())
	}
	for _, want := range []string{"master-1     endpoint           ok      the endpoint lb.example.com:6443 accepts connections", "worker-1     endpoint           warn    the endpoint lb.example.com:6443 does not accept connections (bash: connect: Connection refused)"} {
		if !strings.Contains(f.output(), want) {
			t.Errorf("no %q in\n%s", want, f.output())
		}
	}
}
