// Package bundle reads an air-gapped runtime bundle on the operator's
// machine (hack/build-bundle.sh makes them): what init installs from and
// what an upgrade installs the target release from.
package bundle

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// Load reads a bundle's VERSIONS and SHA256SUMS and checks that every
// listed file is there.
func Load(dir string) (*Bundle, error) {
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

// Local is where the bundle keeps rel on this machine, and whether it is
// gzip-compressed there.
func (b *Bundle) Local(rel string) (string, bool) {
	if b.gzipped[rel] {
		return filepath.Join(b.Dir, rel+".gz"), true
	}
	return filepath.Join(b.Dir, rel), false
}

// Where a node keeps the bundle's image archives (init and upgrade upload
// them there, so a re-run can tell by checksum that nothing changed).
const (
	NodeImages             = "/var/lib/kbs/images.tar"
	NodeControlPlaneImages = "/var/lib/kbs/images-control-plane.tar"
	NodeCalicoImages       = "/var/lib/kbs/images-calico.tar"
)

// The bundle's archives of the images every node runs and of those only
// control planes run (API server, controller manager, scheduler).
const (
	Images             = "images.tar"
	ControlPlaneImages = "images-control-plane.tar"
)
