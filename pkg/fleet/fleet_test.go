package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

func spec(name string, workers ...string) *cluster.Cluster {
	c := &cluster.Cluster{Metadata: cluster.Metadata{Name: name}}
	c.Spec.KubernetesVersion, c.Spec.Etcd.Version, c.Spec.CNI.Plugin = "v1.37.2", "v3.7.3", cluster.CNIFlannel
	c.Spec.Hosts = []cluster.Host{{Name: "etcd-0", Role: cluster.RoleEtcd}, {Name: "master-0", Role: cluster.RoleControlPlane}}
	for _, w := range workers {
		c.Spec.Hosts = append(c.Spec.Hosts, cluster.Host{Name: w, Role: cluster.RoleWorker})
	}
	return c
}

func node(name, kubelet string, isReady bool) *corev1.Node {
	st := corev1.ConditionTrue
	if !isReady {
		st = corev1.ConditionFalse
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: kubelet},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletNotReady", Message: "container runtime network not ready"}},
	}}
}

func flannel(ready, desired int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "kube-flannel-ds", Namespace: "kube-flannel"},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: desired, NumberReady: ready}}
}

func client(apiVersion string, objs ...runtime.Object) kubernetes.Interface {
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: apiVersion}
	return cs
}

func healthyEtcd(ctx context.Context, c *cluster.Cluster) ([]EtcdMember, error) {
	return []EtcdMember{{Name: "etcd-0", Healthy: true, InSpec: true, Version: "3.7.3"}}, nil
}

// The notes' table: a healthy cluster has no description; ik8s, whose
// worker was never joined, says so by name; a cluster init never ran is
// "not built yet"; and each one with a problem counts for the exit code.
func TestSurveyDescribesEachCluster(t *testing.T) {
	k8s, ik8s, ek8s := spec("k8s", "worker-0", "worker-1"), spec("ik8s", "base-0"), spec("ek8s", "worker-0")
	clients := map[string]kubernetes.Interface{
		"k8s": client("v1.37.2", node("master-0", "v1.37.2", true), node("worker-0", "v1.37.2", true),
			node("worker-1", "v1.37.2", true), flannel(3, 3)),
		"ik8s": client("v1.37.2", node("master-0", "v1.37.2", true), flannel(1, 1)),
	}
	p := Probes{
		Kube: func(c *cluster.Cluster) (kubernetes.Interface, string, error) {
			if cs, ok := clients[c.Metadata.Name]; ok {
				return cs, "https://" + c.Metadata.Name + ":6443", nil
			}
			return nil, "", ErrNotBuilt
		},
		Etcd: healthyEtcd,
	}
	rows := Survey(context.Background(), []*cluster.Cluster{k8s, ik8s, ek8s}, p, Options{})
	if rows[0].Description() != "" || rows[0].API != APIAnswering || rows[0].CNIRunning != "flannel 3/3" || rows[0].EtcdVersion != "v3.7.3" {
		t.Errorf("k8s: %+v", rows[0])
	}
	if *rows[0].Live != (Members{Etcd: 1, ControlPlanes: 1, Workers: 2}) || rows[0].Spec != *rows[0].Live {
		t.Errorf("k8s members: spec %+v live %+v", rows[0].Spec, *rows[0].Live)
	}
	if got := rows[1].Description(); got != "missing worker node: base-0 is in the spec, not in the cluster" {
		t.Errorf("ik8s: %q", got)
	}
	if rows[2].API != APINotBuilt || !strings.HasPrefix(rows[2].Description(), "not built yet") {
		t.Errorf("ek8s: %+v", rows[2])
	}
	if got := Problems(rows); strings.Join(got, ",") != "ik8s,ek8s" {
		t.Errorf("clusters with problems: %v", got)
	}
}

