package bootstrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// CalicoVersion is the calico release kbs installs.
const CalicoVersion = "v3.31.0"

// Calico's manifest is upstream's, never a copy in this repository: the
// release's manifests/calico-vxlan.yaml, taken at run time — from the
// air-gapped bundle (hack/build-bundle.sh copies it out of the calico Go
// module at the same commit) or downloaded once into a cache — and
// accepted only with this checksum.
const (
	calicoManifestSHA256 = "0f7dc29b56dafe1d9566991d008a7944f5a319ab3e5fa9caccfb0d7d778fcdd7"
	// calicoCommit is the v3.31.0 release's commit (the Go module's
	// pseudo-version names it too).
	calicoCommit      = "b1f3c43f84370504e218eb5be8a34c81348f866a"
	calicoManifestRel = "calico/calico-vxlan.yaml"
)

// CalicoManifestURL is where an online operator's machine downloads the
// manifest from (a variable for tests).
var CalicoManifestURL = "https://raw.githubusercontent.com/projectcalico/calico/" + calicoCommit + "/manifests/calico-vxlan.yaml"

// calicoCacheDir is where a downloaded manifest is kept (a variable for
// tests): ~/.cache/kbs/calico/VERSION.
var calicoCacheDir = func() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "kbs", "calico", CalicoVersion)
}

// CalicoManifest is calico's upstream manifest for the spec, checked
// against the pinned checksum: the bundle's with runtime.source bundle,
// else the cached download, else downloaded now. It runs before any host
// is contacted, so a bad file stops init with nothing changed.
func CalicoManifest(ctx context.Context, c *cluster.Cluster) ([]byte, error) {
	if c.Spec.Runtime.Source == cluster.RuntimeSourceBundle {
		path := filepath.Join(c.Spec.Runtime.Bundle, calicoManifestRel)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("calico's manifest: %w (rebuild the bundle with hack/build-bundle.sh)", err)
		}
		return data, checkCalicoManifest(path, data)
	}
	path := filepath.Join(calicoCacheDir(), "calico-vxlan.yaml")
	if data, err := os.ReadFile(path); err == nil {
		if err := checkCalicoManifest(path, data); err != nil {
			return nil, fmt.Errorf("%w (delete it and kbs downloads it again)", err)
		}
		return data, nil
	}
	data, err := downloadCalicoManifest(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkCalicoManifest(CalicoManifestURL, data); err != nil {
		return nil, err
	}
	if err := fsutil.EnsurePrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return data, fsutil.WriteFileAtomic(path, data, 0o644)
}

func checkCalicoManifest(name string, data []byte) error {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != calicoManifestSHA256 {
		return fmt.Errorf("calico's manifest %s has sha256 %s, not calico %s's %s: it is not the release kbs pins", name, got, CalicoVersion, calicoManifestSHA256)
	}
	return nil
}

func downloadCalicoManifest(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, CalicoManifestURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading calico's manifest: %w (offline? use runtime.source: bundle)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading calico's manifest from %s: %s", CalicoManifestURL, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 8<<20))
}
