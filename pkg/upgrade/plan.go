// Package upgrade carries a running cluster to the Kubernetes and etcd
// versions its spec names: `upgrade plan` reads what runs and checks every
// rule an upgrade must keep before anything is changed.
package upgrade

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

// Plan is what an upgrade to the spec's versions would change and whether
// it may: every host's components, current and target, and the checks.
type Plan struct {
	Cluster    string      `json:"cluster"`
	Kubernetes Step        `json:"kubernetes"`
	Etcd       Step        `json:"etcd"`
	Components []Component `json:"components"`
	Checks     []Check     `json:"checks"`
}

// Step is one product's move: the newest version running to the target.
type Step struct {
	Current string `json:"current"`
	Target  string `json:"target"`
}

// Component is one versioned part of the cluster on one host ("cluster"
// for kube-proxy and CoreDNS, which run everywhere).
type Component struct {
	Host    string `json:"host"`
	Role    string `json:"role"`
	Name    string `json:"name"`
	Current string `json:"current"`
	Target  string `json:"target"`
}

// Failed names the checks that failed.
func (p *Plan) Failed() []string {
	var out []string
	for _, c := range p.Checks {
		if c.Result == Failed {
			out = append(out, c.Name)
		}
	}
	return out
}

// UpToDate says whether every component already runs its target. CoreDNS
// does not count: kubeadm chooses it with the Kubernetes release.
func (p *Plan) UpToDate() bool {
	for _, c := range p.Components {
		if c.Name != "coredns" && c.Target != "" && c.Current != c.Target {
			return false
		}
	}
	return true
}

// Options tune the checks.
type Options struct {
	// Window is how long certificates must stay valid (the upgrade's
	// duration, with margin).
	Window time.Duration
	// Now is the clock (tests set it).
	Now time.Time
	// EtcdTarget is the etcd the spec asks for (see EtcdTarget); empty
	// means spec.etcd.version. EtcdTargetError says why it is unknown.
	EtcdTarget      string
	EtcdTargetError string
}

