package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const valid = `apiVersion: kbs.kubectl-kbs.io/v1alpha1
kind: Cluster
metadata:
  name: k8s
spec:
  kubernetesVersion: v1.37.2
  hosts:
  - {name: etcd-0, role: etcd, address: 10.0.0.10}
  - {name: master-0, role: control-plane, address: 10.0.0.20}
  - {name: worker-0, role: worker, address: 10.0.0.30}
`

func decodeValid(t *testing.T) *Cluster {
	t.Helper()
	cs, err := Decode([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(cs[0])
	return cs[0]
}

func TestDefaults(t *testing.T) {
	c := decodeValid(t)
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
	s := c.Spec
	checks := map[string][2]string{
		"ssh.user":             {s.SSH.User, "root"},
		"cni":                  {s.CNI.Plugin, "flannel"},
		"podSubnet":            {s.Networking.PodSubnet, "10.244.0.0/16"},
		"serviceSubnet":        {s.Networking.ServiceSubnet, "10.96.0.0/12"},
		"controlPlaneEndpoint": {s.ControlPlaneEndpoint, "10.0.0.20:6443"},
		"etcd.version":         {s.Etcd.Version, DefaultEtcdVersion},
		"etcd.dataDir":         {s.Etcd.DataDir, "/var/lib/etcd"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if s.SSH.Port != 22 {
		t.Errorf("ssh.port = %d, want 22", s.SSH.Port)
	}
}

func TestCalicoDefaultPodSubnet(t *testing.T) {
	cs, _ := Decode([]byte(strings.Replace(valid, "spec:\n", "spec:\n  cni: {plugin: calico}\n", 1)))
	SetDefaults(cs[0])
	if got := cs[0].Spec.Networking.PodSubnet; got != "192.168.0.0/16" {
		t.Fatalf("calico pod subnet %q", got)
	}
}

func TestSSHForMergesHostOverrides(t *testing.T) {
	c := decodeValid(t)
	c.Spec.SSH.KeyFile = "/keys/cluster"
	c.Spec.Hosts[1].SSH = &SSH{User: "ops", Port: 2222}
	eff := c.SSHFor(c.Spec.Hosts[1])
	if eff.User != "ops" || eff.Port != 2222 || eff.KeyFile != "/keys/cluster" || eff.Sudo == nil || !*eff.Sudo {
		t.Fatalf("effective SSH %+v, want ops:2222 with the cluster key and sudo (non-root)", eff)
	}
	if root := c.SSHFor(c.Spec.Hosts[0]); *root.Sudo {
		t.Fatal("root should not need sudo")
	}
}

// Every invalid spec names the field at fault and what was expected.
func TestInvalidSpecs(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           []string
	}{
		{"unknown field (the notes' podCidr)", "spec:\n", "spec:\n  networking: {podCidr: 10.244.0.0/16}\n", []string{`unknown field "spec.networking.podCidr"`}},
		{"wrong apiVersion", "kbs.kubectl-kbs.io/v1alpha1", "kbs.kubectl-kbs.io/v9", []string{"apiVersion", `"kbs.kubectl-kbs.io/v1alpha1"`}},
		{"wrong kind", "kind: Cluster", "kind: Clutser", []string{"kind", `"Cluster"`}},
		{"kubeadm config instead", "apiVersion: kbs.kubectl-kbs.io/v1alpha1\nkind: Cluster", "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration", []string{"kubeadm configuration, not a kbs cluster"}},
		{"bad cluster name", "name: k8s", "name: K8S_prod", []string{"metadata.name", "RFC 1123"}},
		{"missing version", "  kubernetesVersion: v1.37.2\n", "", []string{"spec.kubernetesVersion: Required", "v1.37.2"}},
		{"malformed version", "v1.37.2", "v1.37", []string{"spec.kubernetesVersion", "vMAJOR.MINOR.PATCH"}},
		{"too old version", "v1.37.2", "v1.30.4", []string{"spec.kubernetesVersion", "v1.31.0 or newer"}},
		{"duplicate host name", "name: worker-0", "name: master-0", []string{"spec.hosts[2].name: Duplicate", "hosts[1]"}},
		{"duplicate address", "10.0.0.30", "10.0.0.20", []string{"spec.hosts[2].address: Duplicate"}},
		{"unknown role", "role: worker", "role: master", []string{"spec.hosts[2].role: Unsupported value: \"master\"", "control-plane"}},
		{"no etcd host", "role: etcd", "role: worker", []string{"spec.hosts: Required", "role etcd"}},
		{"no control plane", "role: control-plane", "role: worker", []string{"spec.hosts: Required", "role control-plane"}},
		{"two etcd hosts", "role: worker", "role: etcd", []string{"odd number of etcd hosts"}},
		{"bad address", "10.0.0.30", "10.0.0.300", []string{"spec.hosts[2].address", "IP address or a DNS name"}},
		{"missing address", "address: 10.0.0.30", "address: \"\"", []string{"spec.hosts[2].address: Required"}},
		{"unsupported CNI", "spec:\n", "spec:\n  cni: {plugin: weave}\n", []string{"spec.cni.plugin: Unsupported value: \"weave\"", "flannel", "calico"}},
		{"overlapping networks", "spec:\n", "spec:\n  networking: {podSubnet: 10.96.0.0/16, serviceSubnet: 10.96.0.0/12}\n", []string{"spec.networking.serviceSubnet", "overlaps podSubnet"}},
		{"host bits in CIDR", "spec:\n", "spec:\n  networking: {podSubnet: 10.244.1.0/16}\n", []string{"spec.networking.podSubnet", "no host bits"}},
		{"service range too large", "spec:\n", "spec:\n  networking: {serviceSubnet: 10.0.0.0/8, podSubnet: 172.16.0.0/16}\n", []string{"spec.networking.serviceSubnet", "/12 or smaller"}},
		{"host outside node subnet", "spec:\n", "spec:\n  networking: {nodeSubnet: 10.0.1.0/24}\n", []string{"spec.hosts[0].address", "outside spec.networking.nodeSubnet"}},
		{"host inside pod network", "10.0.0.30", "10.244.3.7", []string{"spec.hosts[2].address", "inside spec.networking.podSubnet"}},
		{"bad endpoint", "spec:\n", "spec:\n  controlPlaneEndpoint: api.example.com\n", []string{"spec.controlPlaneEndpoint", "host:port"}},
		{"bad ssh port", "spec:\n", "spec:\n  ssh: {port: 70000}\n", []string{"spec.ssh.port", "1-65535"}},
		{"bad host ssh user", "address: 10.0.0.30}", "address: 10.0.0.30, ssh: {user: \"Bad User\"}}", []string{"spec.hosts[2].ssh.user", "POSIX user name"}},
		{"bad bastion", "spec:\n", "spec:\n  ssh: {bastion: \"ops@bad host:22\"}\n", []string{"spec.ssh.bastion", "[user@]host[:port]"}},
		{"unknown runtime source", "spec:\n", "spec:\n  runtime: {source: snap}\n", []string{"spec.runtime.source: Unsupported value: \"snap\"", "bundle"}},
		{"bundle without path", "spec:\n", "spec:\n  runtime: {source: bundle}\n", []string{"spec.runtime.bundle: Required", "hack/build-bundle.sh"}},
		{"bundle path with packages", "spec:\n", "spec:\n  runtime: {bundle: /tmp/b}\n", []string{"spec.runtime.bundle", "only used with source: bundle"}},
		{"bad cgroup driver", "spec:\n", "spec:\n  runtime: {cgroupDriver: cgroupv2}\n", []string{"spec.runtime.cgroupDriver: Unsupported value", "cgroupfs"}},
		{"image repository with a shell", "spec:\n", "spec:\n  imageRepository: \"reg.example.com/$(id)\"\n", []string{"spec.imageRepository"}},
		{"image repository with tag", "spec:\n", "spec:\n  imageRepository: reg.example.com/k8s:v1\n", []string{"spec.imageRepository", "without tag"}},
		{"ignore all preflight errors", "spec:\n", "spec:\n  kubeadm: {ignorePreflightErrors: [all]}\n", []string{"spec.kubeadm.ignorePreflightErrors[0]: Forbidden", "name the checks"}},
		{"negative conntrack", "spec:\n", "spec:\n  kubeProxy: {conntrackMaxPerCore: -1}\n", []string{"spec.kubeProxy.conntrackMaxPerCore", "0"}},
		{"old etcd", "spec:\n", "spec:\n  etcd: {version: v3.4.27}\n", []string{"spec.etcd.version", "v3.5.24 or newer"}},
		{"etcd version and binary", "spec:\n", "spec:\n  etcd: {version: v3.7.3, binary: /tmp/etcd}\n", []string{"spec.etcd.binary: Forbidden"}},
		{"relative data dir", "spec:\n", "spec:\n  etcd: {dataDir: var/lib/etcd}\n", []string{"spec.etcd.dataDir", "absolute path"}},
		{"IPv6 zone", "10.0.0.30", "\"fe80::1%x;touch /tmp/p\"", []string{"spec.hosts[2].address", "IPv6 zone"}},
		{"data dir is the root", "spec:\n", "spec:\n  etcd: {dataDir: /}\n", []string{"spec.etcd.dataDir", "clean absolute path"}},
		{"data dir is /etc", "spec:\n", "spec:\n  etcd: {dataDir: /etc}\n", []string{"spec.etcd.dataDir", "dedicated to etcd"}},
		{"data dir is /var/lib", "spec:\n", "spec:\n  etcd: {dataDir: /var/lib}\n", []string{"spec.etcd.dataDir", "dedicated to etcd"}},
		{"data dir in /etc", "spec:\n", "spec:\n  etcd: {dataDir: /etc/etcd}\n", []string{"spec.etcd.dataDir", "must not be in /etc"}},
		{"data dir with a space", "spec:\n", "spec:\n  etcd: {dataDir: \"/var/lib/etcd data\"}\n", []string{"spec.etcd.dataDir", "letters, digits"}},
		{"data dir not clean", "spec:\n", "spec:\n  etcd: {dataDir: /var/lib/etcd/../etcd}\n", []string{"spec.etcd.dataDir", "clean absolute path"}},
		{"data dir with a shell", "spec:\n", "spec:\n  etcd: {dataDir: \"/var/lib/etcd;rm -rf /\"}\n", []string{"spec.etcd.dataDir"}},
		{"CNI image with a newline", "spec:\n", "spec:\n  cni: {images: {flannel: \"reg.example.com/flannel:v1\\n  hostNetwork: true\"}}\n", []string{"spec.cni.images[flannel]", "image reference"}},
		{"CNI image with upper case", "spec:\n", "spec:\n  cni: {images: {flannel: \"Reg/Flannel:v1\"}}\n", []string{"spec.cni.images[flannel]", "image reference"}},
		{"extraArg with dashes", "spec:\n", "spec:\n  apiServer: {extraArgs: [{name: --audit-log-path, value: /x}]}\n", []string{"spec.apiServer.extraArgs[0].name", "without leading dashes"}},
		{"extraArg named with shell syntax", "spec:\n", "spec:\n  scheduler: {extraArgs: [{name: '`id`', value: x}]}\n", []string{"spec.scheduler.extraArgs[0].name", "lowercase letters, digits"}},
		{"unknown eviction signal", "spec:\n", "spec:\n  kubelet: {evictionHard: {disk.available: 1%}}\n", []string{"spec.kubelet.evictionHard[disk.available]: Unsupported value", "imagefs.available"}},
		{"eviction threshold not a quantity", "spec:\n", "spec:\n  kubelet: {evictionHard: {nodefs.available: lots}}\n", []string{"spec.kubelet.evictionHard[nodefs.available]", "percentage such as 10%"}},
		{"eviction threshold over 100%", "spec:\n", "spec:\n  kubelet: {evictionHard: {imagefs.available: 150%}}\n", []string{"spec.kubelet.evictionHard[imagefs.available]"}},
		{"image GC threshold under the low one", "spec:\n", "spec:\n  kubelet: {imageGCHighThresholdPercent: 70}\n", []string{"spec.kubelet.imageGCHighThresholdPercent", "above the kubelet's low threshold"}},
		{"extraArg named in capitals", "spec:\n", "spec:\n  controllerManager: {extraArgs: [{name: Bind-Address, value: x}]}\n", []string{"spec.controllerManager.extraArgs[0].name", "must be a flag name"}},
		{"unknown calico backend", "spec:\n", "spec:\n  cni: {plugin: calico, calico: {backend: bgp}}\n  networking: {podSubnet: 10.244.0.0/16}\n", []string{"spec.cni.calico.backend: Unsupported value: \"bgp\"", "vxlan"}},
		{"calico settings with flannel", "spec:\n", "spec:\n  cni: {plugin: flannel, calico: {mtu: 1400}}\n", []string{"spec.cni.calico: Forbidden", "plugin: calico"}},
		{"calico MTU too small", "spec:\n", "spec:\n  cni: {plugin: calico, calico: {mtu: 500}}\n  networking: {podSubnet: 10.244.0.0/16}\n", []string{"spec.cni.calico.mtu", "1280 and 9000"}},
		{"calico's default pool over the nodes", "spec:\n", "spec:\n  cni: {plugin: calico}\n  networking: {nodeSubnet: 192.168.1.0/24}\n", []string{"spec.networking.nodeSubnet", "192.168.0.0/16, calico's default pod network"}},
		{"bad certSAN", "spec:\n", "spec:\n  apiServer: {certSANs: [\"not valid!\"]}\n", []string{"spec.apiServer.certSANs[0]"}},
		{"mirror of an image name, not a registry", "spec:\n", "spec:\n  runtime: {registryMirrors: {\"docker.io/library\": [\"https://m.example.com\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io/library]", "host[:port]"}},
		{"mirror list empty", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: []}}\n", []string{"spec.runtime.registryMirrors[docker.io]: Required"}},
		{"mirror without scheme", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [m.example.com]}}\n", []string{"spec.runtime.registryMirrors[docker.io][0]", "http:// or https://"}},
		{"mirror with credentials", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [\"https://u:secret@m.example.com\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io][0]", "credentials"}},
		{"mirror with a path", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [\"https://m.example.com/v2/proxy\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io][0]", "base URL"}},
		{"mirror twice", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [\"https://m.example.com\", \"https://m.example.com/\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io][1]: Duplicate"}},
		{"mirror with a bare fragment", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [\"https://m.example.com#\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io][0]", "https://m.example.com, without"}},
		{"mirror port out of range", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [\"https://m.example.com:99999\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io][0]", "1-65535"}},
		{"Docker Hub by another name", "spec:\n", "spec:\n  runtime: {registryMirrors: {index.docker.io: [\"https://m.example.com\"]}}\n", []string{"spec.runtime.registryMirrors[index.docker.io]", "use that name"}},
		{"mirror with a quote", "spec:\n", "spec:\n  runtime: {registryMirrors: {docker.io: [\"https://m.example.com\\\"]\"]}}\n", []string{"spec.runtime.registryMirrors[docker.io][0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(valid, tt.from, tt.to, 1)
			if doc == valid {
				t.Fatalf("test case does not change the spec (%q not found)", tt.from)
			}
			path := filepath.Join(t.TempDir(), "cluster.yaml")
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatalf("spec accepted:\n%s", doc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestExamplesAreValidAndFormAnInventory(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "inventory.yaml" })
	if len(files) != 6 {
		t.Fatalf("want the notes' six clusters in examples/, found %d files", len(files))
	}
	var inventory []byte
	for _, f := range files {
		cs, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 {
			t.Fatalf("%s: %d clusters", f, len(cs))
		}
		b, _ := os.ReadFile(f)
		inventory = append(append(inventory, "---\n"...), b...)
	}
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	os.WriteFile(path, inventory, 0o600)
	cs, err := Load(path)
	if err != nil || len(cs) != 6 {
		t.Fatalf("inventory of the six examples: %d clusters, %v", len(cs), err)
	}
	// examples/inventory.yaml is the same six, so that neither drifts.
	committed, err := Load(filepath.Join("..", "..", "examples", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	byName := func(cs []*Cluster) map[string]*Cluster {
		m := map[string]*Cluster{}
		for _, c := range cs {
			m[c.Metadata.Name] = c
		}
		return m
	}
	if !reflect.DeepEqual(byName(committed), byName(cs)) {
		t.Error("examples/inventory.yaml differs from the six examples/*.yaml: keep them the same")
	}
	// The notes' ik8s: one base node in the spec (the cluster lacks it).
	ik8s, err := LoadOne(path, "ik8s")
	if err != nil || len(ik8s.HostsWithRole(RoleWorker)) != 1 {
		t.Fatalf("ik8s should list its one base node: %v", err)
	}
	if _, err := LoadOne(path, ""); err == nil || !strings.Contains(err.Error(), "--cluster") {
		t.Fatalf("an inventory without a chosen cluster: %v", err)
	}
	if _, err := LoadOne(path, "nope"); err == nil || !strings.Contains(err.Error(), "k8s") {
		t.Fatalf("unknown cluster: %v", err)
	}
	dup := append(append([]byte{}, inventory...), inventory...)
	os.WriteFile(path, dup, 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("duplicate cluster names: %v", err)
	}
}
