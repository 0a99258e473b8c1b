package upgrade

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

func loadSpec(t *testing.T, name string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.LoadOne(filepath.Join("..", "..", "examples", name+".yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// healthy is examples/k8s.yaml running k8s and etcd at the given versions,
// everything Ready, healthy and reachable.
func healthy(spec *cluster.Cluster, k8s, etcd string) *Observed {
	o := &Observed{
		Nodes: map[string]Node{}, ControlPlanePods: map[string]map[string]Pod{},
		Hosts: map[string]HostTools{}, Etcd: map[string]EtcdMember{},
		KubeProxy: k8s, CoreDNS: coreDNSTarget(k8s), Kubectl: k8s,
		Certs:       []host.NodeCert{{Host: "master-0", File: "/etc/kubernetes/pki/apiserver.crt", Remaining: "364d"}},
		KubeadmPlan: KubeadmPlan{Host: "master-0"},
	}
	if t := spec.Spec.KubernetesVersion; t != k8s {
		o.KubeadmPlan.APIServer = t
	}
	for _, h := range spec.Spec.Hosts {
		switch h.Role {
		case cluster.RoleEtcd:
			o.Etcd[h.Name] = EtcdMember{Version: etcd, Healthy: true}
			o.Hosts[h.Name] = HostTools{Etcd: etcd, DBBytes: 20 << 20, FreeBytes: 10 << 30}
			continue
		case cluster.RoleControlPlane:
			o.ControlPlanePods[h.Name] = map[string]Pod{}
			for _, c := range controlPlaneComponents {
				o.ControlPlanePods[h.Name][c] = Pod{Version: k8s, Ready: true}
			}
		}
		o.Nodes[h.Name] = Node{Kubelet: k8s, Ready: true}
		o.Hosts[h.Name] = HostTools{Kubeadm: k8s, Kubelet: k8s, Kubectl: k8s, DBBytes: -1, FreeBytes: -1}
	}
	return o
}

func withTarget(spec *cluster.Cluster, k8s, etcd string) *cluster.Cluster {
	c := *spec
	c.Spec.KubernetesVersion, c.Spec.Etcd.Version = k8s, etcd
	return &c
}

var opts = Options{Window: 24 * time.Hour, Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}

// A cluster at the spec's versions: nothing to upgrade, every check
// passed, every host listed with each component.
func TestPlanNothingToUpgrade(t *testing.T) {
	spec := loadSpec(t, "k8s")
	p := Evaluate(spec, healthy(spec, "v1.37.2", "v3.7.3"), opts)
	if !p.UpToDate() {
		t.Errorf("not up to date: %+v", p.Components)
	}
	for _, c := range p.Checks {
		if c.Result != Passed {
			t.Errorf("%s %s: %s", c.Name, c.Result, c.Reason)
		}
	}
	if len(p.Checks) != 15 {
		t.Errorf("%d checks, want 15", len(p.Checks))
	}
	if got := strings.Join(p.Hosts(), ","); got != "etcd-0,master-0,worker-0,worker-1,cluster" {
		t.Errorf("hosts %s", got)
	}
	if p.Kubernetes != (Step{"v1.37.2", "v1.37.2"}) || p.Etcd != (Step{"v3.7.3", "v3.7.3"}) {
		t.Errorf("steps %+v %+v", p.Kubernetes, p.Etcd)
	}
}

// The next minor of both, with a spec.etcd.binary: a plan with work to do
// and every check passed.
func TestPlanNextMinor(t *testing.T) {
	spec := withTarget(loadSpec(t, "k8s"), "v1.37.2", "v3.7.3")
	spec.Spec.Etcd.Binary = "/opt/etcd-v3.7.3/etcd"
	p := Evaluate(spec, healthy(spec, "v1.36.3", "v3.6.16"), opts)
	if p.UpToDate() {
		t.Error("up to date")
	}
	if failed := p.Failed(); len(failed) > 0 {
		t.Errorf("failed: %v\n%+v", failed, p.Checks)
	}
	for _, c := range p.Components {
		if c.Name == "coredns" && c.Target != "v1.14.6" {
			t.Errorf("CoreDNS target %s, want kubeadm v1.37's v1.14.6", c.Target)
		}
	}
}

// Every rule of the issue, each broken once: the named check fails with a
// reason that says what to do, and the others still run.
func TestPlanChecksFail(t *testing.T) {
	base := loadSpec(t, "k8s")
	for _, tc := range []struct {
		name       string
		k8s, etcd  string // targets
		running    [2]string
		mutate     func(*Observed, *cluster.Cluster)
		check, msg string
	}{
		{name: "two minors at once", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.35.4", "v3.7.3"},
			check: "kubernetes-one-minor-at-a-time", msg: "skips a minor release: upgrade to v1.36.x first"},
		{name: "a downgrade", k8s: "v1.36.3", etcd: "v3.7.3", running: [2]string{"v1.37.2", "v3.7.3"},
			check: "kubernetes-one-minor-at-a-time", msg: "kbs does not downgrade"},
		{name: "a half-done upgrade counts its newest API server", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.37.2", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.ControlPlanePods["master-0"]["kube-apiserver"] = Pod{Version: "v1.38.0", Ready: true}
			},
			check: "kubernetes-one-minor-at-a-time", msg: "older than the running v1.38.0"},
		{name: "etcd two minors at once", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.37.2", "v3.5.24"},
			check: "etcd-one-minor-at-a-time", msg: "etcd v3.5.24 to v3.7.3 skips a minor release"},
		{name: "etcd older than the target supports", k8s: "v1.37.2", etcd: "v3.5.0", running: [2]string{"v1.36.3", "v3.5.0"},
			check: "etcd-supported-by-target", msg: "needs etcd 3.5.24 or newer and etcd v3.5.0 would run"},
		{name: "a release kbs has not read", k8s: "v1.38.0", etcd: "v3.7.3", running: [2]string{"v1.37.2", "v3.7.3"},
			check: "etcd-supported-by-target", msg: "it cannot vouch for v1.38"},
		{name: "a kubelet newer than the target", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) { o.Nodes["worker-1"] = Node{Kubelet: "v1.38.1", Ready: true} },
			check:  "kubelets-not-newer", msg: "worker-1 (v1.38.1)"},
		{name: "a kubelet four minors behind", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) { o.Nodes["worker-0"] = Node{Kubelet: "v1.33.5", Ready: true} },
			check:  "kubelet-skew", msg: "worker-0 (v1.33.5)"},
		{name: "the operator's kubectl two minors behind", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) { o.Kubectl = "v1.35.0" },
			check:  "kubectl-skew", msg: "install kubectl v1.37"},
		{name: "a host down", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.Hosts["worker-1"] = HostTools{Error: "dial tcp: connection refused"}
			},
			check: "hosts-reachable", msg: "worker-1: dial tcp: connection refused"},
		{name: "a node NotReady, a worker never joined", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.Nodes["worker-0"] = Node{Kubelet: "v1.36.3"}
				delete(o.Nodes, "worker-1")
			},
			check: "nodes-ready", msg: "worker-0 is not Ready; worker-1 is not a node (join it first"},
		{name: "an etcd member unhealthy", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.Etcd["etcd-0"] = EtcdMember{Version: "v3.7.3", Error: "unhealthy: RAFT NO LEADER"}
			},
			check: "etcd-healthy", msg: "etcd-0: unhealthy: RAFT NO LEADER"},
		{name: "a scheduler not ready", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.ControlPlanePods["master-0"]["kube-scheduler"] = Pod{Version: "v1.36.3"}
			},
			check: "control-plane-pods", msg: "master-0/kube-scheduler"},
		{name: "a certificate expiring within the window", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.Certs = append(o.Certs, host.NodeCert{Host: "etcd-0", File: "/etc/etcd/pki/server.crt", Remaining: "5h", Expiring: true})
			},
			check: "certificates", msg: "etcd-0:/etc/etcd/pki/server.crt (5h left); renew them first"},
		{name: "an etcd host short of disk", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(o *Observed, _ *cluster.Cluster) {
				o.Hosts["etcd-0"] = HostTools{Etcd: "v3.7.3", DBBytes: 600 << 20, FreeBytes: 1000 << 20}
			},
			check: "etcd-disk", msg: "etcd-0: 1000 MiB free, the database is 600 MiB"},
		{name: "a bundle of the running release", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.36.3", "v3.7.3"},
			mutate: func(_ *Observed, c *cluster.Cluster) {
				c.Spec.Runtime.Source, c.Spec.Runtime.Bundle = cluster.RuntimeSourceBundle, bundleOf(t, "v1.36.3")
			},
			check: "kubernetes-binaries", msg: "holds Kubernetes v1.36.3, not v1.37.2: build the target's bundle"},
		{name: "no etcd binary of the target", k8s: "v1.37.2", etcd: "v3.7.3", running: [2]string{"v1.37.2", "v3.6.16"},
			check: "etcd-binaries", msg: "etcd-0 has v3.6.16: set spec.etcd.binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := withTarget(base, tc.k8s, tc.etcd)
			o := healthy(spec, tc.running[0], tc.running[1])
			if tc.mutate != nil {
				tc.mutate(o, spec)
			}
			p := Evaluate(spec, o, opts)
			var got *Check
			for i, c := range p.Checks {
				if c.Name == tc.check {
					got = &p.Checks[i]
				}
			}
			if got == nil || got.Result != Failed || !strings.Contains(got.Reason, tc.msg) {
				t.Fatalf("check %s: %+v, want failed with %q\nall: %+v", tc.check, got, tc.msg, p.Checks)
			}
		})
	}
}

