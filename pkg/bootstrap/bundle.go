package bootstrap

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// Bundle is an air-gapped runtime bundle on the operator's machine (see
// hack/build-bundle.sh): binaries, CNI plugins and an image archive, with
// their checksums and versions.
type Bundle struct {
	Dir      string
	Versions map[string]string // VERSIONS: component → version
	Sums     map[string]string // SHA256SUMS: relative path → sha256 (of the plain file)
	// gzipped are the files the bundle keeps as REL.gz: binaries shrink to
	// about a third, and the nodes decompress them as they arrive.
	gzipped map[string]bool
}

// bundleFile maps a bundle file to where it goes on a node.
type bundleFile struct {
	Rel, Dest string
	Mode      os.FileMode
}

// LoadBundle reads a bundle's VERSIONS and SHA256SUMS and checks that every
// listed file is there.
func LoadBundle(dir string) (*Bundle, error) {
	b := &Bundle{Dir: dir, Versions: map[string]string{}, Sums: map[string]string{}, gzipped: map[string]bool{}}
	if err := readPairs(filepath.Join(dir, "VERSIONS"), func(k, v string) { b.Versions[k] = v }); err != nil {
		return nil, err
	}
	err := readPairs(filepath.Join(dir, "SHA256SUMS"), func(sum, rel string) { b.Sums[rel] = sum })
	if err != nil {
		return nil, err
	}
	for rel := range b.Sums {
		if strings.Contains(rel, "..") || filepath.IsAbs(rel) {
			return nil, fmt.Errorf("bundle %s: SHA256SUMS names %q outside the bundle", dir, rel)
		}
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			if _, gzErr := os.Stat(filepath.Join(dir, rel+".gz")); gzErr != nil {
				return nil, fmt.Errorf("bundle %s is incomplete: %w (rebuild it with hack/build-bundle.sh)", dir, err)
			}
			b.gzipped[rel] = true
		}
	}
	for _, want := range []string{"bin/kubelet", "bin/kubeadm", "bin/kubectl", "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc", "images.tar"} {
		if b.Sums[want] == "" {
			return nil, fmt.Errorf("bundle %s has no %s: rebuild it with hack/build-bundle.sh", dir, want)
		}
	}
	return b, nil
}

func readPairs(path string, add func(a, b string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading the runtime bundle: %w (is spec.runtime.bundle a directory made by hack/build-bundle.sh?)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 {
			add(fields[0], fields[1])
		}
	}
	return sc.Err()
}

// CheckBundle validates spec.runtime.bundle against the spec before any host
// is contacted: it must exist and carry the spec's Kubernetes version and
// image repository.
func CheckBundle(c *cluster.Cluster) (*Bundle, error) {
	if c.Spec.Runtime.Source != cluster.RuntimeSourceBundle {
		return nil, nil
	}
	b, err := LoadBundle(c.Spec.Runtime.Bundle)
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

// local is where the bundle keeps rel on this machine, and whether it is
// gzip-compressed there.
func (b *Bundle) local(rel string) (string, bool) {
	if b.gzipped[rel] {
		return filepath.Join(b.Dir, rel+".gz"), true
	}
	return filepath.Join(b.Dir, rel), false
}

// files lists what the bundle installs on a node of role, in a stable
// order. Workers get neither kubectl (kubeadm join needs none) nor the
// control plane's images: with a bundle built that way (images split into
// images.tar and images-control-plane.tar) a worker is sent 40 % less.
func (b *Bundle) files(role, cni string) []bundleFile {
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
const controlPlaneImages = "images-control-plane.tar"

// calicoImages is the bundle's archive of calico's images, sent only to
// the nodes of a calico cluster.
const calicoImages = "images-calico.tar"

// BundleImages and BundleControlPlaneImages are where a node keeps the
// uploaded image archives, so a re-run can tell by checksum that nothing
// changed.
const (
	BundleImages             = "/var/lib/kbs/images.tar"
	BundleControlPlaneImages = "/var/lib/kbs/images-control-plane.tar"
	BundleCalicoImages       = "/var/lib/kbs/images-calico.tar"
)