// What is wrong inside a cluster that answers: a node not Ready with the
// kubelet's reason, a kubelet on another version, a node the spec lacks,
// the pod network not fully ready or another than the spec's, an etcd
// member unhealthy or unknown to the spec.
func TestSurveyNamesEachProblem(t *testing.T) {
	c := spec("k8s", "worker-0", "worker-1")
	cs := client("v1.37.2", node("master-0", "v1.37.2", true), node("worker-0", "v1.36.3", true),
		node("worker-1", "v1.37.2", false), node("stray-0", "v1.37.2", true), flannel(2, 3))
	p := Probes{
		Kube: func(*cluster.Cluster) (kubernetes.Interface, string, error) { return cs, "https://x:6443", nil },
		Etcd: func(context.Context, *cluster.Cluster) ([]EtcdMember, error) {
			return []EtcdMember{{Name: "etcd-0", InSpec: true, Error: "context deadline exceeded"},
				{Name: "etcd-9", InSpec: false, Healthy: true, Version: "3.7.3"}}, nil
		},
	}
	got := Survey(context.Background(), []*cluster.Cluster{c}, p, Options{})[0]
	for _, want := range []string{
		"worker node worker-1 not Ready: KubeletNotReady (container runtime network not ready)",
		"worker-0 runs kubelet v1.36.3, the spec says v1.37.2",
		"nodes not in the spec: stray-0",
		"flannel: 2 of 3 node agents ready",
		"etcd member etcd-0 unhealthy: context deadline exceeded",
		"etcd member etcd-9 is in the cluster, not in the spec",
	} {
		if !strings.Contains(got.Description(), want) {
			t.Errorf("no %q in %q", want, got.Description())
		}
	}
	if got.Live.Workers != 1 || got.Live.Etcd != 0 {
		t.Errorf("live %+v", *got.Live)
	}

	c.Spec.CNI.Plugin = cluster.CNICalico
	got = Survey(context.Background(), []*cluster.Cluster{c}, p, Options{})[0]
	if !strings.Contains(got.Description(), "the spec's calico is not running (it runs flannel 2/3)") {
		t.Errorf("calico in the spec, flannel in the cluster: %q", got.Description())
	}
}

// An API server that does not answer: the survey asks the control planes
// over SSH, and says which answers and which does not.
func TestSurveyAsksHostsWhenTheAPIIsDown(t *testing.T) {
	c := spec("bk8s", "worker-0")
	c.Spec.Hosts = append(c.Spec.Hosts, cluster.Host{Name: "master-1", Role: cluster.RoleControlPlane})
	p := Probes{
		Kube: func(*cluster.Cluster) (kubernetes.Interface, string, error) {
			return nil, "https://10.0.0.20:6443", errors.New("connect: connection refused")
		},
		SSH: func(_ context.Context, _ *cluster.Cluster, h cluster.Host) (string, error) {
			if h.Name == "master-1" {
				return "", errors.New("dial tcp 10.0.0.21:22: i/o timeout")
			}
			return "kubelet activating", nil
		},
	}
	got := Survey(context.Background(), []*cluster.Cluster{c}, p, Options{})[0]
	want := "API server https://10.0.0.20:6443 not answering: connect: connection refused; master-0 answers SSH, kubelet activating; master-1 unreachable over SSH: dial tcp 10.0.0.21:22: i/o timeout"
	if got.API != APINotAnswering || got.Description() != want || got.Live != nil {
		t.Errorf("got %s %q %v\nwant %q", got.API, got.Description(), got.Live, want)
	}
}

// Clusters that do not answer take their timeout, side by side: each says
// it did not answer in time, and the others are reported in full.
func TestSurveyTimesOutEachClusterOnItsOwn(t *testing.T) {
	hang := func(ctx context.Context, _ *cluster.Cluster) ([]EtcdMember, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var clusters []*cluster.Cluster
	for i := range 6 {
		clusters = append(clusters, spec(fmt.Sprintf("c%d", i), "worker-0"))
	}
	p := Probes{
		Kube: func(c *cluster.Cluster) (kubernetes.Interface, string, error) {
			return client("v1.37.2", node("master-0", "v1.37.2", true), node("worker-0", "v1.37.2", true), flannel(2, 2)), "https://x:6443", nil
		},
		Etcd: func(ctx context.Context, c *cluster.Cluster) ([]EtcdMember, error) {
			if c.Metadata.Name == "c2" || c.Metadata.Name == "c4" {
				return hang(ctx, c)
			}
			return healthyEtcd(ctx, c)
		},
	}
	rows := Survey(context.Background(), clusters, p, Options{Timeout: 50 * time.Millisecond})
	for i, r := range rows {
		slow := i == 2 || i == 4
		if got := r.Description(); slow != (got == "etcd: no answer in time") {
			t.Errorf("%s: %q", r.Name, got)
		}
	}
}
