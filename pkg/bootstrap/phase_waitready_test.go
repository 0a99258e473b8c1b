package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func node(name string, ready corev1.ConditionStatus, labels map[string]string) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, CreationTimestamp: metav1.NewTime(time.Now().Add(-90 * time.Minute))},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: "10.10.0.9"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian-13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.4"},
		},
	}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: ready}}
	}
	return n
}

// wait-ready needs the API server: its dry-run plan names the nodes it
// would wait for, the kubelet hosts, and contacts nothing.
func TestWaitReadyPhaseDryRunPlan(t *testing.T) {
	f := newFakeInit(t, loadExample(t, "k8s"), true)
	if err := f.run(context.Background(), "wait-ready"); err != nil {
		t.Fatal(err)
	}
	if want := "[plan] would wait up to 5m0s for nodes master-0, worker-0, worker-1 to be Ready\n"; !strings.Contains(f.output(), want) || len(f.ssh.Dials()) != 0 {
		t.Errorf("want %q and no dial (dials %v):\n%s", want, f.ssh.Dials(), f.output())
	}
}

// WaitNodesReady waits for every named node's Ready condition, and names
// those that are not.
func TestWaitNodesReady(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nodes   []*corev1.Node
		wantErr string
	}{
		{name: "all Ready", nodes: []*corev1.Node{node("master-0", corev1.ConditionTrue, nil), node("worker-0", corev1.ConditionTrue, nil)}},
		{name: "one NotReady", nodes: []*corev1.Node{node("master-0", corev1.ConditionTrue, nil), node("worker-0", corev1.ConditionFalse, nil)}, wantErr: "nodes not Ready after 100ms: worker-0 ("},
		{name: "one not registered", nodes: []*corev1.Node{node("worker-0", corev1.ConditionTrue, nil)}, wantErr: ": master-0 ("},
		{name: "no Ready condition yet", nodes: []*corev1.Node{node("master-0", "", nil), node("worker-0", corev1.ConditionTrue, nil)}, wantErr: ": master-0 ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, n := range tc.nodes {
				if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			nodes, err := WaitNodesReady(context.Background(), cs, "master-0, worker-0", 100*time.Millisecond)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if len(nodes) != len(tc.nodes) {
				t.Errorf("returned %d nodes, want every node listed (%d)", len(nodes), len(tc.nodes))
			}
		})
	}
}

// PrintNodes reads like `kubectl get nodes -o wide`: sorted by name, roles
// from the node-role labels, cordoned nodes marked.
func TestPrintNodes(t *testing.T) {
	cordoned := node("worker-0", corev1.ConditionTrue, nil)
	cordoned.Spec.Unschedulable = true
	var b strings.Builder
	PrintNodes(&b, []corev1.Node{
		*cordoned,
		*node("master-0", corev1.ConditionTrue, map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd-client": ""}),
		*node("worker-1", corev1.ConditionFalse, nil),
	})
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	want := [][]string{
		{"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"},
		{"master-0", "Ready", "control-plane,etcd-client", "90m", "v1.37.2", "10.10.0.9", "Debian-13", "6.12.0", "containerd://2.1.4"},
		{"worker-0", "Ready,SchedulingDisabled", "<none>", "90m", "v1.37.2", "10.10.0.9", "Debian-13", "6.12.0", "containerd://2.1.4"},
		{"worker-1", "NotReady", "<none>", "90m", "v1.37.2", "10.10.0.9", "Debian-13", "6.12.0", "containerd://2.1.4"},
	}
	if len(rows) != len(want) {
		t.Fatalf("table:\n%s", b.String())
	}
	for i := range want {
		if strings.Join(rows[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("row %d: %q\nwant %q", i, rows[i], want[i])
		}
	}
}
