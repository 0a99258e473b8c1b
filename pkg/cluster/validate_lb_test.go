package cluster

import (
	"strings"
	"testing"
)

// haValid is valid with two control planes behind a kbs-managed VIP.
var haValid = strings.Replace(valid, "  - {name: worker-0", "  - {name: master-1, role: control-plane, address: 10.0.0.21}\n  - {name: worker-0", 1)

func decodeDefaulted(t *testing.T, doc string) *Cluster {
	t.Helper()
	cs, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(cs[0])
	return cs[0]
}

func TestLoadBalancerDefaults(t *testing.T) {
	c := decodeDefaulted(t, strings.Replace(haValid, "spec:\n", "spec:\n  loadBalancer: {vip: 10.0.0.50}\n", 1))
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
	lb := c.Spec.LoadBalancer
	if lb.Port != 8443 || c.Spec.ControlPlaneEndpoint != "10.0.0.50:8443" {
		t.Errorf("port %d endpoint %q, want 8443 and 10.0.0.50:8443", lb.Port, c.Spec.ControlPlaneEndpoint)
	}
	if lb.VirtualRouterID < 1 || lb.VirtualRouterID > 255 || lb.VirtualRouterID != defaultRouterID("k8s") {
		t.Errorf("virtual router id %d", lb.VirtualRouterID)
	}
	if defaultRouterID("k8s") == defaultRouterID("hk8s") {
		t.Error("two clusters of the notes share a default router id")
	}
	ext := decodeDefaulted(t, strings.Replace(haValid, "spec:\n", "spec:\n  controlPlaneEndpoint: lb.example:6443\n", 1))
	if err := Validate(ext); err != nil || ext.ManagedLoadBalancer() {
		t.Fatalf("an operator's load balancer: %v (managed %v)", err, ext.ManagedLoadBalancer())
	}
}

func TestInvalidHASpecs(t *testing.T) {
	lb := func(s string) string { return strings.Replace(haValid, "spec:\n", "spec:\n"+s, 1) }
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"two control planes and no endpoint", haValid, []string{"spec.controlPlaneEndpoint: Required", "2 control-plane hosts", "spec.loadBalancer.vip"}},
		{"VIP is a host's address", lb("  loadBalancer: {vip: 10.0.0.21}\n"), []string{"spec.loadBalancer.vip", "spec.hosts[2] (master-1)"}},
		{"VIP in the service network", lb("  loadBalancer: {vip: 10.96.0.50}\n"), []string{"spec.loadBalancer.vip", "serviceSubnet"}},
		{"VIP outside the node network", lb("  networking: {nodeSubnet: 10.0.0.0/24}\n  loadBalancer: {vip: 10.0.1.50}\n"), []string{"spec.loadBalancer.vip", "nodeSubnet"}},
		{"VIP not IPv4", lb("  loadBalancer: {vip: api.example.com}\n"), []string{"spec.loadBalancer.vip", "IPv4"}},
		{"VIP missing", lb("  loadBalancer: {port: 9443}\n"), []string{"spec.loadBalancer.vip: Required"}},
		{"haproxy on the API server's port", lb("  loadBalancer: {vip: 10.0.0.50, port: 6443}\n"), []string{"spec.loadBalancer.port", "API server's"}},
		{"bad interface", lb("  loadBalancer: {vip: 10.0.0.50, interface: \"eth0;reboot\"}\n"), []string{"spec.loadBalancer.interface"}},
		{"bad router id", lb("  loadBalancer: {vip: 10.0.0.50, virtualRouterID: 300}\n"), []string{"spec.loadBalancer.virtualRouterID", "1-255"}},
		{"endpoint disagrees with the VIP", lb("  controlPlaneEndpoint: 10.0.0.60:8443\n  loadBalancer: {vip: 10.0.0.50}\n"), []string{"spec.controlPlaneEndpoint", "10.0.0.50:8443"}},
		{"endpoint in the pod network", lb("  controlPlaneEndpoint: 10.244.0.10:6443\n"), []string{"spec.controlPlaneEndpoint", "podSubnet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(decodeDefaulted(t, tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
