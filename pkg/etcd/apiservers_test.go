package etcd

import (
	"context"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/pkg/host"
)

const manifest = `apiVersion: v1
kind: Pod
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.0.2
    - --etcd-servers=https://10.0.0.10:2379
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
`

func TestEtcdServersFlag(t *testing.T) {
	m := etcdServersFlag.FindStringSubmatch(manifest)
	if m == nil || m[2] != "https://10.0.0.10:2379" {
		t.Fatalf("flag not found: %v", m)
	}
	got := etcdServersFlag.ReplaceAllString(manifest, "${1}https://10.0.0.10:2379,https://10.0.0.11:2379")
	if !strings.Contains(got, "    - --etcd-servers=https://10.0.0.10:2379,https://10.0.0.11:2379\n    - --etcd-cafile") {
		t.Fatalf("replacement broke the manifest:\n%s", got)
	}
	if strings.Count(got, "--etcd-") != 2 {
		t.Fatalf("other flags changed:\n%s", got)
	}
}

const clusterConfiguration = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  external:
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    endpoints:
    - https://10.0.0.10:2379
kubernetesVersion: v1.37.2
`

func TestKubeadmConfigEndpoints(t *testing.T) {
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kubeadm-config"},
		Data: map[string]string{"ClusterConfiguration": clusterConfiguration}})
	e := &Env{Session: &host.Session{Out: io.Discard}}
	want := []string{"https://10.0.0.10:2379", "https://10.0.0.11:2379"}
	if err := setEndpointsIn(context.Background(), e, cs, want); err != nil {
		t.Fatal(err)
	}
	cm, _ := cs.CoreV1().ConfigMaps("kube-system").Get(context.Background(), "kubeadm-config", metav1.GetOptions{})
	got := cm.Data["ClusterConfiguration"]
	for _, s := range []string{"- https://10.0.0.11:2379", "caFile: /etc/kubernetes/pki/etcd/ca.crt", "kubernetesVersion: v1.37.2"} {
		if !strings.Contains(got, s) {
			t.Errorf("updated ClusterConfiguration lacks %q:\n%s", s, got)
		}
	}
	stacked := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kubeadm-config"},
		Data: map[string]string{"ClusterConfiguration": "etcd:\n  local:\n    dataDir: /var/lib/etcd\n"}})
	if err := setEndpointsIn(context.Background(), e, stacked, want); err == nil || !strings.Contains(err.Error(), "external") {
		t.Fatalf("a stacked etcd was not refused: %v", err)
	}
}
