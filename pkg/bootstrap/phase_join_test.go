package bootstrap

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

const (
	kubeadmJoinCmd = `^rm -f '/var/log/kbs-kubeadm-join\.log'; \(umask 077; kubeadm join --config /etc/kbs/kubeadm-join\.yaml >'/var/log/kbs-kubeadm-join\.log' 2>&1\) \|\| `
	removeJoinCmd  = `^rm -f /etc/kbs/kubeadm-join\.yaml$`
)

// The join phase lists nodes and creates its token through the API; what
// it then does on each worker (joinOne) runs here for real on the fake,
// with the token and CA hash given: the join configuration written 0600,
// kubeadm join run, the token's file removed whatever happened; a worker
// that already belongs to a cluster is refused untouched.
func TestJoinOne(t *testing.T) {
	const token, caHash = "abcdef.0123456789abcdef", "sha256:00ff"
	for _, tc := range []struct {
		name    string
		answers []answer // on worker-0
		wantErr string
		ran     []string
		// written: the join configuration reached the host.
		written bool
	}{
		{name: "fresh workers", ran: []string{`^test -s /etc/kubernetes/kubelet\.conf && echo joined$`, `^install -d -m 0755 /etc/kbs$`, kubeadmJoinCmd, removeJoinCmd}, written: true},
		{
			name:    "a worker of another cluster",
			answers: []answer{{pattern: `^test -s /etc/kubernetes/kubelet\.conf && echo joined$`, out: "joined\n"}},
			wantErr: "worker-0: worker-0 has /etc/kubernetes/kubelet.conf but is not a node of the cluster: it belongs to another cluster or was deleted; run `kubectl kbs reset -f SPEC worker-0` and join again",
		},
		{
			name:    "kubeadm join fails",
			answers: []answer{{pattern: kubeadmJoinCmd, err: remotetest.Exit(1, "couldn't validate the identity of the API Server")}},
			wantErr: "couldn't validate the identity of the API Server (full output on the host: /var/log/kbs-kubeadm-join.log)",
			ran:     []string{kubeadmJoinCmd, removeJoinCmd},
			written: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadExample(t, "k8s")
			f := newFakeInit(t, spec, false)
			for _, a := range tc.answers {
				f.conn("worker-0").On(a.pattern, a.out, a.err)
			}
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			err := f.onHosts(context.Background(), cluster.RoleWorker, func(ctx context.Context, h *host.Host) error {
				return joinOne(ctx, f, h, token, caHash)
			})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			c := f.conn("worker-0")
			assertRanInOrder(t, c, tc.ran...)
			// worker-1 joins whatever happens on worker-0.
			for _, h := range spec.HostsWithRole(cluster.RoleWorker) {
				if h.Name == "worker-0" && !tc.written {
					if len(c.Writes()) != 0 || c.Ran(`^kubeadm`) {
						t.Errorf("a refused worker was changed: %v", slices.Sorted(maps.Keys(c.Writes())))
					}
					continue
				}
				cfg, err := RenderJoinConfig(spec, h, token, caHash)
				if err != nil {
					t.Fatal(err)
				}
				assertFiles(t, f.conn(h.Name), map[string]fileWant{KubeadmJoinPath: {string(cfg), 0o600}})
			}
		})
	}
}

// The join phase's dry run plans a join on every worker; its token is
// made at join time and no file's content is shown.
func TestJoinPhaseDryRunPlan(t *testing.T) {
	f := newFakeInit(t, loadExample(t, "k8s"), true)
	if err := f.run(context.Background(), "join"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"worker-0", "worker-1"} {
		for _, line := range []string{
			"[plan] " + w + ": would write /etc/kbs/kubeadm-join.yaml (mode 0600): <key material elided>",
			"[plan] " + w + ": would kubeadm join: rm -f '/var/log/kbs-kubeadm-join.log'; (umask 077; kubeadm join --config /etc/kbs/kubeadm-join.yaml ",
			"[plan] " + w + ": would remove /etc/kbs/kubeadm-join.yaml (it holds a token): rm -f /etc/kbs/kubeadm-join.yaml",
		} {
			if !strings.Contains(f.output(), line) {
				t.Errorf("no %q in the plan:\n%s", line, f.output())
			}
		}
	}
	if strings.Contains(f.output(), "master-0") || len(f.ssh.Dials()) != 0 {
		t.Errorf("the plan joins a control plane or dialed %v:\n%s", f.ssh.Dials(), f.output())
	}
}

// The join token is a bootstrap token Secret of kubeadm's format, for
// authentication and signing, in kubeadm's join group, expiring within the
// hour; the run deletes it afterwards.
func TestJoinToken(t *testing.T) {
	cs := fake.NewClientset()
	ctx := context.Background()
	token, err := createJoinToken(ctx, cs, "k8s")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`).FindStringSubmatch(token)
	if m == nil {
		t.Fatalf("token %q", token)
	}
	s, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+m[1], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeBootstrapToken || s.Labels["app.kubernetes.io/managed-by"] != "kbs" {
		t.Errorf("secret %s of type %s, labels %v", s.Name, s.Type, s.Labels)
	}
	for k, want := range map[string]string{
		"token-id": m[1], "token-secret": m[2],
		"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
		"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
	} {
		if s.StringData[k] != want {
			t.Errorf("%s = %q, want %q", k, s.StringData[k], want)
		}
	}
	exp, err := time.Parse(time.RFC3339, s.StringData["expiration"])
	if err != nil || time.Until(exp) > time.Hour || time.Until(exp) < 59*time.Minute {
		t.Errorf("expiration %q (%v), want an hour from now", s.StringData["expiration"], err)
	}
	deleteJoinToken(ctx, cs, token)
	if _, err := cs.CoreV1().Secrets("kube-system").Get(ctx, s.Name, metav1.GetOptions{}); err == nil {
		t.Error("the token outlived the run")
	}
}
