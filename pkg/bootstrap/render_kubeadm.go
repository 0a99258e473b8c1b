package bootstrap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

// The subset of kubeadm.k8s.io/v1beta4 kbs writes. kubeadm's own API types
// live in k8s.io/kubernetes, which is not meant to be imported; the real
// `kubeadm config validate` on the host checks what these produce.
type kubeadmInit struct {
	APIVersion       string              `json:"apiVersion"`
	Kind             string              `json:"kind"`
	BootstrapTokens  []kubeadmToken      `json:"bootstrapTokens,omitempty"`
	LocalAPIEndpoint *kubeadmAPIEndpoint `json:"localAPIEndpoint,omitempty"`
	NodeRegistration kubeadmNodeReg      `json:"nodeRegistration"`
}

type kubeadmToken struct {
	Token  string   `json:"token"`
	TTL    string   `json:"ttl"`
	Usages []string `json:"usages"`
	Groups []string `json:"groups"`
}

type kubeadmJoin struct {
	APIVersion       string         `json:"apiVersion"`
	Kind             string         `json:"kind"`
	ControlPlane     *kubeadmJoinCP `json:"controlPlane,omitempty"`
	Discovery        kubeadmDisc    `json:"discovery"`
	NodeRegistration kubeadmNodeReg `json:"nodeRegistration"`
}

// kubeadmJoinCP makes a join a control-plane join. No certificateKey: kbs
// copies the shared certificates itself, nothing is uploaded to the cluster.
type kubeadmJoinCP struct {
	LocalAPIEndpoint *kubeadmAPIEndpoint `json:"localAPIEndpoint,omitempty"`
}

type kubeadmDisc struct {
	BootstrapToken kubeadmDiscToken `json:"bootstrapToken"`
	Timeout        string           `json:"timeout,omitempty"`
}

type kubeadmDiscToken struct {
	APIServerEndpoint string   `json:"apiServerEndpoint"`
	Token             string   `json:"token"`
	CACertHashes      []string `json:"caCertHashes"`
}

// kubeletConfig and kubeProxyConfig carry the few settings the spec passes
// through; the rest stays kubeadm's defaults.
type kubeletConfig struct {
	APIVersion                  string            `json:"apiVersion"`
	Kind                        string            `json:"kind"`
	CgroupDriver                string            `json:"cgroupDriver"`
	FailCgroupV1                *bool             `json:"failCgroupV1,omitempty"`
	EvictionHard                map[string]string `json:"evictionHard,omitempty"`
	ImageGCHighThresholdPercent *int32            `json:"imageGCHighThresholdPercent,omitempty"`
}

type kubeProxyConfig struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Conntrack  *proxyConntrack `json:"conntrack,omitempty"`
}

type proxyConntrack struct {
	MaxPerCore *int32 `json:"maxPerCore"`
}

type kubeadmAPIEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress"`
	BindPort         int    `json:"bindPort"`
}

type kubeadmNodeReg struct {
	Name                  string   `json:"name"`
	CRISocket             string   `json:"criSocket"`
	IgnorePreflightErrors []string `json:"ignorePreflightErrors,omitempty"`
}

