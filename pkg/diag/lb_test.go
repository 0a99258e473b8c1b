package diag

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// analyzeLB analyzes a bundle of control planes with these loadbalancer.txt
// contents (as lbStateCmd prints them) and returns the findings as ID@node.
func analyzeLB(t *testing.T, states map[string]string) []string {
	t.Helper()
	return analyzeSources(t, "control-plane", "loadbalancer.txt", states, nil, "vip-", "lb-")
}

// analyzeSources analyzes a bundle where each node of role has file with
// its content, plus the cluster's files, and returns the findings whose ID
// has one of the prefixes, as ID@node.
func analyzeSources(t *testing.T, role, file string, states, clusterFiles map[string]string, prefixes ...string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	b, err := NewBundle(path, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	for node, state := range states {
		b.Add(node, file, "ssh", strings.NewReader(state))
		b.SetNode(node, NodeInfo{Role: role, Address: "10.0.0.1", Transport: "ssh"})
	}
	for name, content := range clusterFiles {
		b.Add(ClusterDir, name, "api", strings.NewReader(content))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range a.Findings {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(f.ID, p) }) {
			got = append(got, f.ID+"@"+f.Node)
		}
	}
	slices.Sort(got)
	return got
}

func TestLoadBalancerAnalyzers(t *testing.T) {
	const up = "unit keepalived active\nunit haproxy active\n"
	const backends = "backend master-0 10.0.0.20 up\nbackend master-1 10.0.0.21 up\n"
	for _, tc := range []struct {
		name   string
		states map[string]string
		want   []string
	}{
		{"healthy", map[string]string{
			"master-0": up + "vip 10.0.0.100 held\n" + backends,
			"master-1": up + "vip 10.0.0.100 not-held\n" + backends,
		}, nil},
		{"two holders", map[string]string{
			"master-0": up + "vip 10.0.0.100 held\n" + backends,
			"master-1": up + "vip 10.0.0.100 held\n" + backends,
		}, []string{"vip-split@master-0", "vip-split@master-1"}},
		{"no holder, haproxy down", map[string]string{
			"master-0": "unit keepalived active\nunit haproxy failed\nvip 10.0.0.100 not-held\n",
			"master-1": up + "vip 10.0.0.100 not-held\nbackend master-0 10.0.0.20 down\nbackend master-1 10.0.0.21 up\n",
		}, []string{"lb-backend-down@master-1", "lb-unit-down@master-0", "vip-none@master-0", "vip-none@master-1"}},
		{"no load balancer", map[string]string{"master-0": "no load balancer on this host\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := analyzeLB(t, tc.states); !slices.Equal(got, tc.want) {
				t.Errorf("findings %v, want %v", got, tc.want)
			}
		})
	}
}
