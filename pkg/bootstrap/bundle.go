package bootstrap

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// Bundle is an air-gapped runtime bundle on the operator's machine.
type Bundle = bundle.Bundle

// bundleFile maps a bundle file to where it goes on a node.
type bundleFile struct {
	Rel, Dest string
	Mode      os.FileMode
}

// CheckBundle validates spec.runtime.bundle against the spec before any host
// is contacted: it must exist and carry the spec's Kubernetes version and
// image repository.
func CheckBundle(c *cluster.Cluster) (*Bundle, error) {
	if c.Spec.Runtime.Source != cluster.RuntimeSourceBundle {
		return nil, nil
	}
	b, err := bundle.Load(c.Spec.Runtime.Bundle)
	if err != nil {
		return nil, err
	}
	if v := b.Versions["kubernetes"]; v != c.Spec.KubernetesVersion {
		return nil, fmt.Errorf("bundle %s holds Kubernetes %s but spec.kubernetesVersion is %s: build a bundle for %s or change the spec", b.Dir, v, c.Spec.KubernetesVersion, c.Spec.KubernetesVersion)
	}
	if repo := b.Versions["image-repository"]; repo != c.Spec.ImageRepository {
		return nil, fmt.Errorf("bundle %s has images named %s/…, but spec.imageRepository is %q: set spec.imageRepository: %s", b.Dir, repo, c.Spec.ImageRepository, repo)
	}
	if c.Spec.CNI.Plugin == cluster.CNICalico {
		if v := b.Versions["calico"]; v != CalicoVersion || b.Sums[calicoImages] == "" || b.Sums[calicoManifestRel] == "" {
			return nil, fmt.Errorf("bundle %s carries no calico %s (its images and manifest): rebuild it with hack/build-bundle.sh", b.Dir, CalicoVersion)
		}
	}
	return b, nil
}

// bundleFiles lists what the bundle installs on a node of role, in a stable
// order. Workers get neither kubectl (kubeadm join needs none) nor the
// control plane's images: with a bundle built that way (images split into
// images.tar and images-control-plane.tar) a worker is sent 40 % less.
func bundleFiles(b *Bundle, role, cni string) []bundleFile {
	var out []bundleFile
	worker := role == cluster.RoleWorker
	for rel := range b.Sums {
		switch {
		case rel == "bin/runc":
			out = append(out, bundleFile{rel, "/usr/local/sbin/runc", 0o755})
		case rel == "bin/kubectl" && worker:
		case strings.HasPrefix(rel, "bin/"):
			out = append(out, bundleFile{rel, BinDir + "/" + strings.TrimPrefix(rel, "bin/"), 0o755})
		case strings.HasPrefix(rel, "cni/"):
			out = append(out, bundleFile{rel, CNIBinDir + "/" + strings.TrimPrefix(rel, "cni/"), 0o755})
		case rel == "images.tar":
			out = append(out, bundleFile{rel, BundleImages, 0o600})
		case rel == controlPlaneImages && !worker:
			out = append(out, bundleFile{rel, BundleControlPlaneImages, 0o600})
		case rel == calicoImages && cni == cluster.CNICalico:
			out = append(out, bundleFile{rel, BundleCalicoImages, 0o600})
		}
	}
	// The big image archives first: they take longest and the rest overlaps.
	sort.Slice(out, func(i, j int) bool {
		if isImages(out[i].Rel) != isImages(out[j].Rel) {
			return isImages(out[i].Rel)
		}
		return out[i].Rel < out[j].Rel
	})
	return out
}

func isImages(rel string) bool { return strings.HasSuffix(rel, ".tar") }

// controlPlaneImages is the bundle's archive of the images only control
// planes run (API server, controller manager, scheduler); older bundles
// have them in images.tar.
const controlPlaneImages = bundle.ControlPlaneImages

// calicoImages is the bundle's archive of calico's images, sent only to
// the nodes of a calico cluster.
const calicoImages = "images-calico.tar"

// BundleImages and BundleControlPlaneImages are where a node keeps the
// uploaded image archives, so a re-run can tell by checksum that nothing
// changed.
const (
	BundleImages             = bundle.NodeImages
	BundleControlPlaneImages = bundle.NodeControlPlaneImages
	BundleCalicoImages       = bundle.NodeCalicoImages
)
