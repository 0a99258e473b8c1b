package bootstrap

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// writeBundle makes a bundle directory holding rels (contents don't
// matter: LoadBundle checks presence, the nodes check the sums).
func writeBundle(t *testing.T, rels ...string) string {
	t.Helper()
	dir := t.TempDir()
	var sums []byte
	for _, rel := range rels {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, "0123456789abcdef0123  "+rel+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "VERSIONS"), []byte("kubernetes v1.37.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

var bundleBins = []string{"bin/kubelet", "bin/kubeadm", "bin/kubectl", "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc", "cni/bridge"}

// Workers are sent neither kubectl nor the control plane's images; control
// planes everything, the big archives first.
func TestBundleFilesPerRole(t *testing.T) {
	b, err := bundle.Load(writeBundle(t, append(bundleBins, "images.tar", "images-control-plane.tar")...))
	if err != nil {
		t.Fatal(err)
	}
	dests := func(role string) []string {
		var out []string
		for _, f := range bundleFiles(b, role, cluster.CNIFlannel) {
			out = append(out, f.Dest)
		}
		return out
	}
	cp, worker := dests(cluster.RoleControlPlane), dests(cluster.RoleWorker)
	if len(cp) != 10 || !slices.Contains(cp, BundleControlPlaneImages) || !slices.Contains(cp, BinDir+"/kubectl") || !isImages(bundleFiles(b, cluster.RoleControlPlane, cluster.CNIFlannel)[1].Rel) {
		t.Errorf("control plane gets %v", cp)
	}
	if len(worker) != 8 || slices.Contains(worker, BundleControlPlaneImages) || slices.Contains(worker, BinDir+"/kubectl") || worker[0] != BundleImages {
		t.Errorf("worker gets %v", worker)
	}
}

// Binaries kept gzipped (REL.gz, the sum of the plain file in SHA256SUMS)
// are found and marked for decompression on the node.
func TestBundleWithGzippedBinaries(t *testing.T) {
	dir := writeBundle(t, append(bundleBins, "images.tar")...)
	if err := os.Rename(filepath.Join(dir, "bin/kubelet"), filepath.Join(dir, "bin/kubelet.gz")); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p, gz := b.Local("bin/kubelet"); !gz || p != filepath.Join(dir, "bin/kubelet.gz") {
		t.Errorf("kubelet: %s gzipped=%v", p, gz)
	}
	if _, gz := b.Local("bin/kubeadm"); gz {
		t.Error("kubeadm is not gzipped")
	}
	if err := os.Remove(filepath.Join(dir, "bin/kubelet.gz")); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Load(dir); err == nil {
		t.Error("a bundle missing bin/kubelet loaded")
	}
}

// A bundle of one image archive (built before the split) still serves
// every role.
func TestBundleWithOneImageArchive(t *testing.T) {
	b, err := bundle.Load(writeBundle(t, append(bundleBins, "images.tar")...))
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{cluster.RoleControlPlane, cluster.RoleWorker} {
		if f := bundleFiles(b, role, cluster.CNIFlannel); f[0].Dest != BundleImages || isImages(f[1].Rel) {
			t.Errorf("%s gets %+v", role, f)
		}
	}
}
