// Package localcluster boots the operator's `k8s` cluster shape on local
// nodes (one etcd host, one control plane, two workers) and writes the kbs
// spec that describes them, with the settings these nodes need: the
// air-gapped bundle, cgroupfs, clamped OOM scores, cgroup v1 allowed,
// conntrack left alone and kubeadm's SystemVerification skipped. `make demo`
// and the end-to-end test share it; kbs itself only gets the spec, the key
// and known_hosts.
package localcluster

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

// Names and roles of the nodes, as in the operator's notes.
var (
	Names = []string{"etcd0", "master-0", "worker-0", "worker-1"}
	roles = map[string]string{"etcd0": "etcd", "master-0": "control-plane", "worker-0": "worker", "worker-1": "worker"}
)

// Spares are extra nodes the end-to-end test boots beside the cluster, for
// growing etcd to three members.
var Spares = []string{"etcd1", "etcd2"}

// Boot starts the four nodes (and the spares too, when asked); keep makes
// them outlive this process.
func Boot(ctx context.Context, keep bool, spares ...string) (*nodes.Cluster, error) {
	return nodes.Boot(ctx, nodes.Options{Names: append(append([]string{}, Names...), spares...), Keep: keep})
}

// HA is the highly available shape: three etcd members, two control
// planes behind a kbs-managed VIP, one worker.
var (
	HANames = []string{"etcd0", "etcd1", "etcd2", "master-0", "master-1", "worker-0"}
	haRoles = map[string]string{"etcd0": "etcd", "etcd1": "etcd", "etcd2": "etcd", "master-0": "control-plane", "master-1": "control-plane", "worker-0": "worker"}
)

// BootHA starts the nodes of the HA shape.
func BootHA(ctx context.Context, keep bool) (*nodes.Cluster, error) {
	return nodes.Boot(ctx, nodes.Options{Names: HANames, Keep: keep})
}

// VIP is the address the HA shape's keepalived moves between the control
// planes: on the nodes' bridge, held by no node (nodes are .10 and up).
func VIP(c *nodes.Cluster) string {
	ip := c.Gateway.To4()
	return fmt.Sprintf("%d.%d.%d.100", ip[0], ip[1], ip[2])
}

// RegistryPort is where the conformance run's registry listens on the
// nodes' bridge.
const RegistryPort = 5000

// RegistryMirror is the URL of the conformance run's registry as the
// nodes reach it: the host's address on their bridge.
func RegistryMirror(c *nodes.Cluster) string {
	return fmt.Sprintf("http://%s:%d", c.Gateway, RegistryPort)
}

// HASpec is the kbs spec of the HA shape on the booted nodes.
func HASpec(c *nodes.Cluster, name string) (string, error) {
	return spec(c, name, haRoles, "  loadBalancer:\n    vip: "+VIP(c)+"\n")
}

// Spec is the kbs cluster spec for the booted nodes; the spares named in
// etcd join it as etcd hosts (the others stay out).
func Spec(c *nodes.Cluster, name string, etcd ...string) (string, error) {
	r := maps.Clone(roles)
	for _, n := range etcd {
		r[n] = "etcd"
	}
	return spec(c, name, r, "")
}

// CalicoSpec is the notes' hk8s shape on the booted nodes: the k8s shape
// with calico (its images from the bundle) as the pod network.
func CalicoSpec(c *nodes.Cluster, name string) (string, error) {
	s, err := spec(c, name, roles, "")
	if err != nil {
		return "", err
	}
	return strings.Replace(s, flannelCNI, calicoCNI, 1), nil
}

const (
	flannelCNI = `  cni:
    plugin: flannel
    images:
      flannel: kbs.local/flannel:v0.28.10
      flannel-cni-plugin: kbs.local/flannel-cni-plugin:v0.9.1
`
	calicoCNI = `  cni:
    plugin: calico
`
)

func spec(c *nodes.Cluster, name string, roles map[string]string, extra string) (string, error) {
	out, err := env.OutputDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(out, "bin")
	var hosts strings.Builder
	for _, n := range c.Nodes {
		if role := roles[n.Name]; role != "" {
			fmt.Fprintf(&hosts, "  - {name: %s, role: %s, address: %s}\n", n.Name, role, n.IP)
		}
	}
	return fmt.Sprintf(`# The operator's k8s cluster on local systemd-nspawn nodes (written by test/localcluster).
apiVersion: kbs.kubectl-kbs.io/v1alpha1
kind: Cluster
metadata:
  name: %[1]s
spec:
  kubernetesVersion: v1.37.2
  imageRepository: kbs.local
  runtime:
    source: bundle
    bundle: %[2]s
    cgroupDriver: cgroupfs
    restrictOOMScoreAdj: true
    # Pulls of kbs.local images go to the registry test/conformance serves
    # while the whole suite runs (for the specs that pull Always); the
    # images are imported on the nodes too, so nothing else needs it.
    registryMirrors:
      kbs.local: [%[8]s]
  kubelet:
    failCgroupV1: false
    # The nodes share this machine's disk with each other and with the
    # build cache: its use is not theirs to evict on, nor to delete images
    # for (make test once saw a node's conformance images collected).
    evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%}
    imageGCHighThresholdPercent: 100
  kubeProxy:
    conntrackMaxPerCore: 0
  kubeadm:
    ignorePreflightErrors: [SystemVerification]
%[7]s  networking:
    podSubnet: 10.244.0.0/16
    serviceSubnet: 10.96.0.0/12
  etcd:
    binary: %[3]s
  ssh:
    user: root
    keyFile: %[4]s
%[6]s  hosts:
%[5]s`, name, filepath.Join(out, "bundle"), filepath.Join(bin, "etcd"), c.ClientKey, hosts.String(), extra, flannelCNI, RegistryMirror(c)), nil
}

// Previous releases the upgrade test starts from (hack/build-test-binaries.sh
// previous builds them).
const (
	PreviousKubernetes = "v1.36.3"
	PreviousEtcd       = "v3.6.16" // what _output/bin/previous/etcd is
)

// PreviousSpec is Spec one release back: Kubernetes and etcd of the
// previous release, from _output/bundle-previous and _output/bin/previous.
func PreviousSpec(c *nodes.Cluster, name string) (string, error) {
	s, err := Spec(c, name)
	if err != nil {
		return "", err
	}
	return Previous(s)
}

// Previous turns a spec of this package (Spec, HASpec) into the same
// cluster one release back.
func Previous(s string) (string, error) {
	out, err := env.OutputDir()
	if err != nil {
		return "", err
	}
	for old, repl := range map[string]string{
		"kubernetesVersion: v1.37.2":                              "kubernetesVersion: " + PreviousKubernetes,
		"bundle: " + filepath.Join(out, "bundle") + "\n":          "bundle: " + filepath.Join(out, "bundle-previous") + "\n",
		"    binary: " + filepath.Join(out, "bin", "etcd") + "\n": "    binary: " + filepath.Join(out, "bin", "previous", "etcd") + "\n",
	} {
		if !strings.Contains(s, old) {
			return "", fmt.Errorf("the spec template changed: no %q in it", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return s, nil
}

// WriteSpec writes the spec to path (0600), with the spares named in etcd
// as etcd hosts.
func WriteSpec(c *nodes.Cluster, name, path string, etcd ...string) error {
	s, err := Spec(c, name, etcd...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o600)
}
