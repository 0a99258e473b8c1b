package bootstrap

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// runtimePhase installs the runtime on the control planes in the
// background until kubeadm-config needs kubeadm there; runtimeWorkersPhase
// does the workers, in the background until join. Uploads and image imports
// thus overlap etcd coming up and kubeadm init.
func runtimePhase() workflow.Phase[InitData] {
	return runtimeOn("runtime", cluster.RoleControlPlane, "kubeadm-config",
		"install containerd, runc, the CNI plugins, kubelet, kubeadm and kubectl on the control-plane hosts (apt packages or the air-gapped bundle, whose images are imported)")
}

func runtimeWorkersPhase() workflow.Phase[InitData] {
	return runtimeOn("runtime-workers", cluster.RoleWorker, "join", "the same on the workers")
}

func runtimeOn(name, role, until, short string) workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  name,
		Short: short,
		Until: until,
		Run: func(ctx context.Context, d InitData) error {
			return d.OnHosts(ctx, d.Cluster().HostsWithRole(role), func(ctx context.Context, h *host.Host) error {
				return InstallRuntime(ctx, d, h)
			})
		},
		Verify: func(ctx context.Context, d InitData) error {
			return d.OnHosts(ctx, d.Cluster().HostsWithRole(role), func(ctx context.Context, h *host.Host) error {
				return runtimeReady(ctx, d.Cluster(), h)
			})
		},
	}
}

// KubeletHosts are the hosts that run a kubelet: control planes and workers.
func KubeletHosts(c *cluster.Cluster) []cluster.Host {
	return append(c.HostsWithRole(cluster.RoleControlPlane), c.HostsWithRole(cluster.RoleWorker)...)
}

// InstallRuntime prepares one node: kernel settings, swap off, the runtime
// and kube binaries, containerd's configuration and, from a bundle, images.
// Every step compares before it changes, so a re-run restarts nothing.
func InstallRuntime(ctx context.Context, d InitData, h *host.Host) error {
	c := d.Cluster()
	uploaded := func() {}
	if c.Spec.Runtime.Source == cluster.RuntimeSourceBundle && h.Spec.Role == cluster.RoleControlPlane {
		// Marked before the first round trip, so that no worker starts
		// uploading in between.
		uploaded = d.Uploads().First()
		defer uploaded()
	}
	var restarted bool
	configure := func(changed []string) (err error) {
		restarted, err = configureContainerd(ctx, d, h, changed)
		return err
	}
	if c.Spec.Runtime.Source == cluster.RuntimeSourceBundle && !h.DryRun() {
		// The kernel is prepared while containerd's binaries upload; containerd
		// starts only once both are done.
		kernel := make(chan error, 1)
		go func() { kernel <- prepareKernel(ctx, d, h) }()
		upload := configure
		configure = func(changed []string) error {
			if err := <-kernel; err != nil {
				return err
			}
			return upload(changed)
		}
	} else if err := prepareKernel(ctx, d, h); err != nil {
		return err
	}
	if c.Spec.Runtime.Source == cluster.RuntimeSourceBundle {
		// containerd is configured and started as soon as its binaries are
		// there, while the image archives still upload.
		b, err := CheckBundle(c)
		if err != nil {
			return err
		}
		changed, imported, err := installBundle(ctx, d, h, b, configure)
		uploaded() // the workers' turn
		if err != nil {
			return err
		}
		if err := importImages(ctx, d, h, b, restarted, changed, imported); err != nil {
			return err
		}
	} else {
		if err := installPackages(ctx, d, h); err != nil {
			return err
		}
		if err := configure(nil); err != nil {
			return err
		}
	}
	if h.DryRun() {
		return nil
	}
	return runtimeReady(ctx, c, h)
}

