package inspect

import (
	"fmt"
	"sort"
	"strings"
)

// Drift is one place where a live component differs from kubeadm-config.
type Drift struct {
	Node      string `json:"node"`
	Component string `json:"component"`
	Setting   string `json:"setting"`
	Config    string `json:"config"` // what kubeadm-config says
	Live      string `json:"live"`   // what the pod runs
}

// FindDrift compares the static pods with the stored configuration: the
// version, etcd endpoints and cert files, service and pod networks, and
// every extraArg.
func FindDrift(cfg *KubeadmConfig, pods []StaticPod) []Drift {
	var out []Drift
	for _, p := range pods {
		want := expectedFlags(cfg, p.Component)
		for _, name := range sortedNames(want) {
			got, ok := p.Flag(name)
			if !ok {
				got = "(not set)"
			}
			if got != want[name] {
				out = append(out, Drift{p.Node, p.Component, "--" + name, want[name], got})
			}
		}
		if cfg.KubernetesVersion != "" && p.Version != "" && p.Version != cfg.KubernetesVersion {
			out = append(out, Drift{p.Node, p.Component, "image version", cfg.KubernetesVersion, p.Version})
		}
	}
	return out
}

// expectedFlags are the flags kubeadm derives from the configuration.
func expectedFlags(cfg *KubeadmConfig, component string) map[string]string {
	want := map[string]string{}
	n := cfg.Networking
	switch component {
	case "kube-apiserver":
		if cfg.Etcd.Mode == "external" {
			want["etcd-servers"] = strings.Join(cfg.Etcd.Endpoints, ",")
			want["etcd-cafile"] = cfg.Etcd.CAFile
			want["etcd-certfile"] = cfg.Etcd.CertFile
			want["etcd-keyfile"] = cfg.Etcd.KeyFile
		}
		if n["serviceSubnet"] != "" {
			want["service-cluster-ip-range"] = n["serviceSubnet"]
		}
	case "kube-controller-manager":
		if n["podSubnet"] != "" {
			want["cluster-cidr"] = n["podSubnet"]
		}
		if n["serviceSubnet"] != "" {
			want["service-cluster-ip-range"] = n["serviceSubnet"]
		}
	}
	for _, a := range cfg.ExtraArgs[configKey(component)] {
		name, value, _ := strings.Cut(a, "=")
		want[name] = value
	}
	return want
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (d Drift) String() string {
	return fmt.Sprintf("%s/%s %s: kubeadm-config says %q, the pod runs %q", d.Node, d.Component, d.Setting, d.Config, d.Live)
}
