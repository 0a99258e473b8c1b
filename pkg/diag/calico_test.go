package diag

import (
	"slices"
	"testing"
)

// analyzeCalico analyzes a bundle of workers with these calico.txt contents
// (as calicoStateCmd prints them) and the cluster's network.txt, and
// returns the calico findings as ID@node.
func analyzeCalico(t *testing.T, states map[string]string, network string) []string {
	t.Helper()
	return analyzeSources(t, "worker", "calico.txt", states, map[string]string{"network.txt": network}, "calico-")
}

func TestCalicoAnalyzers(t *testing.T) {
	const well = "calico-node CONTAINER_RUNNING\nvxlan present\nblock 10.244.5.0/26\n"
	const pool = "podSubnet 10.244.0.0/16\nippool default-ipv4-ippool 10.244.0.0/16\n"
	for _, tc := range []struct {
		name    string
		states  map[string]string
		network string
		want    []string
	}{
		{"healthy", map[string]string{"worker-0": well, "worker-1": well}, pool, nil},
		{"calico-node exited", map[string]string{"worker-0": well, "worker-1": "calico-node CONTAINER_EXITED\nvxlan missing\n"}, pool,
			[]string{"calico-node-down@worker-1"}},
		{"calico-node never started", map[string]string{"worker-0": "calico-node absent\nvxlan missing\n"}, pool,
			[]string{"calico-node-down@worker-0"}},
		{"no tunnel", map[string]string{"worker-0": "calico-node CONTAINER_RUNNING\nvxlan missing\n"}, pool,
			[]string{"calico-vxlan-missing@worker-0"}},
		{"calico's default pool, kubeadm's pod subnet elsewhere", map[string]string{"worker-0": well},
			"podSubnet 10.244.0.0/16\nippool default-ipv4-ippool 192.168.0.0/16\n", []string{"calico-pool-outside@_cluster"}},
		{"a pool wider than the pod subnet", map[string]string{"worker-0": well},
			"podSubnet 10.244.0.0/16\nippool wide 10.0.0.0/8\n", []string{"calico-pool-outside@_cluster"}},
		{"flannel cluster", map[string]string{"worker-0": "no calico on this node\n"}, "podSubnet 10.244.0.0/16\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := analyzeCalico(t, tc.states, tc.network); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
