package upgrade

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
)

// What kubeadm of each Kubernetes minor release says about its neighbours,
// read from the k8s.io/kubernetes modules of the releases kbs knows
// (cmd/kubeadm/app/constants): the oldest external etcd it supports and the
// CoreDNS its `upgrade apply` deploys. A minor not listed here is refused:
// kbs cannot vouch for an upgrade to a release it has not read.
var releases = map[uint]release{
	36: {minExternalEtcd: "3.5.24", coreDNS: "v1.14.2"}, // v1.36.3
	37: {minExternalEtcd: "3.5.24", coreDNS: "v1.14.6"}, // v1.37.2
}

type release struct {
	minExternalEtcd string
	coreDNS         string
}

// kubeletMaxSkew is how many minors a kubelet may trail the API server
// (the version skew policy since v1.28).
const kubeletMaxSkew = 3

// Check results.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Check is one named condition of an upgrade and why it holds or not.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Reason string `json:"reason"`
}

func passed(name, format string, args ...any) Check {
	return Check{Name: name, Result: Passed, Reason: fmt.Sprintf(format, args...)}
}

func failed(name, format string, args ...any) Check {
	return Check{Name: name, Result: Failed, Reason: fmt.Sprintf(format, args...)}
}

func skipped(name, format string, args ...any) Check {
	return Check{Name: name, Result: Skipped, Reason: fmt.Sprintf(format, args...)}
}

// parse reads a version as the tools print it (v1.37.2, 3.7.3, 3.5.24-0).
func parse(s string) (*version.Version, error) {
	v, err := version.ParseGeneric(strings.TrimPrefix(strings.TrimSpace(s), "v"))
	if err != nil {
		return nil, fmt.Errorf("%q is not a version: %w", s, err)
	}
	return v, nil
}

// mustParse is parse for the versions kbs itself lists.
func mustParse(s string) *version.Version {
	v, err := parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// newest and oldest of a set of versions (unparsable ones are left out:
// the checks that read them report those).
func extreme(vs []string, newer bool) *version.Version {
	var out *version.Version
	for _, s := range vs {
		v, err := parse(s)
		if err != nil {
			continue
		}
		if out == nil || (newer && v.GreaterThan(out)) || (!newer && v.LessThan(out)) {
			out = v
		}
	}
	return out
}

// checkOneMinor is the "one minor at a time, never down" rule for what,
// from the versions running (a half-done upgrade counts its newest) to target.
func checkOneMinor(name, what string, running []string, target string) Check {
	t, err := parse(target)
	if err != nil {
		return failed(name, "the spec's %s version: %v", what, err)
	}
	cur := extreme(running, true)
	if cur == nil {
		return failed(name, "no running %s version could be read (%s)", what, strings.Join(running, ", "))
	}
	switch {
	case t.LessThan(cur):
		return failed(name, "%s %s is older than the running %s: kbs does not downgrade; set the spec back to %s", what, target, "v"+cur.String(), "v"+cur.String())
	case t.Major() != cur.Major() || t.Minor() > cur.Minor()+1:
		return failed(name, "%s v%s to %s skips a minor release: upgrade to v%d.%d.x first", what, cur, target, cur.Major(), cur.Minor()+1)
	}
	if old := extreme(running, false); old != nil && old.Minor()+1 < t.Minor() {
		return failed(name, "%s v%s still runs, more than one minor below %s: finish the earlier upgrade first", what, old, target)
	}
	return passed(name, "v%s to %s", cur, target)
}

// checkEtcdSupported: after etcd's own step, the target Kubernetes must
// support the etcd that will run (kubeadm's minimum external etcd).
func checkEtcdSupported(targetK8s, etcdAfter string) Check {
	const name = "etcd-supported-by-target"
	t, err := parse(targetK8s)
	if err != nil {
		return failed(name, "%v", err)
	}
	r, ok := releases[t.Minor()]
	if !ok {
		return failed(name, "kbs knows the etcd requirements of Kubernetes %s only; it cannot vouch for v%d.%d: use a kbs release that knows it", knownMinors(), t.Major(), t.Minor())
	}
	e, err := parse(etcdAfter)
	if err != nil {
		return failed(name, "the etcd that will run: %v", err)
	}
	if e.LessThan(mustParse(r.minExternalEtcd)) {
		return failed(name, "Kubernetes %s needs etcd %s or newer and etcd %s would run: raise spec.etcd.version (etcd is upgraded first)", targetK8s, r.minExternalEtcd, etcdAfter)
	}
	return passed(name, "Kubernetes %s supports external etcd %s and newer; etcd %s will run", targetK8s, r.minExternalEtcd, etcdAfter)
}

func knownMinors() string {
	var out []string
	for _, m := range slices.Sorted(maps.Keys(releases)) {
		out = append(out, fmt.Sprintf("v1.%d", m))
	}
	return strings.Join(out, ", ")
}

// checkKubeletsNotNewer: no kubelet may be newer than the API servers
// will be (the target), else the target is a downgrade for that node.
func checkKubeletsNotNewer(kubelets map[string]string, target string) Check {
	const name = "kubelets-not-newer"
	t, err := parse(target)
	if err != nil {
		return failed(name, "%v", err)
	}
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(kubelets)) {
		if v, err := parse(kubelets[n]); err != nil || v.GreaterThan(t) {
			bad = append(bad, n+" ("+kubelets[n]+")")
		}
	}
	if len(bad) > 0 {
		return failed(name, "kubelets newer than %s or unreadable: %s", target, strings.Join(bad, ", "))
	}
	return passed(name, "every kubelet is at or below %s", target)
}

// checkKubeletSkew: while control planes are at the target and workers not
// yet, every kubelet must be within kubeletMaxSkew minors of the target.
func checkKubeletSkew(kubelets map[string]string, target string) Check {
	const name = "kubelet-skew"
	t, err := parse(target)
	if err != nil {
		return failed(name, "%v", err)
	}
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(kubelets)) {
		v, err := parse(kubelets[n])
		if err == nil && v.Major() == t.Major() && v.Minor()+kubeletMaxSkew >= t.Minor() {
			continue
		}
		bad = append(bad, n+" ("+kubelets[n]+")")
	}
	if len(bad) > 0 {
		return failed(name, "kubelets more than %d minors below %s (the skew policy's limit while control planes go first): %s; upgrade them to an intermediate release first", kubeletMaxSkew, target, strings.Join(bad, ", "))
	}
	return passed(name, "every kubelet is within %d minors of %s while the control planes go first", kubeletMaxSkew, target)
}

// checkKubectlSkew: the operator's kubectl must be within one minor of the
// target API server.
func checkKubectlSkew(kubectl, target string) Check {
	const name = "kubectl-skew"
	if kubectl == "" {
		return skipped(name, "no kubectl in PATH on this machine")
	}
	k, err := parse(kubectl)
	if err != nil {
		return failed(name, "your kubectl: %v", err)
	}
	t, err := parse(target)
	if err != nil {
		return failed(name, "%v", err)
	}
	if k.Major() != t.Major() || k.Minor()+1 < t.Minor() || k.Minor() > t.Minor()+1 {
		return failed(name, "your kubectl v%s is more than one minor from %s: install kubectl v%d.%d", k, target, t.Major(), t.Minor())
	}
	return passed(name, "your kubectl v%s is within one minor of %s", k, target)
}

// coreDNSTarget is the CoreDNS that kubeadm of target deploys.
func coreDNSTarget(target string) string {
	t, err := parse(target)
	if err != nil {
		return ""
	}
	return releases[t.Minor()].coreDNS
}
