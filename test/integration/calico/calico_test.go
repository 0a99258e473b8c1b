//go:build integration

// Package calico brings the notes' hk8s cluster up with kbs on local nodes
// — one etcd host, one control plane, two workers, calico with VXLAN — and
// checks what calico gives that flannel does not: NetworkPolicy enforced.
// Then `kubectl kbs clusters` over an inventory of it and two clusters that
// are not there, and a worker reset clean of calico's state.
package calico

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/pkg/fleet"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
	"github.com/kubectl-kbs/kbs/test/smoke"
	"github.com/kubectl-kbs/kbs/test/workload"
)

var cluster *nodes.Cluster

func TestMain(m *testing.M) {
	// Five minutes: other packages build and boot their nodes beside these.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cluster, err = localcluster.Boot(ctx, false)
	cancel()
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "booting nodes:", err)
	} else {
		code = m.Run()
	}
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

type paths struct{ dir, spec, stateRoot, state, kubeconfig string }

func (p paths) args(cmd ...string) []string {
	return append(cmd, "-f", p.spec, "--state-dir", p.state, "--known-hosts", cluster.KnownHosts, "--kubeconfig", p.kubeconfig)
}

func kbs(t *testing.T, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, progress, err := kbsrun.Run(ctx, args...)
	if err != nil {
		t.Fatalf("kubectl kbs %s: %v\n%s", strings.Join(args, " "), err, progress)
	}
	return out, progress
}

