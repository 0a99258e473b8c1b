package bootstrap

import (
	"context"
	"encoding/base64"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
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
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

const (
	kubeadmJoinCmd  = `^rm -f '/var/log/kbs-kubeadm-join\.log'; \(umask 077; kubeadm join --config /etc/kbs/kubeadm-join\.yaml >'/var/log/kbs-kubeadm-join\.log' 2>&1\) \|\| `
	removeJoinCmd   = `^rm -f /etc/kbs/kubeadm-join\.yaml$`
	trustCmd        = `^for f in '/etc/kubernetes/pki/ca\.crt' '/etc/kubernetes/bootstrap-kubelet\.conf' '/etc/kubernetes/kubelet\.conf'; do `
	kubeadmResetCmd = `kubeadm reset -f --cri-socket `
)

// The join phase lists nodes and creates its token through the API; what
// it then does on each worker (joinOne) runs here for real on the fake,
// with the token and CA given: the join configuration written 0600,
// kubeadm join run, the token's file removed whatever happened. What a
// join that stopped half-way left is undone with kubeadm reset when it
// trusts this cluster's CA; a worker whose files trust another CA, or none,
// is refused untouched. The query that reads them never prints a token.
func TestJoinOne(t *testing.T) {
	const token = "abcdef.0123456789abcdef"
	other, err := pki.NewCA(pki.CAOptions{CommonName: "another-cluster"})
	if err != nil {
		t.Fatal(err)
	}
	// kubeconfig is what the trust query prints of a kubeconfig whose
	// certificate-authority-data is pem.
	kubeconfig := func(path string, pem []byte) string {
		return "== " + path + "\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(pem) + "\n"
	}
	for _, tc := range []struct {
		name string
		// left is what the trust query prints, given the cluster's CA.
		left    func(ca []byte) string
		files   map[string][]byte // on worker-0, besides
		answers []answer          // on worker-0
		wantErr string
		ran     []string
		// written: the join configuration reached the host.
		written bool
		log     string
	}{
		{name: "fresh workers", ran: []string{trustCmd, `^install -d -m 0755 /etc/kbs$`, kubeadmJoinCmd, removeJoinCmd}, written: true},
		{
			name: "a join that stopped half-way: ca.crt and bootstrap-kubelet.conf of this cluster",
			left: func(ca []byte) string {
				return "== /etc/kubernetes/pki/ca.crt\n" + string(ca) + kubeconfig("/etc/kubernetes/bootstrap-kubelet.conf", ca)
			},
			ran:     []string{trustCmd, kubeadmResetCmd, kubeadmJoinCmd, removeJoinCmd},
			written: true,
			log:     "[join] worker-0: an earlier join stopped half-way (left /etc/kubernetes/pki/ca.crt, /etc/kubernetes/bootstrap-kubelet.conf, trusting this cluster's CA): kubeadm reset there",
		},
		{
			name: "a kubelet.conf naming its CA by path",
			left: func([]byte) string {
				return "== /etc/kubernetes/kubelet.conf\n    certificate-authority: /var/lib/kbs-test/ca.pem\n"
			},
			files:   map[string][]byte{"/var/lib/kbs-test/ca.pem": nil}, // the cluster's CA
			ran:     []string{trustCmd, kubeadmResetCmd, kubeadmJoinCmd},
			written: true,
		},
		{
			name: "a worker of another cluster",
			left: func(ca []byte) string {
				return "== /etc/kubernetes/pki/ca.crt\n" + string(ca) + kubeconfig("/etc/kubernetes/kubelet.conf", other.CertPEM)
			},
			wantErr: "worker-0 has /etc/kubernetes/kubelet.conf from another cluster or an unknown one (it trusts the CA \"another-cluster\", not this cluster's): run `kubectl kbs reset -f SPEC worker-0` to wipe it, then join again",
		},
		{
			name: "a kubeconfig cut short beside a ca.crt of this cluster",
			left: func(ca []byte) string {
				return "== /etc/kubernetes/pki/ca.crt\n" + string(ca) + "== /etc/kubernetes/bootstrap-kubelet.conf\n"
			},
			ran:     []string{trustCmd, kubeadmResetCmd, kubeadmJoinCmd},
			written: true,
		},
		{
			name:    "a kubeconfig that names no CA",
			left:    func([]byte) string { return "== /etc/kubernetes/bootstrap-kubelet.conf\n" },
			wantErr: "worker-0 has /etc/kubernetes/bootstrap-kubelet.conf from another cluster or an unknown one (it names no certificate authority)",
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
			ca, _, err := f.State().KubernetesCA()
			if err != nil {
				t.Fatal(err)
			}
			// The API: the Node a half-way join may have registered is
			// deleted (this one answers 404 to it).
			adminConf, _ := fakeAPI(t)
			if err := f.State().SaveAdminKubeconfig(adminConf); err != nil {
				t.Fatal(err)
			}
			c := f.conn("worker-0")
			if tc.left != nil {
				c.On(trustCmd, tc.left(ca.CertPEM), nil)
			}
			for path, b := range tc.files {
				if b == nil {
					b = ca.CertPEM
				}
				c.SetFile(path, b)
			}
			for _, a := range tc.answers {
				c.On(a.pattern, a.out, a.err)
			}
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			err = f.onHosts(context.Background(), cluster.RoleWorker, func(ctx context.Context, h *host.Host) error {
				return joinOne(ctx, f, h, token, ca.Cert)
			})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			assertRanInOrder(t, c, tc.ran...)
			if tc.log != "" && !strings.Contains(f.output(), tc.log) {
				t.Errorf("no %q in\n%s", tc.log, f.output())
			}
			// worker-1 joins whatever happens on worker-0.
			for _, h := range spec.HostsWithRole(cluster.RoleWorker) {
				if h.Name == "worker-0" && !tc.written {
					if len(c.Writes()) != 0 || c.Ran(`^kubeadm`) || c.Ran(kubeadmResetCmd) {
						t.Errorf("a refused worker was changed: %v\n%s", slices.Sorted(maps.Keys(c.Writes())), strings.Join(c.Commands(), "\n"))
					}
					continue
				}
				if h.Name != "worker-0" && f.conn(h.Name).Ran(kubeadmResetCmd) {
					t.Errorf("%s was reset", h.Name)
				}
				cfg, err := RenderJoinConfig(spec, h, token, pki.SPKIHash(ca.Cert))
				if err != nil {
					t.Fatal(err)
				}
				assertFiles(t, f.conn(h.Name), map[string]fileWant{KubeadmJoinPath: {string(cfg), 0o600}})
			}
		})
	}
}

// The query that reads what a half-way join left prints certificates and
// the kubeconfigs' certificate-authority lines, never a token or key: run
// here by sh on real files.
func TestTrustScriptPrintsNoSecret(t *testing.T) {
	dir := t.TempDir()
	crt := filepath.Join(dir, "ca.crt")
	conf := filepath.Join(dir, "bootstrap-kubelet.conf")
	missing := filepath.Join(dir, "kubelet.conf")
	if err := os.WriteFile(crt, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kc := "clusters:\n- cluster:\n    certificate-authority-data: QUJD\n    server: https://10.0.0.1:6443\nusers:\n- user:\n    token: abcdef.0123456789abcdef\n    client-key-data: S0VZ\n"
	if err := os.WriteFile(conf, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", trustScript([]string{crt, conf, missing})).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "== " + crt + "\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n== " + conf + "\n    certificate-authority-data: QUJD\n"
	if string(out) != want {
		t.Errorf("printed\n%s\nwant\n%s", out, want)
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
