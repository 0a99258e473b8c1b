package bootstrap

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// Where the runtime lives on the nodes.
const (
	ContainerdConfigPath = "/etc/containerd/config.toml"
	ContainerdUnitPath   = "/etc/systemd/system/containerd.service"
	ContainerdSocket     = "unix:///run/containerd/containerd.sock"
	KubeletUnitPath      = "/etc/systemd/system/kubelet.service"
	KubeletDropInPath    = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
	CNIBinDir            = "/opt/cni/bin"
	CNIConfDir           = "/etc/cni/net.d"
	SysctlPath           = "/etc/sysctl.d/90-kbs-kubernetes.conf"
	ModulesPath          = "/etc/modules-load.d/kbs-kubernetes.conf"
	BinDir               = "/usr/local/bin"
)

// PauseVersion is the sandbox image tag kubeadm 1.37 deploys.
const PauseVersion = "3.10.2"

// SandboxImage is the pause image containerd uses for pod sandboxes: the
// same one kubeadm pre-pulls, so no node ever reaches for a registry.
func SandboxImage(c *cluster.Cluster) string {
	repo := c.Spec.ImageRepository
	if repo == "" {
		repo = "registry.k8s.io"
	}
	return repo + "/pause:" + PauseVersion
}

var containerdConfigTmpl = template.Must(template.New("containerd").Parse(`# Written by kbs for cluster {{.Cluster}}; ` + "`kubectl kbs init`" + ` rewrites it.
version = 3

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{{.Sandbox}}'
{{- if .HostsDir}}
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '{{.HostsDir}}'
{{- end}}

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = {{.RestrictOOM}}
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      SystemdCgroup = {{.SystemdCgroup}}
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['{{.CNIBin}}']
    conf_dir = '{{.CNIConf}}'
`))

// containerd 1.x (Debian's package) reads config version 2.
var containerdV2ConfigTmpl = template.Must(template.New("containerd1").Parse(`# Written by kbs for cluster {{.Cluster}}; ` + "`kubectl kbs init`" + ` rewrites it.
version = 2

[plugins.'io.containerd.grpc.v1.cri']
  sandbox_image = '{{.Sandbox}}'
  restrict_oom_score_adj = {{.RestrictOOM}}
{{- if .HostsDir}}
  [plugins.'io.containerd.grpc.v1.cri'.registry]
    config_path = '{{.HostsDir}}'
{{- end}}
  [plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.runc.options]
      SystemdCgroup = {{.SystemdCgroup}}
  [plugins.'io.containerd.grpc.v1.cri'.cni]
    bin_dir = '{{.CNIBin}}'
    conf_dir = '{{.CNIConf}}'
`))

// RenderContainerdConfig writes containerd's configuration: CRI with the
// spec's sandbox image and cgroup driver. major is containerd's major version.
func RenderContainerdConfig(c *cluster.Cluster, major int) ([]byte, error) {
	t := containerdConfigTmpl
	if major < 2 {
		t = containerdV2ConfigTmpl
	}
	hostsDir := ""
	if len(c.Spec.Runtime.RegistryMirrors) > 0 {
		hostsDir = RegistryHostsDir
	}
	var b bytes.Buffer
	err := t.Execute(&b, map[string]any{
		"HostsDir":      hostsDir,
		"Cluster":       c.Metadata.Name,
		"Sandbox":       SandboxImage(c),
		"RestrictOOM":   c.Spec.Runtime.RestrictOOMScoreAdj,
		"SystemdCgroup": c.Spec.Runtime.CgroupDriver == cluster.CgroupDriverSystemd,
		"CNIBin":        CNIBinDir,
		"CNIConf":       CNIConfDir,
	})
	if err != nil {
		return nil, fmt.Errorf("rendering containerd config: %w", err)
	}
	return b.Bytes(), nil
}

// RegistryHostsDir is where containerd looks for a registry's hosts.toml
// (in a directory named as the registry is) once config_path names it.
const RegistryHostsDir = "/etc/containerd/certs.d"