func onNode(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := cluster.Node(name).Exec(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestCalicoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	p := paths{dir: dir, spec: filepath.Join(dir, "hk8s.yaml"), stateRoot: filepath.Join(dir, "state"),
		state: filepath.Join(dir, "state", "hk8s"), kubeconfig: filepath.Join(dir, "kubeconfig")}
	spec, err := localcluster.CalicoSpec(cluster, "hk8s")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.spec, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("init with calico", func(t *testing.T) {
		_, progress := kbs(t, p.args("init")...)
		for _, want := range []string{"calico v3.31.0, pod network 10.244.0.0/16", "daemonset kube-system/calico-node rolled out on 3 node(s)"} {
			if !strings.Contains(progress, want) {
				t.Errorf("init progress lacks %q:\n%s", want, progress)
			}
		}
	})
	cs := workload.Client(t, p.kubeconfig)

	t.Run("every node Ready, pods from the spec's pool, VXLAN between nodes", func(t *testing.T) {
		nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready != 3 {
			t.Fatalf("%d of %d nodes Ready", ready, len(nodes.Items))
		}
		if link := onNode(t, "worker-0", "ip", "-d", "link", "show", "vxlan.calico"); !strings.Contains(link, "vxlan id") {
			t.Errorf("worker-0 has no calico VXLAN tunnel: %s", link)
		}
	})

	var servers workload.Servers
	t.Run("pods on every worker, pod to pod across nodes, a Service, DNS", func(t *testing.T) {
		servers = workload.Check(t, cs)
		for w, pod := range servers.Pods {
			if !strings.HasPrefix(pod.Status.PodIP, "10.244.") {
				t.Errorf("the pod on %s has %s, outside the spec's podSubnet 10.244.0.0/16", w, pod.Status.PodIP)
			}
		}
	})

	t.Run("NetworkPolicy enforced: default deny, then an allow rule", func(t *testing.T) {
		if servers.Service == nil {
			t.Skip("the workload did not come up")
		}
		workload.Policy(t, cs, servers)
	})

	t.Run("conformance smoke", func(t *testing.T) { smoke.Run(t, p.spec, cluster.KnownHosts, p.kubeconfig) })

	t.Run("clusters: the inventory, live", func(t *testing.T) { testClusters(t, p) })

	t.Run("a worker reset leaves no calico state", func(t *testing.T) {
		kbs(t, append(p.args("reset"), "worker-1", "--yes")...)
		// (The node image has no ipset tool, so calico's ipsets are not
		// counted: reset destroys them where the tool is there.)
		left := onNode(t, "worker-1", "sh", "-c", "ip -o link show | grep -cE 'vxlan.calico|: cali'; ip route show proto 80 | wc -l; iptables-save | grep -c cali-; find /etc/cni/net.d /var/lib/calico -mindepth 1 2>/dev/null | wc -l")
		if strings.Join(strings.Fields(left), " ") != "0 0 0 0" {
			t.Fatalf("reset left calico state on worker-1 (links, routes, iptables rules, files): %q", left)
		}
	})
}

// testClusters surveys an inventory of three: hk8s as built, with one more
// worker in the spec than the cluster has (the notes' ik8s situation);
// "gone", a cluster whose API server and hosts do not answer; and ik8s,
// never built. The command must say each, and exit non-zero.
func testClusters(t *testing.T, p paths) {
	hk8s, err := os.ReadFile(p.spec)
	if err != nil {
		t.Fatal(err)
	}
	// An address on the nodes' bridge that no node holds.
	gw := cluster.Gateway.To4()
	absent := fmt.Sprintf("%d.%d.%d.99", gw[0], gw[1], gw[2])
	withBase := strings.Replace(string(hk8s), "  hosts:\n", "  hosts:\n  - {name: base-0, role: worker, address: "+absent+"}\n", 1)
	gone := strings.NewReplacer("name: hk8s", "name: gone").Replace(string(hk8s))
	for i, n := range cluster.Nodes { // addresses no node holds, one per host
		gone = strings.ReplaceAll(gone, "address: "+n.IP.String()+"}", fmt.Sprintf("address: %d.%d.%d.%d}", gw[0], gw[1], gw[2], 90+i))
	}
	ik8s := strings.NewReplacer("name: hk8s", "name: ik8s").Replace(string(hk8s))
	inventory := filepath.Join(p.dir, "inventory.yaml")
	if err := os.WriteFile(inventory, []byte(withBase+"---\n"+gone+"---\n"+ik8s), 0o600); err != nil {
		t.Fatal(err)
	}
	// gone's context points at an API server nobody runs.
	kc, err := clientcmd.LoadFromFile(p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dead := kc.Clusters["hk8s"].DeepCopy()
	dead.Server = fmt.Sprintf("https://%d.%d.%d.90:6443", gw[0], gw[1], gw[2])
	kc.Clusters["gone"] = dead
	ctxGone := kc.Contexts["hk8s"].DeepCopy()
	ctxGone.Cluster = "gone"
	kc.Contexts["gone"] = ctxGone
	if err := clientcmd.WriteToFile(*kc, p.kubeconfig); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, progress, err := kbsrun.Run(ctx, "clusters", "-f", inventory, "--state-root", p.stateRoot, "--kubeconfig", p.kubeconfig,
		"--known-hosts", cluster.KnownHosts, "--timeout", "8s", "-o", "json")
	if err == nil || !strings.Contains(err.Error(), "hk8s, gone, ik8s") {
		t.Errorf("exit: %v, want the three clusters with problems named", err)
	}
	t.Logf("%s", progress)
	var got struct{ Clusters []fleet.Status }
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Clusters) != 3 {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	h, g, i := got.Clusters[0], got.Clusters[1], got.Clusters[2]
	if h.API != fleet.APIAnswering || h.CNIRunning != "calico 3/3" || h.KubernetesVersion != "v1.37.2" || h.EtcdVersion != "v3.7.3" ||
		h.Description() != "missing worker node: base-0 is in the spec, not in the cluster" || h.Live == nil || *h.Live != (fleet.Members{Etcd: 1, ControlPlanes: 1, Workers: 2}) {
		t.Errorf("hk8s: %+v", h)
	}
	if g.API != fleet.APINotAnswering || !strings.Contains(g.Description(), "master-0 unreachable over SSH") {
		t.Errorf("gone: %+v", g)
	}
	if i.API != fleet.APINotBuilt || !strings.HasPrefix(i.Description(), "not built yet") {
		t.Errorf("ik8s: %+v", i)
	}
	// The table, as the notes have it.
	table, _, _ := kbsrun.Run(ctx, "clusters", "-f", inventory, "--state-root", p.stateRoot, "--kubeconfig", p.kubeconfig,
		"--known-hosts", cluster.KnownHosts, "--timeout", "8s")
	t.Logf("\n%s", table)
	if !strings.Contains(table, "1 etcd, 1 master, 3 worker") || !strings.Contains(table, "missing worker node: base-0") {
		t.Errorf("table:\n%s", table)
	}
}
