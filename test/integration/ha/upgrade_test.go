//go:build integration

package ha

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-kbs/kbs/pkg/upgrade"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/workload"
)

// upgradeHA carries the HA cluster one release forward as its operator
// would — the spec raised, upgrade plan, upgrade apply — while the API is
// asked through the VIP every 200 ms: three etcd members (the leader
// last), the first control plane with kubeadm upgrade apply, the second
// with kubeadm upgrade node, then the worker; every version at the target
// and the endpoint never gone for long (one API server at a time restarts,
// haproxy sends to the other).
func upgradeHA(t *testing.T, p paths, cfg *rest.Config, cs kubernetes.Interface, endpoint string) {
	t.Helper()
	if err := os.WriteFile(p.spec, []byte(p.target), 0o600); err != nil {
		t.Fatal(err)
	}
	// The control plane joined again just before: its static pods come
	// up after its node is Ready, and the plan's control-plane-pods check
	// would rightly refuse until they have.
	err := wait.PollUntilContextTimeout(context.Background(), 2*time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
		if err != nil || len(pods.Items) != 6 {
			return false, nil
		}
		for _, pod := range pods.Items {
			if !podReady(&pod) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the control planes' six static pods not all ready after 3 minutes: %v", err)
	}
	// plan exits non-zero when a check fails: the JSON on stdout says which.
	out, progress, planErr := p.run("upgrade", "plan", "-o", "json")
	var plan upgrade.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("upgrade plan: %v, %v\n%s\n%s", planErr, err, out, progress)
	}
	if plan.Kubernetes.Current != localcluster.PreviousKubernetes || plan.Etcd.Current != localcluster.PreviousEtcd {
		t.Errorf("the plan starts from %+v and %+v", plan.Kubernetes, plan.Etcd)
	}
	for _, c := range plan.Checks {
		if c.Result == upgrade.Failed {
			t.Errorf("%s failed: %s", c.Name, c.Reason)
		}
	}
	if t.Failed() || planErr != nil {
		t.Fatalf("upgrade plan: %v\n%s", planErr, progress)
	}
	stop := workload.Poll(func() bool { return readyz(context.Background(), cfg, endpoint) == nil })
	_, progress, err = p.run("upgrade", "apply")
	res := stop()
	t.Logf("the endpoint during the upgrade: %d of %d requests failed, longest run of failures %s", res.Failed, res.Total, res.Longest.Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("upgrade apply: %v\n%s", err, progress)
	}
	for _, want := range []string{"[etcd-etcd0]", "[etcd-etcd1]", "[etcd-etcd2]", "[control-plane-master-0]", "[control-plane-master-1]", "[workers-worker-0]"} {
		if !strings.Contains(progress, want) {
			t.Errorf("the apply's progress has no %s:\n%s", want, progress)
		}
	}
	if res.Total == 0 || res.Longest > 30*time.Second {
		t.Errorf("the endpoint failed %d of %d requests, at most %s in a row", res.Failed, res.Total, res.Longest)
	}
	target := plan.Kubernetes.Target
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Status.NodeInfo.KubeletVersion != target || n.Spec.Unschedulable {
			t.Errorf("%s: kubelet %s (cordoned: %t), want %s", n.Name, n.Status.NodeInfo.KubeletVersion, n.Spec.Unschedulable, target)
		}
	}
	pods, err := cs.CoreV1().Pods("kube-system").List(context.Background(), metav1.ListOptions{LabelSelector: "component=kube-apiserver"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("API server pods: %v %d", err, len(pods.Items))
	}
	for _, pod := range pods.Items {
		if img := pod.Spec.Containers[0].Image; !strings.HasSuffix(img, ":"+target) {
			t.Errorf("%s runs %s", pod.Name, img)
		}
	}
	for _, e := range []string{"etcd0", "etcd1", "etcd2"} {
		if v := onNode(t, e, "/usr/local/bin/etcd", "--version"); !strings.Contains(v, "etcd Version: "+strings.TrimPrefix(plan.Etcd.Target, "v")) {
			t.Errorf("%s runs %s, want %s", e, v, plan.Etcd.Target)
		}
	}
	if _, progress := p.kbs(t, "upgrade", "plan"); !strings.Contains(progress, "nothing to upgrade") {
		t.Errorf("a second plan:\n%s", progress)
	}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