// EtcdTarget is the etcd version the spec asks for: spec.etcd.version, or
// the version spec.etcd.binary (the file an upgrade uploads) prints.
func EtcdTarget(ctx context.Context, spec *cluster.Cluster) (string, error) {
	e := spec.Spec.Etcd
	if e.Binary == "" {
		return e.Version, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.Binary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("spec.etcd.binary %s --version: %w", e.Binary, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	v := versionRE.FindString(first)
	if !strings.HasPrefix(first, "etcd Version: ") || v == "" {
		return "", fmt.Errorf("spec.etcd.binary %s is not etcd: its --version printed %q", e.Binary, first)
	}
	return "v" + strings.TrimPrefix(v, "v"), nil
}

// MakePlan reads the cluster (cs, the hosts of s over SSH, etcd with the
// state directory's client certificate, the operator's kubectl) and
// evaluates the upgrade to s's spec.
func MakePlan(ctx context.Context, s *host.Session, cs kubernetes.Interface, opts Options) (*Plan, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.EtcdTarget == "" && opts.EtcdTargetError == "" {
		if v, err := EtcdTarget(ctx, s.Cluster()); err != nil {
			opts.EtcdTargetError = err.Error()
		} else {
			opts.EtcdTarget = v
		}
	}
	o := &Observed{}
	done := make(chan struct{}, 4)
	go func() { observeAPI(ctx, cs, o); done <- struct{}{} }()
	go func() { observeEtcd(ctx, s, o); done <- struct{}{} }()
	go func() { observeCerts(ctx, s, o, opts); done <- struct{}{} }()
	go func() { observeKubeadmPlan(ctx, s, o, s.Cluster().Spec.KubernetesVersion); done <- struct{}{} }()
	observeHosts(ctx, s, o)
	for range 4 {
		<-done
	}
	o.Kubectl = operatorKubectl(ctx)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading the cluster: %w", err)
	}
	return Evaluate(s.Cluster(), o, opts), nil
}

func observeCerts(ctx context.Context, s *host.Session, o *Observed, opts Options) {
	c := s.Cluster()
	var targets []host.HostTarget
	for _, h := range c.Spec.Hosts {
		targets = append(targets, host.HostTarget{Name: h.Name, Target: host.TargetFor(c, h)})
	}
	certs, err := host.ReadNodeCerts(ctx, s.SSH, targets, max(s.Parallel, 1), opts.Window, opts.Now)
	o.Certs = certs
	if err != nil {
		o.CertsError = err.Error()
	}
}

// operatorKubectl is the version of the kubectl on this machine's PATH
// (the one that runs kbs as a plugin), "" when there is none.
func operatorKubectl(ctx context.Context) string {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version", "--client").Output()
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return versionRE.FindString(first)
}

// Evaluate turns what runs into the plan for spec: pure, so every rule is
// tested on the shapes it guards against.
func Evaluate(spec *cluster.Cluster, o *Observed, opts Options) *Plan {
	target, etcdTarget := spec.Spec.KubernetesVersion, opts.EtcdTarget
	if etcdTarget == "" {
		etcdTarget = spec.Spec.Etcd.Version
	}
	p := &Plan{Cluster: spec.Metadata.Name}
	p.Components = components(spec, o, etcdTarget)
	var apiservers, members []string
	for _, c := range p.Components {
		switch c.Name {
		case "kube-apiserver":
			apiservers = append(apiservers, c.Current)
		case "etcd":
			members = append(members, c.Current)
		}
	}
	p.Kubernetes = Step{Current: versionString(extreme(apiservers, true)), Target: target}
	p.Etcd = Step{Current: versionString(extreme(members, true)), Target: etcdTarget}
	kubelets := map[string]string{}
	for name, n := range o.Nodes {
		kubelets[name] = n.Kubelet
	}
	p.Checks = []Check{
		apiChecked("kubernetes-one-minor-at-a-time", o, func() Check {
			return checkOneMinor("kubernetes-one-minor-at-a-time", "Kubernetes", apiservers, target)
		}),
		checkOneMinor("etcd-one-minor-at-a-time", "etcd", members, etcdTarget),
		checkEtcdSupported(target, etcdTarget),
		apiChecked("kubelets-not-newer", o, func() Check { return checkKubeletsNotNewer(kubelets, target) }),
		apiChecked("kubelet-skew", o, func() Check { return checkKubeletSkew(kubelets, target) }),
		checkKubectlSkew(o.Kubectl, target),
		checkHostsReachable(spec, o),
		apiChecked("nodes-ready", o, func() Check { return checkNodesReady(spec, o) }),
		checkEtcdHealthy(spec, o),
		apiChecked("control-plane-pods", o, func() Check { return checkControlPlanePods(spec, o) }),
		checkCertificates(o, opts),
		checkEtcdDisk(spec, o),
		checkKubernetesBinaries(spec),
		checkEtcdBinaries(spec, o, etcdTarget, opts.EtcdTargetError),
		checkKubeadmPlan(o.KubeadmPlan, apiservers, target),
	}
	return p
}

func versionString(v *version.Version) string {
	if v == nil {
		return ""
	}
	return "v" + v.String()
}

// apiChecked runs a check that needs the API, or fails it with the reason
// the API could not be read.
func apiChecked(name string, o *Observed, f func() Check) Check {
	if o.APIError != "" {
		return failed(name, "the API could not be read: %s", o.APIError)
	}
	return f()
}

// components lists every versioned part by host, as the plan prints them.
func components(spec *cluster.Cluster, o *Observed, etcdTarget string) []Component {
	target := spec.Spec.KubernetesVersion
	var out []Component
	add := func(h cluster.Host, name, current, to string) {
		out = append(out, Component{Host: h.Name, Role: h.Role, Name: name, Current: current, Target: to})
	}
	for _, role := range []string{cluster.RoleEtcd, cluster.RoleControlPlane, cluster.RoleWorker} {
		for _, h := range spec.HostsWithRole(role) {
			t := o.Hosts[h.Name]
			if role == cluster.RoleEtcd {
				v := o.Etcd[h.Name].Version
				if v == "" {
					v = t.Etcd // the member does not answer: its binary
				}
				add(h, "etcd", v, etcdTarget)
				continue
			}
			if role == cluster.RoleControlPlane {
				for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
					add(h, c, o.ControlPlanePods[h.Name][c].Version, target)
				}
			}
			add(h, "kubelet", o.Nodes[h.Name].Kubelet, target)
			add(h, "kubeadm", t.Kubeadm, target)
			if role == cluster.RoleControlPlane || t.Kubectl != "" {
				add(h, "kubectl", t.Kubectl, target)
			}
		}
	}
	all := cluster.Host{Name: "cluster", Role: "-"}
	add(all, "kube-proxy", o.KubeProxy, target)
	dns := coreDNSTarget(target)
	if cur, err := parse(o.CoreDNS); err == nil && dns != "" && !cur.LessThan(mustParse(dns)) {
		dns = o.CoreDNS // kubeadm never moves CoreDNS back
	}
	add(all, "coredns", o.CoreDNS, dns)
	return out
}

// Hosts names the plan's hosts in its order.
func (p *Plan) Hosts() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Components {
		if !seen[c.Host] {
			seen[c.Host] = true
			out = append(out, c.Host)
		}
	}
	return out
}
