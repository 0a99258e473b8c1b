//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/upgrade"
)

// testUpgradePlan asks for the plan of the running cluster: its spec is
// what runs, so there is nothing to upgrade and every check passed, with
// every host's components read; a spec two minors ahead and one a minor
// behind are refused by the check that guards each.
func testUpgradePlan(t *testing.T, p paths) {
	out, progress := mustKbs(t, append(p.args("upgrade", "plan"), "-o", "json")...)
	var plan upgrade.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("upgrade plan -o json: %v\n%s", err, out)
	}
	if !strings.Contains(progress, "nothing to upgrade: k8s runs Kubernetes v1.37.2 and etcd v3.7.3") {
		t.Errorf("no 'nothing to upgrade' in:\n%s", progress)
	}
	for _, c := range plan.Checks {
		// kubectl-skew is skipped when this machine has no kubectl on PATH.
		if c.Result == upgrade.Failed || (c.Result == upgrade.Skipped && c.Name != "kubectl-skew") {
			t.Errorf("%s %s: %s", c.Name, c.Result, c.Reason)
		}
	}
	seen := map[string]bool{}
	for _, c := range plan.Components {
		seen[c.Host+"/"+c.Name] = true
		if c.Name != "coredns" && c.Current != c.Target {
			t.Errorf("%s's %s runs %q, the spec says %s", c.Host, c.Name, c.Current, c.Target)
		}
	}
	for _, want := range []string{"etcd0/etcd", "master-0/kube-apiserver", "master-0/kube-scheduler", "master-0/kubeadm", "master-0/kubectl", "worker-0/kubelet", "worker-1/kubeadm", "cluster/kube-proxy", "cluster/coredns"} {
		if !seen[want] {
			t.Errorf("the plan has no %s", want)
		}
	}

	table, _ := mustKbs(t, p.args("upgrade", "plan")...)
	for _, want := range []string{"Cluster k8s: Kubernetes v1.37.2 → v1.37.2, etcd v3.7.3 → v3.7.3", "etcd-healthy", "control-plane-pods"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}

	spec, err := os.ReadFile(p.spec)
	if err != nil {
		t.Fatal(err)
	}
	for version, want := range map[string]string{
		"v1.39.0": "Kubernetes v1.37.2 to v1.39.0 skips a minor release: upgrade to v1.38.x first",
		"v1.36.3": "Kubernetes v1.36.3 is older than the running v1.37.2: kbs does not downgrade",
	} {
		q := p
		q.spec = filepath.Join(t.TempDir(), "cluster-"+version+".yaml")
		if err := os.WriteFile(q.spec, []byte(strings.Replace(string(spec), "kubernetesVersion: v1.37.2", "kubernetesVersion: "+version, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, progress, err := kbs(ctx, nil, q.args("upgrade", "plan")...)
		cancel()
		// The binary's error is on stderr; the table on stdout.
		if err == nil || !strings.Contains(progress, "kubernetes-one-minor-at-a-time") || !strings.Contains(out, want) {
			t.Errorf("plan to %s: %v, want kubernetes-one-minor-at-a-time failed with %q:\n%s", version, err, want, out)
		}
	}
}