// prepareKernel loads overlay and br_netfilter, persists the sysctls and
// turns swap off (kubeadm refuses swap unless the kubelet is told otherwise).
// Inside containers modules cannot load and global sysctls are read-only;
// what counts is the value the node sees, checked afterwards.
func prepareKernel(ctx context.Context, d InitData, h *host.Host) error {
	for _, f := range []host.File{{Path: ModulesPath, Data: []byte(NodeModules), Mode: 0o644}, {Path: SysctlPath, Data: []byte(NodeSysctls), Mode: 0o644}} {
		if _, err := h.EnsureFile(ctx, f); err != nil {
			return err
		}
	}
	err := h.Exec(ctx, "load modules and apply sysctls",
		"for m in overlay br_netfilter; do modprobe $m 2>/dev/null || true; done; sysctl -q -p "+SysctlPath+" >/dev/null 2>&1 || true")
	if err != nil {
		return err
	}
	if out, ok, _ := h.Query(ctx, "cat /proc/sys/net/ipv4/ip_forward; test -e /proc/sys/net/bridge/bridge-nf-call-iptables && echo bridge"); ok && out != "1\nbridge" {
		return fmt.Errorf("the kernel is not ready for Kubernetes (ip_forward=%q; br_netfilter %s): load br_netfilter and set %s", strings.SplitN(out, "\n", 2)[0], map[bool]string{true: "loaded", false: "missing"}[strings.HasSuffix(out, "bridge")], strings.ReplaceAll(strings.TrimSpace(NodeSysctls[strings.Index(NodeSysctls, "\n")+1:]), "\n", ", "))
	}
	if swaps, ok, _ := h.Query(ctx, "tail -n +2 /proc/swaps"); ok && swaps != "" {
		d.Log("runtime", h.Spec.Name, "swap is on; turning it off and commenting it out of /etc/fstab (backup /etc/fstab.kbs-backup)")
		return h.Exec(ctx, "turn swap off", `swapoff -a && cp -p /etc/fstab /etc/fstab.kbs-backup && sed -i -E 's@^([^#].*[[:space:]]swap[[:space:]].*)$@# kbs: swap off for the kubelet: \1@' /etc/fstab`)
	} else if h.DryRun() {
		return h.Exec(ctx, "turn swap off if it is on", "swapoff -a")
	}
	return nil
}

// installPackages installs the runtime with apt, as the operator's notes do:
// containerd and runc from the distribution, kubelet, kubeadm and kubectl
// pinned to the spec's version from pkgs.k8s.io, then held.
func installPackages(ctx context.Context, d InitData, h *host.Host) error {
	c := d.Cluster()
	want := strings.TrimPrefix(c.Spec.KubernetesVersion, "v")
	if out, ok, _ := h.Query(ctx, "kubelet --version; kubeadm version -o short; command -v containerd"); ok && strings.Contains(out, "Kubernetes v"+want) && strings.Contains(out, "\nv"+want+"\n") {
		d.Log("runtime", h.Spec.Name, "kubelet and kubeadm %s and containerd already installed", c.Spec.KubernetesVersion)
		return nil
	}
	script := strings.Join(append([]string{
		"export DEBIAN_FRONTEND=noninteractive",
		// A host without a route to the mirrors must fail, not hang.
		"echo 'Acquire::http::Timeout \"30\"; Acquire::https::Timeout \"30\"; Acquire::Retries \"2\";' > /etc/apt/apt.conf.d/90kbs-timeouts",
		"apt-get update -qq",
		"apt-get install -y -qq containerd runc apt-transport-https ca-certificates curl gpg >/dev/null",
	}, host.KubernetesPackages(c.Spec.KubernetesVersion, "kubelet", "kubeadm", "kubectl")...), " && ")
	d.Log("runtime", h.Spec.Name, "installing containerd and Kubernetes %s packages (pkgs.k8s.io, %s)", c.Spec.KubernetesVersion, host.KubernetesMinor(c.Spec.KubernetesVersion))
	return h.Exec(ctx, "install packages", host.AptLocked(script))
}

var versionRE = regexp.MustCompile(`\bv?\d+\.\d+\.\d+\S*`)

