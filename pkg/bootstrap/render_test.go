package bootstrap

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/internal/goldenfile"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// golden and loadExample are the shared test helpers, by their old names.
func golden(t *testing.T, name string, got []byte) { t.Helper(); goldenfile.Check(t, name, got) }

func loadExample(t *testing.T, name string) *cluster.Cluster {
	t.Helper()
	return goldenfile.Example(t, name)
}

func TestRenderKubeadmConfig(t *testing.T) {
	for _, name := range []string{"k8s", "hk8s"} {
		c := loadExample(t, name)
		c.Spec.APIServer.ExtraArgs = []cluster.Arg{{Name: "audit-log-path", Value: "/var/log/kubernetes/audit.log"}}
		c.Spec.APIServer.CertSANs = []string{"api." + name + ".example.com"}
		cfg, err := RenderKubeadmConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+"-kubeadm.yaml", cfg)
	}
}

// airgapped is the k8s example as the local nodes need it.
func airgapped(t *testing.T) *cluster.Cluster {
	c := loadExample(t, "k8s")
	f, zero := false, int32(0)
	c.Spec.ImageRepository = "kbs.local"
	c.Spec.Runtime = cluster.Runtime{Source: cluster.RuntimeSourceBundle, Bundle: "/b", CgroupDriver: cluster.CgroupDriverCgroupfs, RestrictOOMScoreAdj: true}
	c.Spec.Kubelet.FailCgroupV1 = &f
	c.Spec.KubeProxy.ConntrackMaxPerCore = &zero
	c.Spec.Kubeadm.IgnorePreflightErrors = []string{"SystemVerification"}
	return c
}

func TestRenderAirgapped(t *testing.T) {
	c := airgapped(t)
	cfg, err := RenderKubeadmInit(c, "abcdef.0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s-airgapped-kubeadm-init.yaml", cfg)
	join, err := RenderJoinConfig(c, c.HostsWithRole(cluster.RoleWorker)[0], "abcdef.0123456789abcdef", "sha256:00ff")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s-airgapped-join.yaml", join)
	for major, name := range map[int]string{2: "containerd-v3.toml", 1: "containerd-v2.toml"} {
		out, err := RenderContainerdConfig(c, major)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "k8s-airgapped-"+name, out)
	}
	cni, err := RenderCNI(c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s-airgapped-flannel.yaml", cni)
	objs, err := decodeManifest(cni)
	if err != nil || len(objs) != 6 {
		t.Fatalf("flannel manifest: %d objects, %v", len(objs), err)
	}
}

func TestBootstrapToken(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, err := NewBootstrapToken()
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(tok) || seen[tok] {
			t.Fatalf("bad or repeated token %q", tok)
		}
		seen[tok] = true
	}
}

// The kubelet's eviction thresholds and image GC pass through to its
// KubeletConfiguration as the spec gives them.
func TestRenderKubeletEvictionAndImageGC(t *testing.T) {
	c := loadExample(t, "k8s")
	high := int32(100)
	c.Spec.Kubelet.EvictionHard = map[string]string{"imagefs.available": "1%", "memory.available": "100Mi"}
	c.Spec.Kubelet.ImageGCHighThresholdPercent = &high
	if err := cluster.Validate(c); err != nil {
		t.Fatal(err)
	}
	cfg, err := RenderKubeadmConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: KubeletConfiguration\n", "evictionHard:\n  imagefs.available: 1%\n  memory.available: 100Mi\n", "imageGCHighThresholdPercent: 100\n"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("no %q in\n%s", want, cfg)
		}
	}
}
