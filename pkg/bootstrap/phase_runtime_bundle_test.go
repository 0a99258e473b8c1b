package bootstrap

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// The runtime phases from an air-gapped bundle (the packages source and
// the shared helpers are in phase_runtime_test.go).

// writeRealBundle is a runtime bundle for the airgapped spec whose
// SHA256SUMS are the files' real sums, as hack/build-bundle.sh makes them:
// the fake then holds what a node would, and a re-run can compare.
func writeRealBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sums strings.Builder
	for _, rel := range append(slices.Clone(bundleBins), "images.tar", "images-control-plane.tar") {
		data := []byte("bundle file " + rel + "\n")
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sums, "%s  %s\n", sha256Hex(data), rel)
	}
	for name, data := range map[string]string{"SHA256SUMS": sums.String(), "VERSIONS": "kubernetes v1.37.2\nimage-repository kbs.local\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// bundleSpec is the k8s example, air-gapped, with a bundle of real sums.
func bundleSpec(t *testing.T) *cluster.Cluster {
	t.Helper()
	c := airgapped(t)
	c.Spec.Runtime.Bundle = writeRealBundle(t)
	return c
}

// bundleNodeFiles are the files a node of role gets from spec's bundle,
// besides the kernel's: the bundle's, and containerd's and the kubelet's
// configuration and units.
func bundleNodeFiles(t *testing.T, spec *cluster.Cluster, role string) map[string]fileWant {
	t.Helper()
	b, err := CheckBundle(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := RenderContainerdConfig(spec, 2)
	if err != nil {
		t.Fatal(err)
	}
	files := kernelFiles()
	files[ContainerdConfigPath] = fileWant{string(cfg), 0o644}
	files[ContainerdUnitPath] = fileWant{ContainerdUnit, 0o644}
	files[KubeletUnitPath] = fileWant{KubeletUnit, 0o644}
	files[KubeletDropInPath] = fileWant{KubeletDropIn, 0o644}
	for _, bf := range bundleFiles(b, role, cluster.CNIFlannel) {
		local, _ := b.Local(bf.Rel)
		data, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		files[bf.Dest] = fileWant{string(data), bf.Mode}
	}
	return files
}

// The runtime phases from an air-gapped bundle: every file of the host's
// role uploaded with its checksum (image archives imported as they
// arrive), containerd started as soon as its own binaries are there and
// before any image arrives, and on a re-run nothing uploaded or restarted.
func TestRuntimePhaseFromBundle(t *testing.T) {
	for _, tc := range []struct {
		name, phase, role string
		hosts             []string
		nfiles            int // bundle files the role gets
	}{
		{"control plane: everything", "runtime", cluster.RoleControlPlane, []string{"master-0"}, 10},
		{"workers: no kubectl, no control-plane images", "runtime-workers", cluster.RoleWorker, []string{"worker-0", "worker-1"}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spec := bundleSpec(t)
			f := newFakeInit(t, spec, false)
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			if err := f.run(ctx, tc.phase); err != nil {
				t.Fatalf("%v\n%s", err, f.output())
			}
			if !slices.Equal(f.dialed(), tc.hosts) {
				t.Errorf("dialed %v, want %v", f.dialed(), tc.hosts)
			}
			files := bundleNodeFiles(t, spec, tc.role)
			for _, name := range tc.hosts {
				c := f.conn(name)
				assertFiles(t, c, files)
				if c.Ran(`apt-get`) || c.Ran(`^containerd --version`) {
					t.Errorf("%s: a bundle install used apt or asked containerd's version", name)
				}
				assertRanInOrder(t, c, `^install -d -m 0755 /usr/local/bin /usr/local/sbin /opt/cni/bin && install -d -m 0700 /var/lib/kbs$`, restartContainerdCmd, checkRuntimeCmd)
				calls := c.Calls()
				restart := indexOf(calls, restartContainerdCmd)
				uploads := 0
				for i, call := range calls {
					if call.Kind != remotetest.KindWrite || !strings.HasPrefix(call.Path, "/usr/local/") && !strings.HasPrefix(call.Path, "/opt/cni/") && !strings.HasPrefix(call.Path, "/var/lib/kbs/") {
						continue
					}
					uploads++
					image := strings.HasSuffix(call.Path, ".tar")
					// A checksum for every upload, plus the import for images.
					if wantOpts := map[bool]int{false: 1, true: 2}[image]; call.Opts != wantOpts {
						t.Errorf("%s: %s uploaded with %d options, want %d", name, call.Path, call.Opts, wantOpts)
					}
					switch base := filepath.Base(call.Path); {
					case runtimeBinary("bin/"+base) && i > restart:
						t.Errorf("%s: %s uploaded after containerd (re)started", name, call.Path)
					case image && i < restart:
						t.Errorf("%s: %s uploaded (and imported) before containerd started", name, call.Path)
					}
				}
				if uploads != tc.nfiles {
					t.Errorf("%s: %d bundle uploads, want %d", name, uploads, tc.nfiles)
				}
				c.Reset()
			}

			f.out.Reset()
			if err := f.run(ctx, tc.phase); err != nil {
				t.Fatalf("re-run: %v\n%s", err, f.output())
			}
			for _, name := range tc.hosts {
				c := f.conn(name)
				if w := c.Writes(); len(w) != 0 {
					t.Errorf("%s: a re-run wrote %v", name, slices.Sorted(maps.Keys(w)))
				}
				if c.Ran(`systemctl restart`) || c.Ran(`images import`) || !c.Ran(startContainerdCmd) || !c.Ran(`^ctr -n k8s\.io images ls -q$`) {
					t.Errorf("%s: a re-run restarted or imported, or checked nothing:\n%s", name, strings.Join(c.Commands(), "\n"))
				}
				if want := fmt.Sprintf("[runtime] %s: bundle files already in place (%d files, checksums match)", name, tc.nfiles); !strings.Contains(f.output(), want) {
					t.Errorf("no %q in\n%s", want, f.output())
				}
			}
		})
	}
}

// A node whose uploads finished but whose image import did not (an
// interrupted run) has its archives imported from where they are.
func TestRuntimePhaseImportsImagesAnInterruptedRunLeft(t *testing.T) {
	spec := bundleSpec(t)
	f := newFakeInit(t, spec, false)
	c := f.conn("master-0")
	for path, w := range bundleNodeFiles(t, spec, cluster.RoleControlPlane) {
		c.SetFileEntry(path, remotetest.FileEntry{Data: []byte(w.data), Mode: w.mode, Owner: "root:root"})
	}
	c.On(`^ctr -n k8s\.io images ls -q$`, "docker.io/library/busybox:latest\n", nil)
	c.On(`^ls /var/lib/kbs/images\.tar /var/lib/kbs/images-control-plane\.tar /var/lib/kbs/images-calico\.tar 2>/dev/null; true$`, BundleImages+"\n"+BundleControlPlaneImages+"\n", nil)
	f.ssh.Configure(freshNode(spec, nodeOptions{}))
	if err := f.run(context.Background(), "runtime"); err != nil {
		t.Fatalf("%v\n%s", err, f.output())
	}
	if w := c.Writes(); len(w) != 0 {
		t.Errorf("wrote %v to a node that has every file", slices.Sorted(maps.Keys(w)))
	}
	want := "ctr -n k8s.io images import " + BundleImages + " >/dev/null && ctr -n k8s.io images import " + BundleControlPlaneImages + " >/dev/null"
	if !slices.Contains(c.Commands(), want) || c.Ran(`systemctl restart`) {
		t.Errorf("want %q and no restart; ran\n%s", want, strings.Join(c.Commands(), "\n"))
	}
}

// The dry-run plan of a bundle install names every upload and the images
// imported as they arrive, for the hosts of the phase's role only.
func TestRuntimePhaseFromBundleDryRunPlan(t *testing.T) {
	spec := bundleSpec(t)
	f := newFakeInit(t, spec, true)
	if err := f.run(context.Background(), "runtime-workers"); err != nil {
		t.Fatal(err)
	}
	plan := f.output()
	for _, re := range []string{
		`(?m)^\[plan\] worker-0: would upload and import into containerd as it arrives \S+/images\.tar to /var/lib/kbs/images\.tar \(mode 0600, sha256 [0-9a-f]{12}\) unless the node has it$`,
		`(?m)^\[plan\] worker-1: would upload \S+/bin/runc to /usr/local/sbin/runc \(mode 0755, sha256 [0-9a-f]{12}\) unless the node has it$`,
		`(?m)^\[plan\] worker-1: would write /etc/systemd/system/containerd\.service \(mode 0644, `,
		`(?m)^\[plan\] worker-1: would import images: ctr -n k8s\.io images import /var/lib/kbs/images\.tar >/dev/null$`,
	} {
		if !regexp.MustCompile(re).MatchString(plan) {
			t.Errorf("no line matching %s in the plan:\n%s", re, plan)
		}
	}
	for _, absent := range []string{"master-0", "bin/kubectl", "images-control-plane.tar", "apt-get"} {
		if strings.Contains(plan, absent) {
			t.Errorf("the workers' plan mentions %s:\n%s", absent, plan)
		}
	}
}