// RenderRegistryHosts is containerd's hosts.toml for each registry of
// spec.runtime.registryMirrors, by path: the mirrors in the spec's order,
// each trusted to pull and resolve (tags to digests), then the registry
// itself. kbs owns these files: an operator's own hosts.toml for such a
// registry is replaced.
func RenderRegistryHosts(c *cluster.Cluster) map[string][]byte {
	out := map[string][]byte{}
	for reg, mirrors := range c.Spec.Runtime.RegistryMirrors {
		// %q is a valid TOML string here: validation keeps every value
		// to printable ASCII without quotes or backslashes.
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s for cluster %s (spec.runtime.registryMirrors); `kubectl kbs init` rewrites it.\nserver = %q\n", registryHostsMark, c.Metadata.Name, registryServer(reg))
		for _, m := range mirrors {
			canon, _ := cluster.MirrorURL(m)
			fmt.Fprintf(&b, "\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", canon)
		}
		out[RegistryHostsDir+"/"+reg+"/hosts.toml"] = b.Bytes()
	}
	return out
}

// registryHostsMark starts every hosts.toml kbs writes: the ones a later
// spec no longer names are found by it and removed.
const registryHostsMark = "# Written by kbs"

// registryServer is where containerd falls back to after the mirrors, as
// it would without a hosts.toml: Docker Hub's API host for docker.io,
// plain http for a registry on this node, https elsewhere.
func registryServer(reg string) string {
	h := reg
	if i := strings.LastIndex(reg, ":"); i >= 0 {
		h = reg[:i]
	}
	switch {
	case reg == "docker.io":
		return "https://registry-1.docker.io" // docker.io itself serves no registry API
	case h == "localhost" || strings.HasPrefix(h, "127."):
		return "http://" + reg
	}
	return "https://" + reg
}

// kbsRegistryHostsCmd lists the hosts.toml files kbs wrote on a node.
const kbsRegistryHostsCmd = "grep -l '^" + registryHostsMark + "' " + RegistryHostsDir + "/*/hosts.toml 2>/dev/null; true"

// staleRegistryHosts are the files of written (kbsRegistryHostsCmd's
// answer) that c no longer renders: registries taken out of the spec.
func staleRegistryHosts(c *cluster.Cluster, written string) []string {
	want := RenderRegistryHosts(c)
	var stale []string
	for _, f := range strings.Fields(written) {
		if _, ok := want[f]; !ok && strings.HasPrefix(f, RegistryHostsDir+"/") {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	return stale
}

// ContainerdUnit runs a bundle's containerd. Delegate and KillMode=process:
// the shims and pods must survive a containerd restart.
const ContainerdUnit = `# Written by kbs (air-gapped runtime bundle).
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=` + BinDir + `/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`

// KubeletUnit is the kubelet service as the Kubernetes packages ship it: it
// restarts forever, because until kubeadm writes its configuration it has
// nothing to run.
const KubeletUnit = `# Written by kbs (air-gapped runtime bundle).
[Unit]
Description=kubelet: the Kubernetes node agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart=` + BinDir + `/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`

// KubeletDropIn hands the kubelet what kubeadm writes: the bootstrap and
// final kubeconfigs, the config file and the per-node flags file.
const KubeletDropIn = `# Written by kbs: the kubeadm drop-in for the kubelet.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# kubeadm init and join write KUBELET_KUBEADM_ARGS here.
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# The operator's own overrides, KUBELET_EXTRA_ARGS.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=` + BinDir + `/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`

// NodeSysctls are what kubeadm's preflight and the pod network need.
const NodeSysctls = `# Written by kbs: forwarding and bridged traffic through iptables.
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
`

// NodeModules load at boot: overlayfs for containerd, br_netfilter for the
// bridge sysctls above.
const NodeModules = "# Written by kbs.\noverlay\nbr_netfilter\n"
