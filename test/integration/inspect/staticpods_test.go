//go:build integration

package inspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/inspect"
	"github.com/kubectl-kbs/kbs/test/env"
)

// manifests are kubeadm's own control-plane manifests, made by the real
// `kubeadm init phase control-plane all` inside a node from the same
// configuration that was uploaded.
var manifests = map[string]*corev1.Pod{}

// createControlPlanePods puts kubeadm's manifests into kube-system as pods
// named like mirror pods (<component>-master-0, bound to node master-0, with
// kubeadm's labels): they stand in for the mirror pods a kubelet would
// create, which this test environment has no kubelet for.
func createControlPlanePods(ctx context.Context) error {
	n := cluster.Nodes[0]
	kubeadm, err := env.Binary("kubeadm")
	if err != nil {
		return err
	}
	if out, err := exec.Command("cp", kubeadm, filepath.Join(n.Root, "usr/local/bin/kubeadm")).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(n.Root, "root/kubeadm.yaml"), []byte(kubeadmConfig()), 0o600); err != nil {
		return err
	}
	if out, err := n.Exec(ctx, "kubeadm", "init", "phase", "control-plane", "all", "--config", "/root/kubeadm.yaml"); err != nil {
		return fmt.Errorf("kubeadm init phase control-plane all: %v\n%s", err, out)
	}
	cs := kubernetes.NewForConfigOrDie(cp.AdminConfig)
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		b, err := os.ReadFile(filepath.Join(n.Root, "etc/kubernetes/manifests", c+".yaml"))
		if err != nil {
			return err
		}
		var pod corev1.Pod
		if err := yaml.UnmarshalStrict(b, &pod); err != nil {
			return fmt.Errorf("%s manifest: %w", c, err)
		}
		manifests[c] = pod.DeepCopy()
		if err := createMirror(ctx, cs, &pod); err != nil {
			return err
		}
	}
	return nil
}

func createMirror(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	pod.Name, pod.Namespace = pod.Name+"-master-0", "kube-system"
	pod.Spec.NodeName = "master-0"
	_, err := cs.CoreV1().Pods("kube-system").Create(ctx, pod, metav1.CreateOptions{})
	return err
}

func TestStaticPodsFromKubeadmManifests(t *testing.T) {
	out, err := kbs(t, "inspect", "static-pods", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got struct{ StaticPods []inspect.StaticPod }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.StaticPods) != 3 {
		t.Fatalf("want three control-plane pods, got %d", len(got.StaticPods))
	}
	api := got.StaticPods[0]
	if api.Component != "kube-apiserver" || api.Node != "master-0" || api.Version != "v1.37.2" || !api.HostNetwork || api.PriorityClass != "system-node-critical" {
		t.Errorf("apiserver %+v", api)
	}
	if v, _ := api.Flag("etcd-servers"); v != cp.EtcdURL {
		t.Errorf("--etcd-servers=%s", v)
	}
	var marked bool
	for _, f := range api.Flags {
		marked = marked || (f.Name == "audit-log-maxage" && f.FromConfig)
	}
	if !marked {
		t.Error("the extraArgs flag audit-log-maxage is not marked as from kubeadm-config")
	}
	var livez, roPKI bool
	for _, p := range api.Probes {
		livez = livez || (p.Kind == "liveness" && p.Path == "/livez" && p.Port == "6443")
	}
	for _, m := range api.Mounts {
		roPKI = roPKI || (m.HostPath == "/etc/kubernetes/pki" && m.ReadOnly)
	}
	if !livez || !roPKI {
		t.Errorf("probes %+v mounts %+v", api.Probes, api.Mounts)
	}
	table, err := kbs(t, "inspect", "static-pods")
	if err != nil || !strings.Contains(table, "--audit-log-maxage=7   (extraArgs)") {
		t.Errorf("table: %v\n%s", err, table)
	}
}

// No drift on kubeadm's own manifests; one changed flag is named with both values.
func TestDrift(t *testing.T) {
	if out, err := kbs(t, "inspect", "drift"); err != nil || !strings.Contains(out, "no drift: 3 control-plane pods") {
		t.Fatalf("drift on kubeadm's own manifests: %v\n%s", err, out)
	}
	cs := kubernetes.NewForConfigOrDie(cp.AdminConfig)
	ctx := context.Background()
	if err := cs.CoreV1().Pods("kube-system").Delete(ctx, "kube-apiserver-master-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	pod := manifests["kube-apiserver"].DeepCopy()
	cmd := pod.Spec.Containers[0].Command
	for i, a := range cmd {
		if strings.HasPrefix(a, "--service-cluster-ip-range=") {
			cmd[i] = "--service-cluster-ip-range=10.97.0.0/16"
		}
	}
	if err := createMirror(ctx, cs, pod); err != nil {
		t.Fatal(err)
	}
	out, err := kbs(t, "inspect", "drift")
	if err == nil || !strings.Contains(out, "--service-cluster-ip-range") || !strings.Contains(out, "10.96.0.0/12") || !strings.Contains(out, "10.97.0.0/16") {
		t.Fatalf("changed flag: %v\n%s", err, out)
	}
}
