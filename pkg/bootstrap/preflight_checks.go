package bootstrap

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

var preflightChecks = []check{
	{name: "os", cmd: "uname -s -m", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		return okIf(out == "Linux x86_64" || out == "Linux aarch64", statusFail), out
	}},
	{name: "systemd", cmd: "systemctl is-system-running || true", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		return okIf(out == "running" || out == "degraded", statusFail), "system state " + out
	}},
	{name: "swap", roles: kubeRoles, cmd: "swapon --noheadings --show | wc -l", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		return okIf(out == "0", statusFail), "active swap devices: " + out + " (kubelet wants none)"
	}},
	{name: "kernel-modules", roles: kubeRoles, cmd: "for m in br_netfilter overlay; do grep -qw \"^$m\" /proc/modules || test -d /sys/module/$m || echo $m; done", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		if out == "" {
			return statusOK, "br_netfilter, overlay loaded"
		}
		return statusWarn, "not loaded: " + strings.ReplaceAll(out, "\n", ", ") + " (needed before kubeadm init: modprobe them and list them in /etc/modules-load.d/)"
	}},
	{name: "sysctls", roles: kubeRoles, cmd: "for s in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do echo \"$s=$(sysctl -n $s 2>/dev/null || echo missing)\"; done", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		var bad []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.HasSuffix(l, "=1") {
				bad = append(bad, l)
			}
		}
		if len(bad) == 0 {
			return statusOK, "ip_forward and bridge-nf-call-iptables on"
		}
		return statusWarn, strings.Join(bad, ", ") + " (needed before kubeadm init; want 1)"
	}},
	{name: "container-runtime", roles: kubeRoles, cmd: "ls /run/containerd/containerd.sock /run/crio/crio.sock 2>/dev/null || true", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		if out == "" {
			return statusWarn, "no containerd or CRI-O socket (install a runtime before kubeadm init)"
		}
		return statusOK, "socket " + strings.ReplaceAll(out, "\n", ", ")
	}},
	{name: "kube-binaries", roles: kubeRoles, cmd: kubeVersionsCmd, eval: kubeVersions},
	{name: "time-sync", cmd: "timedatectl show -p NTPSynchronized --value 2>/dev/null || echo unknown", eval: func(out string, _ cluster.Host, _ *cluster.Cluster) (string, string) {
		if out == "yes" {
			return statusOK, "clock synchronized"
		}
		return statusWarn, "clock not NTP-synchronized (" + out + "): certificates and etcd leases need agreeing clocks"
	}},
	{name: "ports", cmd: "ss -Hltnp", eval: portsFree},
}

func okIf(ok bool, otherwise string) string {
	if ok {
		return statusOK
	}
	return otherwise
}

const kubeVersionsCmd = `for b in kubeadm kubelet kubectl; do
  if command -v $b >/dev/null; then
    case $b in kubeadm) v=$(kubeadm version -o short 2>/dev/null);; kubelet) v=$(kubelet --version 2>/dev/null | cut -d' ' -f2);; kubectl) v=$(kubectl version --client 2>/dev/null | sed -n 's/^Client Version: //p');; esac
    echo "$b $v"
  else echo "$b missing"; fi
done`

// kubeVersions fails on a kube binary of another version than the spec's
// (kubeadm would install a cluster of the wrong version); absence is a
// warning, since installing them is a later phase.
func kubeVersions(out string, _ cluster.Host, c *cluster.Cluster) (string, string) {
	want := c.Spec.KubernetesVersion
	var missing, wrong []string
	for _, l := range strings.Split(out, "\n") {
		name, v, _ := strings.Cut(l, " ")
		switch {
		case v == "missing":
			missing = append(missing, name)
		case v != want:
			wrong = append(wrong, fmt.Sprintf("%s %s", name, v))
		}
	}
	switch {
	case len(wrong) > 0:
		return statusFail, "want " + want + ", found " + strings.Join(wrong, ", ")
	case len(missing) > 0:
		return statusWarn, "not installed: " + strings.Join(missing, ", ")
	}
	return statusOK, "kubeadm, kubelet, kubectl " + want
}

// rolePorts are the TCP ports each role must have free, with the process
// allowed to hold one already (a re-run finds its own daemons listening).
// The notes' 10251/10252 are the insecure ports removed in 1.23.
var rolePorts = map[string]map[int]string{
	cluster.RoleEtcd:         {2379: "etcd", 2380: "etcd"},
	cluster.RoleControlPlane: {6443: "kube-apiserver", 10250: "kubelet", 10257: "kube-controller", 10259: "kube-scheduler"},
	cluster.RoleWorker:       {10250: "kubelet", 10256: "kube-proxy"},
}

var listenRE = regexp.MustCompile(`:(\d+)\s+\S+\s*(?:users:\(\("([^"]+)")?`)

func listeners(ssOut string) map[int]string {
	holders := map[int]string{}
	for _, line := range strings.Split(ssOut, "\n") {
		if m := listenRE.FindStringSubmatch(line); m != nil {
			port, _ := strconv.Atoi(m[1])
			holders[port] = m[2]
		}
	}
	return holders
}

func portsFree(out string, h cluster.Host, _ *cluster.Cluster) (string, string) {
	holders := listeners(out)
	var busy []string
	for port, ours := range rolePorts[h.Role] {
		if who, used := holders[port]; used && !strings.HasPrefix(who, ours) {
			busy = append(busy, fmt.Sprintf("%d (held by %q)", port, who))
		}
	}
	slices.Sort(busy)
	if len(busy) > 0 {
		return statusFail, "ports in use: " + strings.Join(busy, ", ")
	}
	return statusOK, "required ports free"
}
