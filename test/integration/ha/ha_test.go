//go:build integration

package ha

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/diag"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodecheck"
	"github.com/kubectl-kbs/kbs/test/smoke"
)

var controlPlanes = []string{"master-0", "master-1"}

// survived counts the faults injected and survived (the issue asks for
// the count): power cuts and interruptions.
var survived int

func TestHAControlPlanes(t *testing.T) {
	p := newPaths(t)
	t.Run("a VIP another machine holds is refused before init", func(t *testing.T) {
		vip := localcluster.VIP(cluster) + "/32"
		onNode(t, "worker-0", "ip", "addr", "add", vip, "dev", "host0")
		defer onNode(t, "worker-0", "ip", "addr", "del", vip, "dev", "host0")
		_, progress, err := p.run("init", "phase", "preflight")
		if err == nil || !strings.Contains(progress, "is already in use: the machine with MAC") || !strings.Contains(err.Error(), "master-0/vip-free") {
			t.Fatalf("preflight with the VIP taken: %v\n%s", err, progress)
		}
	})
	_, progress := p.kbs(t, "init")
	for _, want := range []string{"[load-balancer] ", "holds the VIP " + localcluster.VIP(cluster), "[control-plane-join] master-1: API server ready at "} {
		if !strings.Contains(progress, want) {
			t.Errorf("init's progress lacks %q", want)
		}
	}
	cfg := p.restConfig(t)
	cs := clientFor(t, cfg)
	endpoint := localcluster.VIP(cluster) + ":8443"

	t.Run("every node Ready, the API served through the VIP", func(t *testing.T) {
		if cfg.Host != "https://"+endpoint {
			t.Errorf("the kubeconfig's server is %s, want the endpoint https://%s", cfg.Host, endpoint)
		}
		waitReadyNodes(t, cs, "master-0,master-1,worker-0", time.Minute)
		if h := vipHolders(t, controlPlanes...); len(h) != 1 {
			t.Fatalf("VIP held by %v, want exactly one control plane", h)
		}
	})

	t.Run("every control plane serves with the same keys and every etcd member", func(t *testing.T) {
		var saKeys []string
		for _, cp := range controlPlanes {
			if err := readyz(context.Background(), cfg, cluster.Node(cp).IP.String()+":6443"); err != nil {
				t.Errorf("%s's API server: %v", cp, err)
			}
			saKeys = append(saKeys, fmt.Sprintf("%x", sha256.Sum256([]byte(onNode(t, cp, "cat", "/etc/kubernetes/pki/sa.key")))))
			manifest := onNode(t, cp, "cat", "/etc/kubernetes/manifests/kube-apiserver.yaml")
			for _, e := range []string{"etcd0", "etcd1", "etcd2"} {
				if !strings.Contains(manifest, "https://"+cluster.Node(e).IP.String()+":2379") {
					t.Errorf("%s's API server does not list %s in --etcd-servers", cp, e)
				}
			}
			if mode := onNode(t, cp, "stat", "-c", "%a", "/etc/keepalived/keepalived.conf"); mode != "600" {
				t.Errorf("%s: keepalived.conf (it holds the VRRP password) has mode %s", cp, mode)
			}
		}
		if saKeys[0] != saKeys[1] {
			t.Error("the control planes sign service account tokens with different keys")
		}
	})

	t.Run("inspect and diag see every control plane and the endpoint", func(t *testing.T) {
		inspectAndDiag(t, p)
	})

	var down []string
	var survivor string
	t.Run("the VIP holder loses power, an etcd member too: the API answers and the cluster writes", func(t *testing.T) {
		down, survivor = failover(t, cfg, cs, endpoint)
	})

	t.Run("the powered-off hosts come back by themselves", func(t *testing.T) {
		comeBack(t, p, cfg, cs, down, survivor)
	})

	t.Run("a worker that loses power during its join joins once it is back", func(t *testing.T) {
		powerOffDuringJoin(t, p, cs)
	})

	defer func() { t.Logf("faults injected and survived: %d", survived) }()

	t.Run("a control plane reset and joined again", func(t *testing.T) {
		holder := vipHolders(t, controlPlanes...)
		if len(holder) != 1 {
			t.Fatalf("VIP held by %v", holder)
		}
		other := controlPlanes[0]
		if holder[0] == other {
			other = controlPlanes[1]
		}
		// The VIP's holder: the hardest one to take out.
		p.kbs(t, "reset", holder[0], "--yes")
		if _, err := cs.CoreV1().Nodes().Get(context.Background(), holder[0], metav1.GetOptions{}); err == nil {
			t.Errorf("%s is still a node", holder[0])
		}
		if h := vipHolders(t, controlPlanes...); !slices.Equal(h, []string{other}) {
			t.Errorf("after the reset the VIP is held by %v, want %s", h, other)
		}
		if cfgText := onNode(t, other, "cat", "/etc/haproxy/haproxy.cfg"); strings.Contains(cfgText, "server "+holder[0]+" ") {
			t.Errorf("%s's haproxy still forwards to the reset %s", other, holder[0])
		}
		if err := readyz(context.Background(), cfg, endpoint); err != nil {
			t.Fatalf("the endpoint after the reset: %v", err)
		}
		// The join is interrupted inside kubeadm join --control-plane; the
		// re-run resumes from the journal, retries that host, and leaves the
		// other control plane alone.
		manifest := "stat -c %Y /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/pki/apiserver.crt"
		otherBefore := onNode(t, other, "sh", "-c", manifest)
		// Interrupted once kubeadm has written the API server's manifest:
		// half-way, with the kubelet still to start and bootstrap.
		progress, err := p.runInterrupted("[control-plane-join] ", func(cancel func()) {
			_ = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
				_, err := cluster.Node(holder[0]).Exec(ctx, "test", "-e", "/etc/kubernetes/manifests/kube-apiserver.yaml")
				return err == nil, nil
			})
			cancel()
		}, "join", holder[0])
		if err == nil {
			t.Fatalf("the interrupted join succeeded:\n%s", progress)
		}
		t.Logf("join interrupted: %v; left on %s: %s", err, holder[0], onNode(t, holder[0], "sh", "-c", "ls /etc/kubernetes/kubelet.conf /etc/kubernetes/manifests 2>&1 | tr '\\n' ' '"))
		survived++
		out, progress := p.kbs(t, "join", holder[0])
		if !strings.Contains(out, holder[0]) {
			t.Errorf("join did not show %s:\n%s", holder[0], out)
		}
		for _, want := range []string{"[runtime] already done (journal)", "[load-balancer] already done (journal)", "an earlier join stopped half-way", "kubeadm join --control-plane done"} {
			if !strings.Contains(progress, want) {
				t.Errorf("the resumed join lacks %q:\n%s", want, progress)
			}
		}
		if after := onNode(t, other, "sh", "-c", manifest); after != otherBefore {
			t.Errorf("joining %s touched %s's API server: %s, then %s", holder[0], other, otherBefore, after)
		}
		waitReadyNodes(t, cs, "master-0,master-1,worker-0", 2*time.Minute)
		if cfgText := onNode(t, other, "cat", "/etc/haproxy/haproxy.cfg"); !strings.Contains(cfgText, "server "+holder[0]+" ") {
			t.Errorf("%s's haproxy does not forward to the joined %s again", other, holder[0])
		}
	})

	t.Run("upgraded to the next release, the API answering through the VIP throughout", func(t *testing.T) {
		upgradeHA(t, p, cfg, cs, endpoint)
	})

	// After an init, five joins, a rejoin and an upgrade.
	t.Run("no bootstrap token is left valid or in a file on any node", func(t *testing.T) {
		nodecheck.NoTokenLeft(t, cs, cluster, "etcd0", "etcd1", "etcd2", "master-0", "master-1", "worker-0")
	})

	// The HA shape after all of it, judged by the suite of its release
	// (e2e.test is the current one): every request through the VIP.
	t.Run("conformance smoke", func(t *testing.T) { smoke.Run(t, p.spec, cluster.KnownHosts, p.kubeconfig) })
}

