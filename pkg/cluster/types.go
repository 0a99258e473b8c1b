// Package cluster is the cluster spec kbs works from: a versioned Cluster
// document (several make an inventory), decoded strictly, defaulted, and
// validated before any host is contacted.
package cluster

// APIVersion and Kind identify a kbs cluster document.
const (
	Group      = "kbs.kubectl-kbs.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
	Kind       = "Cluster"
)

// Host roles.
const (
	RoleEtcd         = "etcd"
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// CNI plugins kbs can install.
const (
	CNIFlannel = "flannel"
	CNICalico  = "calico"
)

// Cluster is one cluster: where its hosts are and how to build it.
type Cluster struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   Metadata    `json:"metadata"`
	Spec       ClusterSpec `json:"spec"`
}

// Metadata names the cluster; the name is also its kubeconfig context and
// its state directory under ~/.kube/kbs/.
type Metadata struct {
	Name string `json:"name"`
}

// ClusterSpec describes the cluster.
type ClusterSpec struct {
	// KubernetesVersion is the version kubeadm installs, e.g. v1.37.2.
	KubernetesVersion string `json:"kubernetesVersion"`
	// ControlPlaneEndpoint is host:port of the API server: a load balancer
	// the operator runs in front of several control-plane hosts, or the
	// loadBalancer's VIP and port. Default: with one control plane, its
	// address and 6443; with several, spec.loadBalancer's VIP and port.
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`
	// LoadBalancer, when set, makes kbs run the endpoint itself: keepalived
	// holds a virtual IP on one control plane and haproxy on every control
	// plane forwards to every API server.
	LoadBalancer      *LoadBalancer `json:"loadBalancer,omitempty"`
	Networking        Networking    `json:"networking,omitempty"`
	CNI               CNI           `json:"cni,omitempty"`
	Etcd              Etcd          `json:"etcd,omitempty"`
	APIServer         Component     `json:"apiServer,omitempty"`
	ControllerManager Component     `json:"controllerManager,omitempty"`
	Scheduler         Component     `json:"scheduler,omitempty"`
	// Runtime says how the container runtime and the kube binaries get onto
	// the nodes.
	Runtime Runtime `json:"runtime,omitempty"`
	// ImageRepository replaces registry.k8s.io for the control plane, CoreDNS,
	// pause and the CNI images (air-gapped clusters).
	ImageRepository string    `json:"imageRepository,omitempty"`
	Kubelet         Kubelet   `json:"kubelet,omitempty"`
	KubeProxy       KubeProxy `json:"kubeProxy,omitempty"`
	Kubeadm         Kubeadm   `json:"kubeadm,omitempty"`
	// SSH holds the connection settings for every host; hosts may override.
	SSH   SSH    `json:"ssh,omitempty"`
	Hosts []Host `json:"hosts"`
}

// Networking holds the cluster's address ranges.
type Networking struct {
	// PodSubnet is the pods' network (calico's IP pool); default: the
	// plugin's customary one, 10.244.0.0/16 for flannel, 192.168.0.0/16
	// (calico's default pool) for calico.
	PodSubnet     string `json:"podSubnet,omitempty"`
	ServiceSubnet string `json:"serviceSubnet,omitempty"`
	// NodeSubnet, when set, must contain every host address.
	NodeSubnet string `json:"nodeSubnet,omitempty"`
	DNSDomain  string `json:"dnsDomain,omitempty"`
}

// CNI chooses the pod network.
type CNI struct {
	Plugin string `json:"plugin,omitempty"`
	// Images overrides the plugin's images by name (flannel:
	// "flannel", "flannel-cni-plugin"), for air-gapped clusters whose
	// images carry other names or tags.
	Images map[string]string `json:"images,omitempty"`
	// Calico holds calico's settings (plugin: calico only).
	Calico *Calico `json:"calico,omitempty"`
}

// Calico backends kbs can install.
const (
	// CalicoBackendVXLAN encapsulates pod traffic between nodes in VXLAN
	// (UDP 4789): no BGP daemon, no routing requirement on the network.
	CalicoBackendVXLAN = "vxlan"
)

// Calico configures calico's pod network.
type Calico struct {
	// Backend is how pod traffic crosses nodes: vxlan (the default and,
	// for now, the only one kbs installs).
	Backend string `json:"backend,omitempty"`
	// MTU of the pod interfaces and the tunnel; 0 (the default) lets
	// calico derive it on each node from the interface that carries the
	// node's address, less the VXLAN header.
	MTU int `json:"mtu,omitempty"`
}

// LoadBalancer is the kbs-managed control-plane endpoint, the arrangement
// kubeadm's HA documentation describes: keepalived (VRRP) moves VIP between
// the control-plane hosts, haproxy on each listens on Port (never the API
// server's own 6443 on the same host) and forwards to every API server that
// answers /readyz.
type LoadBalancer struct {
	// VIP is the virtual IPv4 address, on the control planes' network and
	// held by no machine yet.
	VIP string `json:"vip"`
	// Port haproxy listens on, on every control-plane host (default 8443).
	Port int `json:"port,omitempty"`
	// Interface carries the VIP; default: the interface each control plane
	// routes the VIP through.
	Interface string `json:"interface,omitempty"`
	// VirtualRouterID is the VRRP router id (1-255), unique on the network;
	// default: derived from the cluster's name.
	VirtualRouterID int `json:"virtualRouterID,omitempty"`
}

// Etcd configures the external etcd kbs runs on the etcd hosts.
type Etcd struct {
	// Version of etcd to install, e.g. v3.7.3.
	Version string `json:"version,omitempty"`
	// Binary is a local etcd binary to upload (air-gapped hosts); etcdctl
	// is expected beside it.
	Binary  string `json:"binary,omitempty"`
	DataDir string `json:"dataDir,omitempty"`
	// CertValidity is the lifetime of etcd leaf certificates (default 43800h,
	// the notes' five years).
	CertValidity string `json:"certValidity,omitempty"`
}

// Runtime sources.
const (
	// RuntimeSourcePackages installs containerd from the distribution and
	// kubelet, kubeadm and kubectl from pkgs.k8s.io with apt, as the notes do.
	RuntimeSourcePackages = "packages"
	// RuntimeSourceBundle uploads an air-gapped bundle from this machine
	// (hack/build-bundle.sh makes one).
	RuntimeSourceBundle = "bundle"
)

// Runtime configures containerd and the node binaries.
type Runtime struct {
	// Source is packages (default) or bundle.
	Source string `json:"source,omitempty"`
	// Bundle is the local bundle directory when Source is bundle.
	Bundle string `json:"bundle,omitempty"`
	// CgroupDriver is systemd (default) or cgroupfs, for containerd's runc
	// and the kubelet alike.
	CgroupDriver string `json:"cgroupDriver,omitempty"`
	// RestrictOOMScoreAdj makes containerd clamp OOM scores it may not set
	// (nodes without CAP_SYS_RESOURCE, such as containers).
	RestrictOOMScoreAdj bool `json:"restrictOOMScoreAdj,omitempty"`
	// RegistryMirrors sends containerd's pulls from a registry, named by
	// its host[:port] as image names spell it (docker.io, registry.k8s.io,
	// registry.example.com:5000), to mirrors first, in order, and to the
	// registry itself last: for nodes behind a pull-through cache or with
	// a registry of their own. Each mirror is an http or https URL.
	RegistryMirrors map[string][]string `json:"registryMirrors,omitempty"`
}

// Kubelet holds KubeletConfiguration settings kbs passes through.
type Kubelet struct {
	// FailCgroupV1 false lets kubelet ≥ 1.35 run on a cgroup v1 host.
	FailCgroupV1 *bool `json:"failCgroupV1,omitempty"`
	// EvictionHard replaces the kubelet's hard eviction thresholds by
	// signal (memory.available: 100Mi, nodefs.available: 10%, …): for nodes
	// whose disk is shared with more than the node, or sized otherwise.
	// A signal left out is not evicted on.
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
	// ImageGCHighThresholdPercent is the disk use at which the kubelet
	// starts deleting unused images (default 85; 100 never does).
	ImageGCHighThresholdPercent *int32 `json:"imageGCHighThresholdPercent,omitempty"`
}

// KubeProxy holds KubeProxyConfiguration settings kbs passes through.
type KubeProxy struct {
	// ConntrackMaxPerCore 0 leaves nf_conntrack_max alone (read-only inside
	// containers).
	ConntrackMaxPerCore *int32 `json:"conntrackMaxPerCore,omitempty"`
}

// Kubeadm holds settings for kubeadm itself.
type Kubeadm struct {
	// IgnorePreflightErrors names kubeadm preflight checks to ignore, by
	// name (e.g. SystemVerification); "all" is refused.
	IgnorePreflightErrors []string `json:"ignorePreflightErrors,omitempty"`
}

// Component holds settings of one control-plane component.
type Component struct {
	CertSANs  []string `json:"certSANs,omitempty"`
	ExtraArgs []Arg    `json:"extraArgs,omitempty"`
}

// Arg is one command-line flag, as kubeadm v1beta4 lists them.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SSH says how to reach hosts. Passwords never live here: a sudo password
// comes from $KBS_SUDO_PASSWORD or a prompt.
type SSH struct {
	User string `json:"user,omitempty"`
	Port int    `json:"port,omitempty"`
	// KeyFile is a private key; without it the ssh-agent and ~/.ssh/config
	// decide.
	KeyFile string `json:"keyFile,omitempty"`
	// Bastion is a jump host, [user@]host[:port].
	Bastion string `json:"bastion,omitempty"`
	// Sudo runs privileged commands through sudo; default: when User is not root.
	Sudo *bool `json:"sudo,omitempty"`
}

// Host is one machine of the cluster.
type Host struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Address string `json:"address"`
	SSH     *SSH   `json:"ssh,omitempty"`
}
