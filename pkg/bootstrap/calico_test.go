package bootstrap

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// upstreamCalicoManifest is calico's own manifest, read from the calico Go
// module the test environment builds from (downloaded through the module
// proxy if this machine has not yet): never a copy in the repository.
func upstreamCalicoManifest(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/projectcalico/calico")
	cmd.Dir = filepath.Join("..", "..", "hack", "tools", "calico")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download calico: %v\n%s", err, out)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(m.Dir, "manifests", "calico-vxlan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func calicoSpec(t *testing.T, extra string) *cluster.Cluster {
	t.Helper()
	doc := `apiVersion: kbs.kubectl-kbs.io/v1alpha1
kind: Cluster
metadata: {name: hk8s}
spec:
  kubernetesVersion: v1.37.2
  networking: {podSubnet: 10.244.0.0/16}
  hosts:
  - {name: etcd-0, role: etcd, address: 10.0.0.10}
  - {name: master-0, role: control-plane, address: 10.0.0.20}
  - {name: worker-0, role: worker, address: 10.0.0.30}
` + extra
	cs, err := cluster.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cluster.SetDefaults(cs[0])
	if err := cluster.Validate(cs[0]); err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

// Upstream's manifest, changed where kbs must and nowhere else: the pool is
// the spec's podSubnet with VXLAN always on, each node's address is its
// Node's InternalIP, every container runs the spec's image (never pulled
// from a private repository), and calico-config carries backend and MTU.
func TestRenderCalico(t *testing.T) {
	raw := upstreamCalicoManifest(t)
	c := calicoSpec(t, "  cni: {plugin: calico, calico: {mtu: 1400}, images: {calico-cni: reg.example.com/cni:v3.31.0-1}}\n  imageRepository: kbs.local\n")
	objs, err := RenderCalico(c, raw)
	if err != nil {
		t.Fatal(err)
	}
	upstream, _ := decodeManifest(raw)
	if len(objs) != len(upstream)+1 {
		t.Fatalf("%d objects, upstream has %d (and kbs adds the API endpoint)", len(objs), len(upstream))
	}
	if ep := objs[0]; ep.GetName() != "kubernetes-services-endpoint" || mustJSON(t, ep.Object["data"]) != `{"KUBERNETES_SERVICE_HOST":"10.0.0.20","KUBERNETES_SERVICE_PORT":"6443"}` {
		t.Errorf("first object %s %s %v, want the API endpoint before calico's pods", ep.GetKind(), ep.GetName(), ep.Object["data"])
	}
	var ds appsv1.DaemonSet
	var cm corev1.ConfigMap
	for _, o := range objs {
		switch o.GetKind() + "/" + o.GetName() {
		case "DaemonSet/calico-node":
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &ds); err != nil {
				t.Fatal(err)
			}
		case "ConfigMap/calico-config":
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cm); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok := o.Object["status"]; ok && o.GetNamespace() == "kube-system" {
			t.Errorf("%s %s carries a status", o.GetKind(), o.GetName())
		}
	}
	if cm.Data["calico_backend"] != "vxlan" || cm.Data["veth_mtu"] != "1400" || !strings.Contains(cm.Data["cni_network_config"], "portmap") {
		t.Errorf("calico-config: %v", cm.Data)
	}
	env := map[string]string{}
	for _, ct := range ds.Spec.Template.Spec.Containers {
		if ct.Name == "calico-node" {
			for _, e := range ct.Env {
				env[e.Name] = e.Value
			}
		}
	}
	for k, v := range map[string]string{"CALICO_IPV4POOL_CIDR": "10.244.0.0/16", "CALICO_IPV4POOL_VXLAN": "Always", "CALICO_IPV4POOL_IPIP": "Never",
		"IP_AUTODETECTION_METHOD": "kubernetes-internal-ip", "FELIX_DebugSkipCTLBCleanup": "true", "DATASTORE_TYPE": "kubernetes"} {
		if env[k] != v {
			t.Errorf("calico-node %s = %q, want %q", k, env[k], v)
		}
	}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name == "bpffs" || v.Name == "sys-fs" || v.Name == "nodeproc" {
			t.Errorf("calico-node keeps the eBPF-only volume %s", v.Name)
		}
	}
	images := map[string]string{}
	for _, ct := range append(ds.Spec.Template.Spec.InitContainers, ds.Spec.Template.Spec.Containers...) {
		images[ct.Name] = ct.Image
		if ct.ImagePullPolicy != corev1.PullNever {
			t.Errorf("%s pulls %s", ct.Name, ct.ImagePullPolicy)
		}
	}
	if _, ok := images["ebpf-bootstrap"]; ok {
		t.Error("calico-node keeps the ebpf-bootstrap init container")
	}
	if images["install-cni"] != "reg.example.com/cni:v3.31.0-1" || images["calico-node"] != "kbs.local/calico-node:v3.31.0" {
		t.Errorf("images %v", images)
	}

	// Without spec settings: calico's own MTU detection, upstream's images.
	objs, err = RenderCalico(calicoSpec(t, "  cni: {plugin: calico}\n"), raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetName() == "calico-config" {
			if mtu, _, _ := unstructured.NestedString(o.Object, "data", "veth_mtu"); mtu != "0" {
				t.Errorf("veth_mtu %q", mtu)
			}
		}
		if o.GetName() == "calico-kube-controllers" && o.GetKind() == "Deployment" && !strings.Contains(mustJSON(t, o.Object), `"quay.io/calico/kube-controllers:v3.31.0"`) {
			t.Error("kube-controllers lost upstream's image")
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The manifest is accepted only with the pinned checksum: a download that
// differs by one byte is refused, naming where it came from, and is not
// cached; the right one is cached and not downloaded again. A bundle's
// manifest that differs is refused naming the file.
func TestCalicoManifestPinned(t *testing.T) {
	raw := upstreamCalicoManifest(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	var serve atomic.Value
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Write(serve.Load().([]byte))
	}))
	defer srv.Close()
	old := CalicoManifestURL
	CalicoManifestURL = srv.URL + "/calico-vxlan.yaml"
	defer func() { CalicoManifestURL = old }()
	c := calicoSpec(t, "  cni: {plugin: calico}\n")

	tampered := append([]byte{}, raw...)
	tampered[len(tampered)/2] ^= 1
	serve.Store(tampered)
	_, err := CalicoManifest(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), CalicoManifestURL) || !strings.Contains(err.Error(), "not the release kbs pins") {
		t.Fatalf("tampered download: %v", err)
	}
	if _, err := os.Stat(filepath.Join(calicoCacheDir(), "calico-vxlan.yaml")); !os.IsNotExist(err) {
		t.Fatalf("a refused download was cached: %v", err)
	}
	serve.Store(raw)
	for range 2 {
		if got, err := CalicoManifest(context.Background(), c); err != nil || len(got) != len(raw) {
			t.Fatalf("pinned download: %v", err)
		}
	}
	if gets.Load() != 2 {
		t.Errorf("%d downloads, want 2 (one refused, one cached)", gets.Load())
	}

	bundle := t.TempDir()
	os.MkdirAll(filepath.Join(bundle, "calico"), 0o755)
	os.WriteFile(filepath.Join(bundle, calicoManifestRel), tampered, 0o644)
	c.Spec.Runtime = cluster.Runtime{Source: cluster.RuntimeSourceBundle, Bundle: bundle}
	if _, err := CalicoManifest(context.Background(), c); err == nil || !strings.Contains(err.Error(), filepath.Join(bundle, calicoManifestRel)) {
		t.Fatalf("tampered bundle manifest: %v", err)
	}
}