// inspectAndDiag checks that inspect lists every control plane's static
// pods without drift, and that a diag bundle holds each control plane's
// load-balancer state with one VIP holder and no finding about it.
func inspectAndDiag(t *testing.T, p paths) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, progress, err := kbsrun.Run(ctx, "inspect", "static-pods", "--kubeconfig", p.kubeconfig, "-o", "json")
	if err != nil {
		t.Fatalf("inspect static-pods: %v\n%s", err, progress)
	}
	for _, cp := range controlPlanes {
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			if !strings.Contains(out, c+"-"+cp) {
				t.Errorf("inspect static-pods lacks %s-%s", c, cp)
			}
		}
	}
	if out, progress, err := kbsrun.Run(ctx, "inspect", "drift", "--kubeconfig", p.kubeconfig); err != nil || !strings.Contains(out, "no drift: 6 control-plane pods") {
		t.Errorf("inspect drift: %v\n%s%s", err, out, progress)
	}
	bundle := filepath.Join(t.TempDir(), "ha.tar.gz")
	if _, progress, err := kbsrun.Run(ctx, "diag", "cluster", "-f", p.spec, "--known-hosts", cluster.KnownHosts, "--kubeconfig", p.kubeconfig, "--bundle", bundle); err != nil {
		t.Fatalf("diag cluster: %v\n%s", err, progress)
	}
	password, err := os.ReadFile(filepath.Join(p.state, "vrrp-password"))
	if err != nil || len(strings.TrimSpace(string(password))) != 8 {
		t.Fatalf("the VRRP password in the state directory: %q, %v", password, err)
	}
	holders := 0
	err = diag.WalkBundle(bundle, func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		if strings.Contains(string(b), strings.TrimSpace(string(password))) {
			t.Errorf("the bundle's %s holds keepalived's VRRP password", name)
		}
		if !strings.HasSuffix(name, "/loadbalancer.txt") {
			return err
		}
		if strings.Contains(string(b), "vip "+localcluster.VIP(cluster)+" held") {
			holders++
		}
		if !strings.Contains(string(b), "unit haproxy active") || strings.Count(string(b), " up\n") != 2 {
			t.Errorf("%s: haproxy or its two backends not up:\n%s", name, b)
		}
		return err
	})
	if err != nil || holders != 1 {
		t.Errorf("the bundle shows %d VIP holders (%v), want 1", holders, err)
	}
	a, err := diag.Analyze(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Findings {
		if strings.HasPrefix(f.ID, "vip-") || strings.HasPrefix(f.ID, "lb-") {
			t.Errorf("finding on a healthy endpoint: %s on %s: %v", f.ID, f.Node, f.Evidence)
		}
	}
}