type kubeadmCluster struct {
	APIVersion           string            `json:"apiVersion"`
	Kind                 string            `json:"kind"`
	ClusterName          string            `json:"clusterName"`
	KubernetesVersion    string            `json:"kubernetesVersion"`
	ControlPlaneEndpoint string            `json:"controlPlaneEndpoint"`
	ImageRepository      string            `json:"imageRepository,omitempty"`
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
// for `kubeadm init` on the first control-plane host, with the external etcd,
// and the kubelet and kube-proxy settings the spec carries. It holds no
// token: RenderKubeadmInit adds the run's token for the init itself.
func RenderKubeadmConfig(c *cluster.Cluster) ([]byte, error) {
	return renderKubeadm(c, "")
}

// RenderKubeadmInit is RenderKubeadmConfig with a bootstrap token of one
// hour: kubeadm would otherwise mint its own of a day.
func RenderKubeadmInit(c *cluster.Cluster, token string) ([]byte, error) {
	return renderKubeadm(c, token)
}

func nodeReg(c *cluster.Cluster, name string) kubeadmNodeReg {
	return kubeadmNodeReg{Name: name, CRISocket: ContainerdSocket, IgnorePreflightErrors: c.Spec.Kubeadm.IgnorePreflightErrors}
}

// JoinTokenTTL bounds every bootstrap token kbs creates.
const JoinTokenTTL = "1h0m0s"

func renderKubeadm(c *cluster.Cluster, token string) ([]byte, error) {
	cps := c.HostsWithRole(cluster.RoleControlPlane)
	if len(cps) == 0 {
		return nil, fmt.Errorf("rendering kubeadm config: the spec has no control-plane host")
	}
	first := cps[0]
	init := kubeadmInit{APIVersion: kubeadmAPIVersion, Kind: "InitConfiguration", NodeRegistration: nodeReg(c, first.Name)}
	if token != "" {
		init.BootstrapTokens = []kubeadmToken{{Token: token, TTL: JoinTokenTTL, Usages: []string{"signing", "authentication"}, Groups: []string{"system:bootstrappers:kubeadm:default-node-token"}}}
	}
	if _, err := netip.ParseAddr(first.Address); err == nil {
		init.LocalAPIEndpoint = &kubeadmAPIEndpoint{AdvertiseAddress: first.Address, BindPort: apiPort(c)}
	}
	s := c.Spec
	cc := kubeadmCluster{
		APIVersion: kubeadmAPIVersion, Kind: "ClusterConfiguration",
		ClusterName:          c.Metadata.Name,
		KubernetesVersion:    s.KubernetesVersion,
		ControlPlaneEndpoint: s.ControlPlaneEndpoint,
		ImageRepository:      s.ImageRepository,
		Etcd: kubeadmEtcd{External: kubeadmExternalEtcd{
			Endpoints: etcdhost.Endpoints(c), CAFile: host.KubeEtcdCA, CertFile: host.KubeEtcdClientCert, KeyFile: host.KubeEtcdClientKey,
		}},
		Networking:        kubeadmNetworking{PodSubnet: s.Networking.PodSubnet, ServiceSubnet: s.Networking.ServiceSubnet, DNSDomain: s.Networking.DNSDomain},
		APIServer:         kubeadmComponent{CertSANs: apiServerSANs(c), ExtraArgs: s.APIServer.ExtraArgs},
		ControllerManager: kubeadmComponent{ExtraArgs: s.ControllerManager.ExtraArgs},
		Scheduler:         kubeadmComponent{ExtraArgs: s.Scheduler.ExtraArgs},
	}
	docs := []any{init, cc, kubeletConfig{
		APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration",
		CgroupDriver: s.Runtime.CgroupDriver, FailCgroupV1: s.Kubelet.FailCgroupV1,
		EvictionHard: s.Kubelet.EvictionHard, ImageGCHighThresholdPercent: s.Kubelet.ImageGCHighThresholdPercent,
	}}
	if n := s.KubeProxy.ConntrackMaxPerCore; n != nil {
		docs = append(docs, kubeProxyConfig{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration", Conntrack: &proxyConntrack{MaxPerCore: n}})
	}
	return marshalDocs(c, docs)
}

// RenderJoinConfig is a worker's JoinConfiguration: the API endpoint, the
// run's token and the pinned CA hash.
func RenderJoinConfig(c *cluster.Cluster, h cluster.Host, token, caHash string) ([]byte, error) {
	return marshalDocs(c, []any{kubeadmJoin{
		APIVersion: kubeadmAPIVersion, Kind: "JoinConfiguration",
		Discovery: kubeadmDisc{BootstrapToken: kubeadmDiscToken{
			APIServerEndpoint: c.Spec.ControlPlaneEndpoint, Token: token, CACertHashes: []string{caHash},
		}},
		NodeRegistration: nodeReg(c, h.Name),
	}})
}

// RenderControlPlaneJoinConfig is another control plane's JoinConfiguration:
// a worker's plus its own API endpoint (its address, the API server's port).
func RenderControlPlaneJoinConfig(c *cluster.Cluster, h cluster.Host, token, caHash string) ([]byte, error) {
	cp := &kubeadmJoinCP{}
	if _, err := netip.ParseAddr(h.Address); err == nil {
		cp.LocalAPIEndpoint = &kubeadmAPIEndpoint{AdvertiseAddress: h.Address, BindPort: apiPort(c)}
	}
	return marshalDocs(c, []any{kubeadmJoin{
		APIVersion: kubeadmAPIVersion, Kind: "JoinConfiguration",
		ControlPlane: cp,
		Discovery: kubeadmDisc{BootstrapToken: kubeadmDiscToken{
			APIServerEndpoint: c.Spec.ControlPlaneEndpoint, Token: token, CACertHashes: []string{caHash},
		}},
		NodeRegistration: nodeReg(c, h.Name),
	}})
}

func marshalDocs(c *cluster.Cluster, docs []any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Written by kbs for cluster " + c.Metadata.Name + "; `kubectl kbs init` rewrites it.\n")
	for i, doc := range docs {
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

// apiPort is the port the API servers bind: with one control plane and no
// kbs-managed load balancer, the endpoint's (as kbs always did, so an
// existing cluster's configuration does not change); with several or
// behind kbs's haproxy, 6443 (the load balancer's port is its own).
func apiPort(c *cluster.Cluster) int {
	cps := c.HostsWithRole(cluster.RoleControlPlane)
	if _, p, err := net.SplitHostPort(c.Spec.ControlPlaneEndpoint); err == nil && len(cps) == 1 && !c.ManagedLoadBalancer() {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return 6443
}
