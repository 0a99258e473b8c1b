package bootstrap

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// installBundle uploads the bundle's files whose checksum differs on the
// node, several at a time on the host's one connection, and verifies each
// on arrival. The runtime's own binaries go first; once they are in place
// it calls runtimeReady with those it changed (containerd is started
// there), and the image archives are then imported as they upload, while
// the other binaries follow beside them. It returns the destinations it
// changed and the archives it imported.
func installBundle(ctx context.Context, d InitData, h *host.Host, b *Bundle, runtimeReady func(changed []string) error) (changed, imported []string, err error) {
	files := bundleFiles(b, h.Spec.Role, d.Cluster().Spec.CNI.Plugin)
	if h.DryRun() {
		for _, f := range files {
			local, _ := b.Local(f.Rel)
			how := "upload"
			if isImages(f.Rel) {
				how = "upload and import into containerd as it arrives"
			}
			h.Plan("would %s %s to %s (mode %04o, sha256 %s) unless the node has it", how, local, f.Dest, f.Mode, b.Sums[f.Rel][:12])
		}
		return nil, nil, runtimeReady(nil)
	}
	dests := make([]string, len(files))
	for i, f := range files {
		dests[i] = shell.Quote(f.Dest)
	}
	if err := h.Exec(ctx, "create directories", "install -d -m 0755 "+BinDir+" /usr/local/sbin "+CNIBinDir+" && install -d -m 0700 "+filepath.Dir(BundleImages)); err != nil {
		return nil, nil, err
	}
	have := map[string]string{}
	out, _, _ := h.Query(ctx, "sha256sum "+strings.Join(dests, " ")+" 2>/dev/null; true")
	for _, line := range strings.Split(out, "\n") {
		if sum, path, ok := strings.Cut(line, "  "); ok {
			have[path] = sum
		}
	}
	var images, runtime, rest []bundleFile
	for _, f := range files {
		switch {
		case have[f.Dest] == b.Sums[f.Rel]:
		case isImages(f.Rel):
			images = append(images, f)
		case runtimeBinary(f.Rel):
			runtime = append(runtime, f)
		default:
			rest = append(rest, f)
		}
	}
	if len(images)+len(runtime)+len(rest) == 0 {
		d.Log("runtime", h.Spec.Name, "bundle files already in place (%d files, checksums match)", len(files))
		return nil, nil, runtimeReady(nil)
	}
	if h.Spec.Role != cluster.RoleControlPlane {
		if err := d.Uploads().Wait(ctx); err != nil {
			return nil, nil, err
		}
	}
	var mu sync.Mutex
	upload := func(files []bundleFile, limit int, opts ...remote.WriteOption) ([]string, error) {
		var done []string
		err := remote.ForEach(ctx, files, limit, func(ctx context.Context, f bundleFile) error {
			if err := b.Upload(ctx, h, f.Rel, f.Dest, f.Mode, opts...); err != nil {
				return err
			}
			mu.Lock()
			done = append(done, f.Dest)
			changed = append(changed, f.Dest)
			mu.Unlock()
			return nil
		})
		return done, err
	}
	bins, err := upload(runtime, 3)
	if err == nil {
		err = runtimeReady(bins)
	}
	if err != nil {
		return nil, nil, err
	}
	imagesDone := make(chan error, 1)
	go func() {
		if len(images) == 0 {
			imagesDone <- nil
			return
		}
		d.Log("runtime", h.Spec.Name, "importing images into containerd as they upload")
		defer h.Trace("import images", time.Now())
		var err error
		imported, err = upload(images, 2, remote.Tee(importCmd("-")))
		imagesDone <- err
	}()
	_, err = upload(rest, 3)
	if ierr := <-imagesDone; err == nil {
		err = ierr
	}
	if err != nil {
		return nil, nil, err
	}
	d.Log("runtime", h.Spec.Name, "uploaded %d of %d bundle files", len(changed), len(files))
	return changed, imported, nil
}

// runtimeBinary says whether a bundle file is one containerd needs to run
// (and ctr to import): these go first, so that images can be imported
// while everything else uploads.
func runtimeBinary(rel string) bool {
	switch rel {
	case "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc":
		return true
	}
	return false
}

// importCmd imports an image archive (a path, or - for standard input)
// into the namespace the kubelet's CRI uses.
func importCmd(archive string) string {
	return "ctr -n k8s.io images import " + archive + " >/dev/null"
}

// importImages loads the bundle's image archives of the host's role into
// containerd's k8s.io namespace: those that changed, all of them when
// containerd restarted, or what is on the node when the sandbox image is
// missing (an upload whose import was interrupted).
func importImages(ctx context.Context, d InitData, h *host.Host, b *Bundle, restarted bool, changed, imported []string) error {
	var archives []string
	for _, f := range bundleFiles(b, h.Spec.Role, d.Cluster().Spec.CNI.Plugin) {
		if isImages(f.Rel) && !slices.Contains(imported, f.Dest) && (restarted || slices.Contains(changed, f.Dest)) {
			archives = append(archives, f.Dest)
		}
	}
	if len(archives) == 0 && len(imported) == 0 {
		if out, ok, _ := h.Query(ctx, "ctr -n k8s.io images ls -q"); ok && slices.Contains(strings.Fields(out), SandboxImage(d.Cluster())) {
			return nil
		}
		// Uploaded earlier but never imported (an interrupted run).
		out, _, _ := h.Query(ctx, "ls "+BundleImages+" "+BundleControlPlaneImages+" "+BundleCalicoImages+" 2>/dev/null; true")
		archives = strings.Fields(out)
		if h.DryRun() {
			archives = []string{BundleImages}
		}
	}
	if len(archives) == 0 {
		return nil
	}
	if !h.DryRun() {
		d.Log("runtime", h.Spec.Name, "importing images into containerd")
	}
	cmds := make([]string, len(archives))
	for i, a := range archives {
		cmds[i] = importCmd(a)
	}
	return h.Exec(ctx, "import images", strings.Join(cmds, " && "))
}
