//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodecheck"
	"github.com/kubectl-kbs/kbs/test/smoke"
	"github.com/kubectl-kbs/kbs/test/workload"
)

func localClusterSpec() (string, error) { return localcluster.Spec(cluster, "k8s") }

// caFiles are every CA of the cluster, locally and on the hosts: none may
// change once made.
func caFiles(t *testing.T, p paths) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"pki/kubernetes/ca.crt", "pki/kubernetes/front-proxy-ca.crt", "pki/etcd/ca.crt"} {
		data, _ := os.ReadFile(filepath.Join(p.state, f))
		b.Write(data)
	}
	b.WriteString(onNode(t, "master-0", "sh", "-c", "cat /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/front-proxy-ca.crt /etc/kubernetes/pki/etcd/ca.crt 2>/dev/null; true"))
	b.WriteString(onNode(t, "etcd0", "cat", "/etc/etcd/pki/ca.crt"))
	return b.String()
}

func TestClusterEndToEnd(t *testing.T) {
	p := newPaths(t)

	t.Run("init interrupted inside kubeadm init resumes it without a new CA", func(t *testing.T) {
		initInterruptedInsideKubeadm(t, p)
		cas := caFiles(t, p)
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		_, progress, err := kbs(ctx, nil, p.args("init")...)
		checkResumed(t, progress)
		if err != nil {
			t.Fatalf("the re-run of init failed: %v\n%s", err, progress)
		}
		if state, err := kubeadmInit(ctx); err != nil || state != "finished" {
			t.Errorf("kubeadm init on master-0 is %q after the re-run (%v), want finished", state, err)
		}
		// runtime-workers runs in the background until join, so it may not
		// have finished when kubeadm init was interrupted; the phases before
		// control-plane in the foreground have.
		for _, want := range []string{"[runtime] already done (journal)", "[etcd] already done (journal)", "[kubeadm-config] already done (journal)", "[wait-ready] nodes:", "[wait-ready] cluster DNS available"} {
			if !strings.Contains(progress, want) {
				t.Errorf("resumed init lacks %q:\n%s", want, progress)
			}
		}
		if got := caFiles(t, p); got != cas {
			t.Fatal("a CA changed between the interrupted and the resumed init")
		}
	})
	cs := client(t, p)

	t.Run("every node Ready", func(t *testing.T) {
		list, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ready []string
		for _, n := range list.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready = append(ready, n.Name)
				}
			}
		}
		sort.Strings(ready)
		if strings.Join(ready, ",") != "master-0,worker-0,worker-1" {
			t.Fatalf("Ready nodes: %v", ready)
		}
	})

	t.Run("the external etcd is in use and demands client certificates", func(t *testing.T) {
		manifest := onNode(t, "master-0", "cat", "/etc/kubernetes/manifests/kube-apiserver.yaml")
		if want := fmt.Sprintf("--etcd-servers=https://%s:2379", node("etcd0").IP); !strings.Contains(manifest, want) {
			t.Fatalf("kube-apiserver runs without %s", want)
		}
		if strings.Contains(onNode(t, "master-0", "ls", "/etc/kubernetes/manifests"), "etcd.yaml") {
			t.Fatal("kubeadm made a stacked etcd")
		}
		if err := etcdGet(p, true); err != nil {
			t.Fatalf("etcd with the client certificate: %v", err)
		}
		if err := etcdGet(p, false); err == nil {
			t.Fatal("etcd answered a client without a certificate")
		}
		if keys := onNode(t, "etcd0", "sh", "-c", "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/server.crt --key=/etc/etcd/pki/server.key get /registry/namespaces/kube-system --keys-only 2>/dev/null"); keys != "/registry/namespaces/kube-system" {
			t.Fatalf("etcd0 does not hold the cluster's data: %q", keys)
		}
	})

	t.Run("pods on every worker, pod to pod across nodes, a Service, DNS", func(t *testing.T) {
		workload.Check(t, cs)
	})

	t.Run("no bootstrap token is left valid or in a file on any node", func(t *testing.T) {
		nodecheck.NoTokenLeft(t, cs, cluster, "etcd0", "master-0", "worker-0", "worker-1")
	})

	t.Run("diag", func(t *testing.T) { testDiag(t, p) })

	t.Run("a second init changes nothing", func(t *testing.T) {
		before := snapshot(t, cs)
		cas := caFiles(t, p)
		// Without the journal every phase runs its idempotent checks.
		if err := os.Remove(filepath.Join(p.state, "journal.json")); err != nil {
			t.Fatal(err)
		}
		_, progress := mustKbs(t, p.args("init")...)
		for _, want := range []string{"bundle files already in place", "etcd0: unchanged", "already initialized", "every worker is already a node"} {
			if !strings.Contains(progress, want) {
				t.Errorf("re-run lacks %q:\n%s", want, progress)
			}
		}
		if after := snapshot(t, cs); after != before {
			t.Fatalf("the re-run restarted something:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if caFiles(t, p) != cas {
			t.Fatal("the re-run changed a CA")
		}
	})

	t.Run("upgrade plan: nothing to upgrade, every check passed; a skip and a downgrade refused", func(t *testing.T) { testUpgradePlan(t, p) })

	t.Run("a worker reset and joined again", func(t *testing.T) {
		mustKbs(t, append(p.args("reset"), "worker-1", "--yes")...)
		if _, err := cs.CoreV1().Nodes().Get(context.Background(), "worker-1", metav1.GetOptions{}); err == nil {
			t.Fatal("worker-1 is still a node after reset")
		}
		left := onNode(t, "worker-1", "sh", "-c", "ls /etc/kubernetes/kubelet.conf /etc/cni/net.d/* 2>/dev/null; ip link show flannel.1 2>/dev/null; iptables-save | grep -c KUBE- || true")
		if left != "0" {
			t.Fatalf("reset left state behind on worker-1:\n%s", left)
		}
		crashLoopWithoutRuntime(t, p)
		out, _ := mustKbs(t, append(p.args("join"), "worker-1")...)
		if !strings.Contains(out, "worker-1") || !strings.Contains(out, "Ready") {
			t.Fatalf("join did not show worker-1 Ready:\n%s", out)
		}
	})

	t.Run("etcd and certificates on day 2", func(t *testing.T) { testEtcdDay2(t, p) })

	// After the checks that measure restarts and API gaps: the smoke specs'
	// pods load the machine.
	t.Run("conformance smoke", func(t *testing.T) { smoke.Run(t, p.spec, cluster.KnownHosts, p.kubeconfig) })

	// Last: it takes worker-1 down for good.
	t.Run("diag keeps the bundle when a node powers off mid-collection", func(t *testing.T) { poweredOffMidCollection(t, p) })
}

// snapshot is what must not change on a no-op re-run: the main PIDs of the
// node services and every kube-system and flannel container's restarts.
func snapshot(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	var b strings.Builder
	for _, n := range localcluster.Names {
		units := "containerd.service kubelet.service"
		if n == "etcd0" {
			units = "etcd.service"
		}
		fmt.Fprintf(&b, "%s %s\n", n, onNode(t, n, "sh", "-c", "systemctl show -p MainPID --value "+units+" | tr '\\n' ' '"))
	}
	for _, ns := range []string{"kube-system", "kube-flannel"} {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, p := range pods.Items {
			for _, c := range p.Status.ContainerStatuses {
				lines = append(lines, fmt.Sprintf("%s/%s %s restarts=%d", p.Name, c.Name, c.ContainerID, c.RestartCount))
			}
		}
		sort.Strings(lines)
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

func waitPod(t *testing.T, cs kubernetes.Interface, ns, name string, phase corev1.PodPhase) *corev1.Pod {
	t.Helper()
	return workload.WaitPod(t, cs, ns, name, phase)
}
