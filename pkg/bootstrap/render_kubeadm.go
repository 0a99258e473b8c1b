package bootstrap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// The subset of kubeadm.k8s.io/v1beta4 kbs writes. kubeadm's own API types
// live in k8s.io/kubernetes, which is not meant to be imported; the real
// `kubeadm config validate` on the host checks what these produce.
type kubeadmInit struct {
	APIVersion       string              `json:"apiVersion"`
	Kind             string              `json:"kind"`
	LocalAPIEndpoint *kubeadmAPIEndpoint `json:"localAPIEndpoint,omitempty"`
	NodeRegistration kubeadmNodeReg      `json:"nodeRegistration"`
}

type kubeadmAPIEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress"`
	BindPort         int    `json:"bindPort"`
}

type kubeadmNodeReg struct {
	Name string `json:"name"`
}

type kubeadmCluster struct {
	APIVersion           string            `json:"apiVersion"`
	Kind                 string            `json:"kind"`
	ClusterName          string            `json:"clusterName"`
	KubernetesVersion    string            `json:"kubernetesVersion"`
	ControlPlaneEndpoint string            `json:"controlPlaneEndpoint"`
	Etcd                 kubeadmEtcd       `json:"etcd"`
	Networking           kubeadmNetworking `json:"networking"`
	APIServer            kubeadmComponent  `json:"apiServer,omitempty"`
	ControllerManager    kubeadmComponent  `json:"controllerManager,omitempty"`
	Scheduler            kubeadmComponent  `json:"scheduler,omitempty"`
}

type kubeadmEtcd struct {
	External kubeadmExternalEtcd `json:"external"`
}

type kubeadmExternalEtcd struct {
	Endpoints []string `json:"endpoints"`
	CAFile    string   `json:"caFile"`
	CertFile  string   `json:"certFile"`
	KeyFile   string   `json:"keyFile"`
}

type kubeadmNetworking struct {
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
	DNSDomain     string `json:"dnsDomain"`
}

type kubeadmComponent struct {
	CertSANs  []string      `json:"certSANs,omitempty"`
	ExtraArgs []cluster.Arg `json:"extraArgs,omitempty"`
}

const kubeadmAPIVersion = "kubeadm.k8s.io/v1beta4"

// RenderKubeadmConfig writes the InitConfiguration and ClusterConfiguration
// for `kubeadm init` on the first control-plane host, with the external etcd.
func RenderKubeadmConfig(c *cluster.Cluster) ([]byte, error) {
	cps := c.HostsWithRole(cluster.RoleControlPlane)
	if len(cps) == 0 {
		return nil, fmt.Errorf("rendering kubeadm config: the spec has no control-plane host")
	}
	first := cps[0]
	init := kubeadmInit{APIVersion: kubeadmAPIVersion, Kind: "InitConfiguration", NodeRegistration: kubeadmNodeReg{Name: first.Name}}
	if _, err := netip.ParseAddr(first.Address); err == nil {
		init.LocalAPIEndpoint = &kubeadmAPIEndpoint{AdvertiseAddress: first.Address, BindPort: apiPort(c)}
	}
	s := c.Spec
	cc := kubeadmCluster{
		APIVersion: kubeadmAPIVersion, Kind: "ClusterConfiguration",
		ClusterName:          c.Metadata.Name,
		KubernetesVersion:    s.KubernetesVersion,
		ControlPlaneEndpoint: s.ControlPlaneEndpoint,
		Etcd: kubeadmEtcd{External: kubeadmExternalEtcd{
			Endpoints: EtcdEndpoints(c), CAFile: KubeEtcdCA, CertFile: KubeEtcdClientCert, KeyFile: KubeEtcdClientKey,
		}},
		Networking:        kubeadmNetworking{PodSubnet: s.Networking.PodSubnet, ServiceSubnet: s.Networking.ServiceSubnet, DNSDomain: s.Networking.DNSDomain},
		APIServer:         kubeadmComponent{CertSANs: apiServerSANs(c), ExtraArgs: s.APIServer.ExtraArgs},
		ControllerManager: kubeadmComponent{ExtraArgs: s.ControllerManager.ExtraArgs},
		Scheduler:         kubeadmComponent{ExtraArgs: s.Scheduler.ExtraArgs},
	}
	var b bytes.Buffer
	b.WriteString("# Written by kbs for cluster " + c.Metadata.Name + "; `kubectl kbs init` rewrites it.\n")
	for i, doc := range []any{init, cc} {
		out, err := yaml.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("rendering kubeadm config: %w", err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(out)
	}
	return b.Bytes(), nil
}

// apiServerSANs are the spec's SANs plus every control-plane host's name
// and address, so the API server answers on each of them.
func apiServerSANs(c *cluster.Cluster) []string {
	seen := map[string]bool{}
	var sans []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			sans = append(sans, s)
		}
	}
	for _, s := range c.Spec.APIServer.CertSANs {
		add(s)
	}
	for _, h := range c.HostsWithRole(cluster.RoleControlPlane) {
		add(h.Name)
		add(h.Address)
	}
	if host, _, err := net.SplitHostPort(c.Spec.ControlPlaneEndpoint); err == nil {
		add(host)
	}
	return sans
}

func apiPort(c *cluster.Cluster) int {
	if _, p, err := net.SplitHostPort(c.Spec.ControlPlaneEndpoint); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return 6443
}
