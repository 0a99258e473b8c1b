package upgrade

import (
	"fmt"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// The plan's checks of the cluster's health and of where the target comes
// from; the version rules are in skew.go.

func checkHostsReachable(spec *cluster.Cluster, o *Observed) Check {
	const name = "hosts-reachable"
	var bad []string
	for _, h := range spec.Spec.Hosts {
		if e := o.Hosts[h.Name].Error; e != "" {
			bad = append(bad, h.Name+": "+e)
		}
	}
	if len(bad) > 0 {
		return failed(name, "%s", strings.Join(bad, "; "))
	}
	return passed(name, "every host of the spec answers over SSH")
}

func checkNodesReady(spec *cluster.Cluster, o *Observed) Check {
	const name = "nodes-ready"
	var bad []string
	for _, h := range spec.Spec.Hosts {
		if h.Role == cluster.RoleEtcd {
			continue
		}
		n, ok := o.Nodes[h.Name]
		switch {
		case !ok:
			bad = append(bad, h.Name+" is not a node (join it first: kubectl kbs join)")
		case !n.Ready:
			bad = append(bad, h.Name+" is not Ready")
		}
	}
	if len(bad) > 0 {
		return failed(name, "%s", strings.Join(bad, "; "))
	}
	return passed(name, "every control plane and worker of the spec is a Ready node")
}

func checkEtcdHealthy(spec *cluster.Cluster, o *Observed) Check {
	const name = "etcd-healthy"
	var bad []string
	for _, h := range spec.HostsWithRole(cluster.RoleEtcd) {
		m := o.Etcd[h.Name]
		if !m.Healthy {
			bad = append(bad, h.Name+": "+m.Error)
		}
	}
	if len(bad) > 0 {
		return failed(name, "%s", strings.Join(bad, "; "))
	}
	return passed(name, "every etcd member answers healthy")
}

var controlPlaneComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

func checkControlPlanePods(spec *cluster.Cluster, o *Observed) Check {
	const name = "control-plane-pods"
	var bad []string
	for _, h := range spec.HostsWithRole(cluster.RoleControlPlane) {
		for _, c := range controlPlaneComponents {
			p, ok := o.ControlPlanePods[h.Name][c]
			switch {
			case !ok:
				bad = append(bad, h.Name+"/"+c+" (no such pod)")
			case !p.Ready:
				bad = append(bad, fmt.Sprintf("%s/%s (%s, %s)", h.Name, c, p.Version, p.Status))
			}
		}
	}
	if len(bad) > 0 {
		return failed(name, "static pods not running and ready: %s", strings.Join(bad, ", "))
	}
	return passed(name, "every control plane runs its API server, controller manager and scheduler, ready")
}

func checkCertificates(o *Observed, opts Options) Check {
	const name = "certificates"
	if o.CertsError != "" {
		return failed(name, "could not read every host's certificates: %s", o.CertsError)
	}
	var bad []string
	for _, c := range o.Certs {
		if c.Expiring {
			bad = append(bad, fmt.Sprintf("%s:%s (%s left)", c.Host, c.File, c.Remaining))
		}
	}
	if len(bad) > 0 {
		return failed(name, "certificates expire within the %s window: %s; renew them first (kubectl kbs certs renew, kubectl kbs etcd certs rotate)", opts.Window, strings.Join(bad, ", "))
	}
	return passed(name, "%d certificates on the hosts, none expiring within %s", len(o.Certs), opts.Window)
}

// checkEtcdDisk: each etcd host keeps room for a snapshot and the
// database's growth while members restart — twice the database free.
func checkEtcdDisk(spec *cluster.Cluster, o *Observed) Check {
	const name = "etcd-disk"
	var bad []string
	for _, h := range spec.HostsWithRole(cluster.RoleEtcd) {
		t := o.Hosts[h.Name]
		switch {
		case t.DBBytes < 0 || t.FreeBytes < 0:
			bad = append(bad, h.Name+": the database size or the free space of "+spec.Spec.Etcd.DataDir+" could not be read")
		case t.FreeBytes < 2*t.DBBytes:
			bad = append(bad, fmt.Sprintf("%s: %d MiB free, the database is %d MiB (want twice that free)", h.Name, t.FreeBytes>>20, t.DBBytes>>20))
		}
	}
	if len(bad) > 0 {
		return failed(name, "%s", strings.Join(bad, "; "))
	}
	return passed(name, "every etcd host has twice its database free")
}

// checkKubernetesBinaries: the target's kubeadm, kubelet, kubectl and
// images must come from somewhere: the bundle the spec names must be the
// target's; packages come from the target minor's pkgs.k8s.io channel.
func checkKubernetesBinaries(spec *cluster.Cluster) Check {
	const name = "kubernetes-binaries"
	target := spec.Spec.KubernetesVersion
	if spec.Spec.Runtime.Source != cluster.RuntimeSourceBundle {
		t, err := parse(target)
		if err != nil {
			return failed(name, "%v", err)
		}
		return passed(name, "packages %s from the pkgs.k8s.io channel v%d.%d (the hosts fetch them)", target, t.Major(), t.Minor())
	}
	b, err := bundle.Load(spec.Spec.Runtime.Bundle)
	if err != nil {
		return failed(name, "%v", err)
	}
	if v := b.Versions["kubernetes"]; v != target {
		return failed(name, "bundle %s holds Kubernetes %s, not %s: build the target's bundle (hack/build-bundle.sh) and point spec.runtime.bundle at it", b.Dir, v, target)
	}
	return passed(name, "bundle %s holds Kubernetes %s", b.Dir, target)
}

// checkEtcdBinaries: an etcd upgrade installs spec.etcd.binary when the
// spec names one (its own --version is the target), else the hosts' own
// etcd binary must already be the target (kbs installs etcd on hosts only
// from a binary it is given).
func checkEtcdBinaries(spec *cluster.Cluster, o *Observed, target, targetErr string) Check {
	const name = "etcd-binaries"
	if targetErr != "" {
		return failed(name, "%s", targetErr)
	}
	if spec.Spec.Etcd.Binary != "" {
		return passed(name, "etcd %s from %s", target, spec.Spec.Etcd.Binary)
	}
	var bad []string
	for _, h := range spec.HostsWithRole(cluster.RoleEtcd) {
		if v := o.Hosts[h.Name].Etcd; v != target && o.Etcd[h.Name].Version != target {
			bad = append(bad, h.Name+" has "+v)
		}
	}
	if len(bad) > 0 {
		return failed(name, "no spec.etcd.binary to install etcd %s from, and %s: set spec.etcd.binary to an etcd %s binary", target, strings.Join(bad, ", "), target)
	}
	return passed(name, "every etcd host has etcd %s", target)
}