// An API that cannot be read fails every check that needs it, naming why.
func TestPlanWithoutAPI(t *testing.T) {
	spec := loadSpec(t, "k8s")
	o := healthy(spec, "v1.37.2", "v3.7.3")
	o.APIError = "listing nodes: connection refused"
	p := Evaluate(spec, o, opts)
	for _, name := range []string{"kubernetes-one-minor-at-a-time", "kubelets-not-newer", "kubelet-skew", "nodes-ready", "control-plane-pods"} {
		found := false
		for _, c := range p.Checks {
			if c.Name == name {
				found = c.Result == Failed && strings.Contains(c.Reason, "connection refused")
			}
		}
		if !found {
			t.Errorf("%s did not fail with the API's error", name)
		}
	}
}

func bundleOf(t *testing.T, k8s string) string {
	dir := t.TempDir()
	var sums strings.Builder
	for _, f := range []string{"bin/kubelet", "bin/kubeadm", "bin/kubectl", "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc", "images.tar"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		sums.WriteString("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 " + f + "\n") // sha256 of nothing
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "VERSIONS"), []byte("kubernetes "+k8s+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// What the hosts print is read into versions and sizes.
func TestParseTools(t *testing.T) {
	out := "kubeadm=v1.36.3\nkubelet=Kubernetes v1.36.3\nkubectl=Client Version: v1.36.3\netcd=etcd Version: 3.6.16\ndb=20480\nfree-kib=1024\n"
	got := parseTools(out)
	want := HostTools{Kubeadm: "v1.36.3", Kubelet: "v1.36.3", Kubectl: "v1.36.3", Etcd: "v3.6.16", DBBytes: 20480, FreeBytes: 1048576}
	if got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
	if got := parseTools("kubeadm=\nkubelet=\nkubectl=\n"); got != (HostTools{DBBytes: -1, FreeBytes: -1}) {
		t.Errorf("a host without tools: %+v", got)
	}
	for image, tag := range map[string]string{"registry.k8s.io/kube-proxy:v1.37.2": "v1.37.2", "kbs.local:5000/coredns/coredns:v1.14.6": "v1.14.6", "kbs.local:5000/pause": "", "a/b@sha256:00": ""} {
		if got := imageTag(image); got != tag {
			t.Errorf("imageTag(%s) = %q, want %q", image, got, tag)
		}
	}
}

// The tools query, run by sh here on an etcd data directory of 4 KiB on
// this machine's disk: sizes come back as integers (awk once printed the
// free bytes as 8.5e+10, which no parser reads).
func TestToolsScriptBySh(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "member", "snap"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "member", "snap", "db"), make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", toolsScript(cluster.Host{Name: "etcd-0", Role: cluster.RoleEtcd}, dir)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := parseTools(string(out))
	if got.DBBytes != 4096 || got.FreeBytes <= 0 {
		t.Errorf("%+v from\n%s", got, out)
	}
}

// kubeadm's own plan: its refusal, a version it disagrees on, nothing to
// do while the API servers are behind, and no kubeadm to run yet.
func TestPlanKubeadmDisagrees(t *testing.T) {
	spec := withTarget(loadSpec(t, "k8s"), "v1.37.2", "v3.6.16")
	for _, tc := range []struct {
		name   string
		plan   KubeadmPlan
		result string
		reason string
	}{
		{"preflight refused", KubeadmPlan{Host: "master-0", Error: "[ERROR CreateJob]: Job \"upgrade-health-check\" in the namespace \"kube-system\" did not complete in 1m0s"}, Failed, "kubeadm v1.37.2 upgrade plan on master-0: [ERROR CreateJob]"},
		{"another version", KubeadmPlan{Host: "master-0", APIServer: "v1.37.1"}, Failed, "would upgrade the API server to v1.37.1, not v1.37.2"},
		{"nothing while behind", KubeadmPlan{Host: "master-0"}, Failed, "finds nothing to upgrade, but API servers run v1.36.3"},
		{"packages", KubeadmPlan{Host: "master-0", Skipped: "the target's kubeadm comes from pkgs.k8s.io with apply"}, Skipped, "comes from pkgs.k8s.io"},
	} {
		o := healthy(spec, "v1.36.3", "v3.6.16")
		o.KubeadmPlan = tc.plan
		c := Evaluate(spec, o, opts).Checks
		got := c[len(c)-1]
		if got.Name != "kubeadm-upgrade-plan" || got.Result != tc.result || !strings.Contains(got.Reason, tc.reason) {
			t.Errorf("%s: %+v, want %s with %q", tc.name, got, tc.result, tc.reason)
		}
	}
}

// kubeadm's UpgradePlan as v1.37 prints it with -o json (one
// kube-apiserver per control plane), also after a line of something else;
// nothing when up to date; garbage refused.
func TestParseKubeadmPlan(t *testing.T) {
	const out = `{
    "kind": "UpgradePlan",
    "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
    "availableUpgrades": [
        {
            "description": "version in the v1.36 series",
            "components": [
                {"name": "kubelet", "currentVersion": "v1.36.3", "newVersion": "v1.37.2", "nodeName": "worker-0"},
                {"name": "kube-apiserver", "currentVersion": "v1.36.3", "newVersion": "v1.37.2", "nodeName": "master-0"},
                {"name": "kube-apiserver", "currentVersion": "v1.36.3", "newVersion": "v1.37.2", "nodeName": "master-1"},
                {"name": "kubeadm", "currentVersion": "v1.37.2", "newVersion": "v1.37.2"}
            ]
        }
    ],
    "configVersions": [{"group": "kubeproxy.config.k8s.io", "currentVersion": "v1alpha1", "preferredVersion": "v1alpha1", "manualUpgradeRequired": false}]
}
`
	for _, o := range []string{out, "a notice\n" + out} {
		if v, err := parseKubeadmPlan(o); err != nil || v != "v1.37.2" {
			t.Errorf("parsed %q, %v", v, err)
		}
	}
	if v, err := parseKubeadmPlan(""); err != nil || v != "" {
		t.Errorf("up to date: %q, %v", v, err)
	}
	if _, err := parseKubeadmPlan(`{"kind": "Status"}`); err == nil {
		t.Error("another kind accepted")
	}
}

// A resumed apply of two control planes: the first at the target, kubeadm
// (which counts the newest API server) plans nothing more — that passes;
// only kubeadm's own health errors are worth waiting for.
func TestPlanKubeadmResumedHA(t *testing.T) {
	spec := withTarget(loadSpec(t, "ha/prod"), "v1.37.2", "v3.6.16")
	o := healthy(spec, "v1.36.3", "v3.6.16")
	pod := o.ControlPlanePods["master-0"]["kube-apiserver"]
	pod.Version = "v1.37.2"
	o.ControlPlanePods["master-0"]["kube-apiserver"] = pod
	o.KubeadmPlan = KubeadmPlan{Host: "master-0"}
	c := Evaluate(spec, o, opts).Checks
	if got := c[len(c)-1]; got.Result != Passed {
		t.Errorf("%+v", got)
	}
	if !transient(Check{Name: "kubeadm-upgrade-plan", Result: Failed, Reason: "kubeadm v1.37.2 upgrade plan on master-0: [ERROR ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: [master-1]"}) {
		t.Error("kubeadm's health error is not worth waiting for")
	}
	if transient(Check{Name: "kubeadm-upgrade-plan", Result: Failed, Reason: "kubeadm v1.37.2 on master-0 would upgrade the API server to v1.37.1, not v1.37.2"}) {
		t.Error("a version disagreement is waited for")
	}
}
