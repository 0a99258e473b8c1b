package diag

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// testSpec has an etcd host, a control plane and a worker, as a spec with
// external etcd does.
func testSpec() *cluster.Cluster {
	return &cluster.Cluster{
		Metadata: cluster.Metadata{Name: "k8s"},
		Spec: cluster.ClusterSpec{SSH: cluster.SSH{User: "root"}, Hosts: []cluster.Host{
			{Name: "etcd0", Role: cluster.RoleEtcd, Address: "10.0.0.10"},
			{Name: "master-0", Role: cluster.RoleControlPlane, Address: "10.0.0.20"},
			{Name: "worker-0", Role: cluster.RoleWorker, Address: "10.0.0.30", SSH: &cluster.SSH{Port: 2222}},
		}},
	}
}

// apiNode is a Node as kubeadm labels it, with an InternalIP.
func apiNode(name, ip string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}},
	}
}

// testAPI knows master-0 and worker-0 (as the spec does) and worker-9,
// which joined without the spec being updated.
func testAPI() kubernetes.Interface {
	return fake.NewClientset(
		apiNode("master-0", "192.168.0.20", map[string]string{"node-role.kubernetes.io/control-plane": ""}),
		apiNode("worker-0", "192.168.0.30", map[string]string{"pool": "a"}),
		apiNode("worker-9", "192.168.0.39", map[string]string{"pool": "b"}),
	)
}

// brief is a target as the tests compare it: name, role, address, and
// whether SSH and the API reach it.
func brief(ts []Target) []string {
	var out []string
	for _, t := range ts {
		s := t.Name + " " + t.Role + " " + t.Address
		if t.SSH != nil {
			s += " ssh"
		}
		if t.InAPI {
			s += " api"
		}
		out = append(out, s)
	}
	return out
}

func TestSelectTargets(t *testing.T) {
	tests := []struct {
		name    string
		spec    *cluster.Cluster
		api     bool
		sel     Selection
		want    []string
		wantErr string
	}{
		{name: "spec only: every host over SSH, etcd included", spec: testSpec(),
			want: []string{"etcd0 etcd 10.0.0.10 ssh", "master-0 control-plane 10.0.0.20 ssh", "worker-0 worker 10.0.0.30 ssh"}},
		{name: "API only: role from the kubeadm label, address from InternalIP", api: true,
			want: []string{"master-0 control-plane 192.168.0.20 api", "worker-0 worker 192.168.0.30 api", "worker-9 worker 192.168.0.39 api"}},
		{name: "both: merged by name, the spec's address kept", spec: testSpec(), api: true,
			want: []string{"etcd0 etcd 10.0.0.10 ssh", "master-0 control-plane 10.0.0.20 ssh api", "worker-0 worker 10.0.0.30 ssh api", "worker-9 worker 192.168.0.39 api"}},
		{name: "a selector leaves out what the API does not list", spec: testSpec(), api: true, sel: Selection{Selector: "pool"},
			want: []string{"worker-0 worker 10.0.0.30 ssh api", "worker-9 worker 192.168.0.39 api"}},
		{name: "a selector without an API server selects nothing away", spec: testSpec(), sel: Selection{Selector: "pool=a"},
			want: []string{"etcd0 etcd 10.0.0.10 ssh", "master-0 control-plane 10.0.0.20 ssh", "worker-0 worker 10.0.0.30 ssh"}},
		{name: "role", spec: testSpec(), api: true, sel: Selection{Role: cluster.RoleWorker},
			want: []string{"worker-0 worker 10.0.0.30 ssh api", "worker-9 worker 192.168.0.39 api"}},
		{name: "a role nobody has selects none", api: true, sel: Selection{Role: cluster.RoleEtcd}},
		{name: "names, in the order given", spec: testSpec(), api: true, sel: Selection{Names: []string{"worker-9", "etcd0"}},
			want: []string{"worker-9 worker 192.168.0.39 api", "etcd0 etcd 10.0.0.10 ssh"}},
		{name: "an unknown name lists the known ones", spec: testSpec(), sel: Selection{Names: []string{"worker-1"}},
			wantErr: `no node or spec host named "worker-1" (known: etcd0, master-0, worker-0)`},
		{name: "no spec and no API server", wantErr: "no nodes to diagnose: give a spec with -f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs kubernetes.Interface
			if tt.api {
				cs = testAPI()
			}
			got, err := SelectTargets(t.Context(), tt.spec, cs, tt.sel)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(brief(got), tt.want) {
				t.Errorf("got  %q\nwant %q", brief(got), tt.want)
			}
		})
	}
}

func TestSpecTargetsCarrySSHSettings(t *testing.T) {
	ts := SpecTargets(testSpec())
	w := ts[2].SSH
	if w == nil || w.Address != "10.0.0.30" || w.Port != 2222 || w.User != "root" || w.Sudo {
		t.Fatalf("worker-0's SSH target: %+v", w)
	}
	if SpecTargets(nil) != nil {
		t.Error("no spec gave targets")
	}
}

func TestMergeNodesLeavesItsInputAlone(t *testing.T) {
	spec := SpecTargets(testSpec())
	MergeNodes(spec, []Target{{Name: "master-0", InAPI: true}}, true)
	if spec[1].InAPI || len(spec) != 3 {
		t.Errorf("MergeNodes changed the spec's targets: %+v", spec)
	}
}

func TestSelectionValidate(t *testing.T) {
	for role, ok := range map[string]bool{"": true, "etcd": true, "control-plane": true, "worker": true, "master": false} {
		err := Selection{Role: role}.Validate()
		if (err == nil) != ok {
			t.Errorf("role %q: got %v", role, err)
		}
	}
}