// configureContainerd writes containerd's configuration (and, from a
// bundle, its unit and the kubelet's) and restarts containerd only when
// something it reads changed. It reports whether containerd restarted.
func configureContainerd(ctx context.Context, d InitData, h *host.Host, changed []string) (bool, error) {
	c := d.Cluster()
	major := 2
	if c.Spec.Runtime.Source == cluster.RuntimeSourcePackages {
		if out, ok, _ := h.Query(ctx, "containerd --version"); ok {
			if v, err := version.ParseGeneric(versionRE.FindString(out)); err == nil {
				major = int(v.Major())
			}
		}
	}
	cfg, err := RenderContainerdConfig(c, major)
	if err != nil {
		return false, err
	}
	files := []host.File{{Path: ContainerdConfigPath, Data: cfg, Mode: 0o644}}
	if c.Spec.Runtime.Source == cluster.RuntimeSourceBundle {
		files = append(files,
			host.File{Path: ContainerdUnitPath, Data: []byte(ContainerdUnit), Mode: 0o644},
			host.File{Path: KubeletUnitPath, Data: []byte(KubeletUnit), Mode: 0o644},
			host.File{Path: KubeletDropInPath, Data: []byte(KubeletDropIn), Mode: 0o644})
	}
	mkdir := "install -d -m 0755 /etc/containerd " + filepath.Dir(KubeletDropInPath) + " " + CNIConfDir
	for path, data := range RenderRegistryHosts(c) {
		files = append(files, host.File{Path: path, Data: data, Mode: 0o644})
		mkdir += " " + shell.Quote(filepath.Dir(path))
	}
	if err := h.Exec(ctx, "create directories", mkdir); err != nil {
		return false, err
	}
	// The files are compared and written at once: each is two round trips.
	var mu sync.Mutex
	err = remote.ForEach(ctx, files, len(files), func(ctx context.Context, f host.File) error {
		ch, err := h.EnsureFile(ctx, f)
		if ch {
			mu.Lock()
			changed = append(changed, f.Path)
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if err := removeStaleRegistryHosts(ctx, c, h); err != nil {
		return false, err
	}
	restart := false
	for _, p := range changed {
		// containerd reads a registry's hosts.toml at each pull.
		if strings.HasPrefix(p, RegistryHostsDir+"/") {
			continue
		}
		if p == ContainerdConfigPath || p == ContainerdUnitPath || strings.Contains(p, "containerd") || strings.HasSuffix(p, "/runc") {
			restart = true
		}
	}
	cmd := "systemctl daemon-reload && systemctl enable --quiet containerd.service kubelet.service && systemctl start containerd.service"
	if restart {
		cmd = "systemctl daemon-reload && systemctl enable --quiet containerd.service kubelet.service && systemctl restart containerd.service"
		d.Log("runtime", h.Spec.Name, "containerd configuration or binaries changed; (re)starting containerd")
	}
	if err := h.Exec(ctx, "start containerd", cmd); err != nil {
		return false, err
	}
	// The socket answers a moment after systemd reports the unit started.
	return restart, h.Exec(ctx, "wait for containerd", "for i in $(seq 1 50); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; ctr version")
}

// removeStaleRegistryHosts deletes the hosts.toml files kbs wrote for
// registries the spec no longer mirrors: left there, containerd would
// keep sending those pulls to the old mirrors.
func removeStaleRegistryHosts(ctx context.Context, c *cluster.Cluster, h *host.Host) error {
	written, ok, _ := h.Query(ctx, kbsRegistryHostsCmd)
	if !ok {
		return nil // a dry run, or nothing to read
	}
	stale := staleRegistryHosts(c, written)
	if len(stale) == 0 {
		return nil
	}
	dirs := make([]string, len(stale))
	for i, f := range stale {
		dirs[i] = filepath.Dir(f)
	}
	// A directory that holds more than kbs's file (an operator's CA) stays.
	return h.Exec(ctx, "remove the mirrors of registries no longer in the spec",
		"rm -f "+shell.Join(stale...)+" && { rmdir "+shell.Join(dirs...)+" 2>/dev/null; true; }")
}

// runtimeReady checks that the node runs the spec's kubelet and kubeadm and
// a containerd that answers.
func runtimeReady(ctx context.Context, c *cluster.Cluster, h *host.Host) error {
	out, ok, err := h.Query(ctx, "kubelet --version && kubeadm version -o short && ctr version >/dev/null && systemctl is-active containerd.service")
	if h.DryRun() {
		return nil
	}
	if !ok {
		return fmt.Errorf("runtime not ready on %s: %v", h.Spec.Name, err)
	}
	if want := c.Spec.KubernetesVersion; !strings.Contains(out, "Kubernetes "+want) || !strings.Contains(out, "\n"+want+"\n") {
		return fmt.Errorf("%s runs %q, not Kubernetes %s", h.Spec.Name, strings.ReplaceAll(out, "\n", "; "), want)
	}
	// containerd answers without its CRI service when that plugin failed to
	// load; the kubelet and kubeadm need it, and say so less clearly.
	if cri, _, _ := h.Query(ctx, criStatusCmd); cri != "ok" {
		return fmt.Errorf("containerd on %s runs without its CRI service (plugin io.containerd.grpc.v1 cri: %q): `journalctl -u containerd -b` there says why; a host out of inotify instances (fs.inotify.max_user_instances) is a common cause", h.Spec.Name, cri)
	}
	return nil
}

// criStatusCmd prints the status of containerd's CRI plugin ("ok" when it
// serves).
const criStatusCmd = `ctr plugins ls 2>/dev/null | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" {print $NF}'`
