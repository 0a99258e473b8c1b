package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// bundleSpec is examples/k8s.yaml at target, installed from a bundle of
// the target, with an etcd binary to upload.
func bundleSpec(t *testing.T, target string) *cluster.Cluster {
	spec := withTarget(loadSpec(t, "k8s"), target, "")
	spec.Spec.Runtime.Source, spec.Spec.Runtime.Bundle = cluster.RuntimeSourceBundle, bundleOf(t, target)
	spec.Spec.Etcd.Binary = fakeEtcd(t, "etcd Version: 3.7.3\nGit SHA: 0000000\n")
	return spec
}

// fakeEtcd is a program that prints version as etcd --version does.
func fakeEtcd(t *testing.T, version string) string {
	path := filepath.Join(t.TempDir(), "etcd")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nprintf '"+version+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// With spec.etcd.binary the target is what the binary says it is; a file
// that is not etcd is refused.
func TestEtcdTarget(t *testing.T) {
	spec := loadSpec(t, "k8s")
	if v, err := EtcdTarget(context.Background(), spec); v != "v3.7.3" || err != nil {
		t.Errorf("spec.etcd.version: %q %v", v, err)
	}
	spec.Spec.Etcd.Version, spec.Spec.Etcd.Binary = "", fakeEtcd(t, "etcd Version: 3.6.16\n")
	if v, err := EtcdTarget(context.Background(), spec); v != "v3.6.16" || err != nil {
		t.Errorf("spec.etcd.binary: %q %v", v, err)
	}
	spec.Spec.Etcd.Binary = fakeEtcd(t, "Kubernetes v1.37.2\n")
	if _, err := EtcdTarget(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "is not etcd") {
		t.Errorf("a kubelet as etcd: %v", err)
	}
}

// The dry run is the whole upgrade in order — preflight, snapshot, etcd,
// images, the control plane, the workers one at a time — and contacts
// nothing.
func TestApplyDryRunPlan(t *testing.T) {
	spec := bundleSpec(t, "v1.37.2")
	local, err := state.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ssh := new(remotetest.Dialer)
	s := &host.Session{Spec: spec, Local: local, SSH: ssh, Plan: true, Parallel: 1, Out: &out}
	cs := fake.NewClientset()
	if err := Apply(context.Background(), s, cs, ApplyOptions{MaxUnavailable: 1, DrainTimeout: time.Minute, NodeTimeout: time.Minute}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	plan := out.String()
	steps := []string{
		"[preflight] would read the cluster and run the checks",
		"[etcd-snapshot] would save an etcd snapshot",
		"[plan] etcd-0: would install etcd v3.7.3 (uploaded from " + spec.Spec.Etcd.Binary + ")",
		"[plan] master-0: would upload images.tar from the bundle to /var/lib/kbs/images.tar",
		"[plan] worker-1: would upload images.tar",
		"[plan] master-0: would upload bin/kubeadm from the bundle to /usr/local/bin/kubeadm",
		"[plan] master-0: would kubeadm upgrade apply: rm -f '/var/log/kbs-kubeadm-upgrade.log'; (umask 077; kubeadm upgrade apply 'v1.37.2' --yes",
		"[drain] master-0: would drain master-0 (PodDisruptionBudgets honoured",
		"[plan] master-0: would upload bin/kubelet",
		"[plan] master-0: would restart the kubelet: systemctl daemon-reload && systemctl restart kubelet",
		"[plan] master-0: would wait until master-0 is Ready at v1.37.2, then uncordon it",
		"[plan] worker-0: would kubeadm upgrade node: ",
		"[drain] worker-0: would drain worker-0",
		"[plan] worker-1: would kubeadm upgrade node: ",
	}
	at := 0
	for _, step := range steps {
		i := strings.Index(plan[at:], step)
		if i < 0 {
			t.Fatalf("no %q after position %d in the plan:\n%s", step, at, plan)
		}
		at += i
	}
	if len(ssh.Dials()) != 0 || len(cs.Actions()) != 0 {
		t.Errorf("the dry run dialed %v and called the API %v", ssh.Dials(), cs.Actions())
	}
}

// A bundle of another release is refused before anything is contacted.
func TestApplyRefusesTheWrongBundle(t *testing.T) {
	spec := bundleSpec(t, "v1.37.2")
	spec.Spec.Runtime.Bundle = bundleOf(t, "v1.36.3")
	local, _ := state.Open(t.TempDir(), true)
	ssh := new(remotetest.Dialer)
	s := &host.Session{Spec: spec, Local: local, SSH: ssh, Plan: true, Out: new(bytes.Buffer)}
	err := Apply(context.Background(), s, fake.NewClientset(), ApplyOptions{MaxUnavailable: 1})
	if err == nil || !strings.Contains(err.Error(), "holds Kubernetes v1.36.3, not the target v1.37.2") || len(ssh.Dials()) != 0 {
		t.Fatalf("%v (dialed %v)", err, ssh.Dials())
	}
}

// A worker upgraded for real on the fake: the target kubeadm, kubeadm
// upgrade node, cordoned and drained before the kubelet is replaced and
// restarted, uncordoned once Ready at the target; a second run finds it
// done and changes nothing.
func TestUpgradeWorker(t *testing.T) {
	spec := bundleSpec(t, "v1.37.2")
	local, err := state.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ssh := new(remotetest.Dialer)
	s := &host.Session{Spec: spec, Local: local, SSH: ssh, Parallel: 2, Out: &out}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-0"}, Status: corev1.NodeStatus{
		NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.36.3"},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}}
	cs := fake.NewClientset(node)
	var unschedulable []bool
	cs.PrependReactor("update", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		unschedulable = append(unschedulable, a.(k8stesting.UpdateAction).GetObject().(*corev1.Node).Spec.Unschedulable)
		return false, nil, nil
	})
	cs.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		unschedulable = append(unschedulable, strings.Contains(string(a.(k8stesting.PatchAction).GetPatch()), `"unschedulable":true`))
		return false, nil, nil
	})
	// The kubelet restart brings the node back at the target.
	ssh.Configure(func(c *remotetest.Conn) {
		c.OnFunc(`systemctl restart kubelet`, func(string, []byte) ([]byte, error) {
			n, _ := cs.CoreV1().Nodes().Get(context.Background(), "worker-0", metav1.GetOptions{})
			n.Status.NodeInfo.KubeletVersion = "v1.37.2"
			_, err := cs.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{})
			return nil, err
		})
	})
	b, err := bundle.Load(spec.Spec.Runtime.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	r := &applyRun{Session: s, cs: cs, target: "v1.37.2", etcdTarget: "v3.7.3", bundle: b,
		opts: ApplyOptions{MaxUnavailable: 1, DrainTimeout: 30 * time.Second, NodeTimeout: 30 * time.Second}}
	w := spec.HostsWithRole(cluster.RoleWorker)[:1]
	if err := r.upgradeNodes(context.Background(), w, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	c := ssh.Conn("worker-0")
	cmds := strings.Join(c.Commands(), "\n")
	for _, want := range []string{"kubeadm upgrade node >", "systemctl daemon-reload && systemctl restart kubelet"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("no %q in\n%s", want, cmds)
		}
	}
	if strings.Index(cmds, "kubeadm upgrade node") > strings.Index(cmds, "restart kubelet") {
		t.Errorf("the kubelet restarted before kubeadm upgrade node:\n%s", cmds)
	}
	writes := c.Writes()
	for _, f := range []string{"/usr/local/bin/kubeadm", "/usr/local/bin/kubelet"} {
		if _, ok := writes[f]; !ok {
			t.Errorf("%s not uploaded (wrote %v)", f, writes)
		}
	}
	if _, ok := writes["/usr/local/bin/kubectl"]; ok {
		t.Error("a bundle worker got kubectl, which init does not give it")
	}
	if len(unschedulable) < 2 || !unschedulable[0] || unschedulable[len(unschedulable)-1] {
		t.Errorf("the node was not cordoned, then uncordoned: %v", unschedulable)
	}
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "worker-0", metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Error("worker-0 is left cordoned")
	}
	if !strings.Contains(out.String(), "[workers-worker-0] worker-0: at v1.37.2 and uncordoned") {
		t.Errorf("progress:\n%s", out.String())
	}

	// Upgraded but left cordoned: only uncordoned.
	n.Spec.Unschedulable = true
	if _, err := cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	out.Reset()
	if err := r.upgradeNodes(context.Background(), w, false); err != nil {
		t.Fatal(err)
	}
	if n, _ := cs.CoreV1().Nodes().Get(context.Background(), "worker-0", metav1.GetOptions{}); n.Spec.Unschedulable || c.Ran(`kubeadm`) || !strings.Contains(out.String(), "already at v1.37.2; uncordoned") {
		t.Errorf("a cordoned, upgraded worker: cordoned %t\n%s\n%s", n.Spec.Unschedulable, strings.Join(c.Commands(), "\n"), out.String())
	}

	c.Reset()
	out.Reset()
	if err := r.upgradeNodes(context.Background(), w, false); err != nil {
		t.Fatal(err)
	}
	if c.Ran(`kubeadm`) || len(c.Writes()) != 0 || !strings.Contains(out.String(), "already at v1.37.2 and schedulable") {
		t.Errorf("the second run changed worker-0:\n%s\n%s", strings.Join(c.Commands(), "\n"), out.String())
	}
}

// Workers go in batches of --max-unavailable, in the spec's order.
func TestBatches(t *testing.T) {
	hs := []cluster.Host{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	var got []string
	for _, b := range batches(hs, 2) {
		got = append(got, names(b))
	}
	if strings.Join(got, " ") != "a,b c" {
		t.Errorf("batches %v", got)
	}
}

// What /metrics says of leadership and the applied raft index.
func TestParseMetrics(t *testing.T) {
	text := "# HELP etcd_server_is_leader ...\netcd_server_is_leader 1\netcd_server_proposals_applied_total 1.234567e+06\nother 3\n"
	m, err := parseMetrics(bufio.NewScanner(strings.NewReader(text)))
	if err != nil || !m.leader || m.applied != 1234567 {
		t.Errorf("%+v %v", m, err)
	}
	if _, err := parseMetrics(bufio.NewScanner(strings.NewReader("other 1\n"))); err == nil {
		t.Error("metrics without the two numbers accepted")
	}
}
