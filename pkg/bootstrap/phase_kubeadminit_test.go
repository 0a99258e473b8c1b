package bootstrap

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// fakeAPI is the little of an API server the control-plane phase needs
// once kubeadm init is done: /readyz, over TLS. It returns the admin.conf
// kubeadm would have written for it and the paths it was asked for.
func fakeAPI(t *testing.T) (adminConf []byte, paths func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "kubernetes"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ca.Issue(pki.CertRequest{CommonName: "kubernetes-admin", Organizations: []string{"kubeadm:cluster-admins"}, Profile: pki.ProfileClient, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubernetes"] = &clientcmdapi.Cluster{Server: srv.URL, CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})}
	cfg.AuthInfos["kubernetes-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: admin.CertPEM, ClientKeyData: admin.KeyPEM}
	cfg.Contexts["kubernetes-admin@kubernetes"] = &clientcmdapi.Context{Cluster: "kubernetes", AuthInfo: "kubernetes-admin"}
	cfg.CurrentContext = "kubernetes-admin@kubernetes"
	adminConf, err = clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return adminConf, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// kubeadmWritesAdminConf makes c's `kubeadm init` leave an admin.conf for
// a fake API server, as the real one would.
func kubeadmWritesAdminConf(t *testing.T, c *remotetest.Conn) (paths func() []string) {
	t.Helper()
	adminConf, paths := fakeAPI(t)
	c.OnFunc(`kubeadm init --config /etc/kbs/kubeadm-init\.yaml --skip-token-print >`, func(string, []byte) ([]byte, error) {
		c.SetFile(AdminConf, adminConf)
		return nil, nil
	})
	return paths
}

const (
	kubeadmDryRunCmd = `^rm -f '/var/log/kbs-kubeadm-dry-run\.log'; \(umask 077; kubeadm init --config /etc/kbs/kubeadm-init\.yaml --dry-run --skip-token-print >'/var/log/kbs-kubeadm-dry-run\.log' 2>&1\) \|\| `
	kubeadmInitCmd   = `^rm -f '/var/log/kbs-kubeadm-init\.log'; \(umask 077; kubeadm init --config /etc/kbs/kubeadm-init\.yaml --skip-token-print >'/var/log/kbs-kubeadm-init\.log' 2>&1\) \|\| `
	removeTokenCmd   = `^rm -f /etc/kbs/kubeadm-init\.yaml$`
)

var tokenRE = regexp.MustCompile(`(?m)^  token: ([a-z0-9]{6}\.[a-z0-9]{16})$`)

// The control-plane phase, for real on the fake up to a fake API server's
// /readyz: kbs's cluster CAs placed, kubeadm init run (its own dry run
// first) from a configuration holding a fresh one-hour token that is
// removed afterwards whatever happened, and admin.conf fetched into the
// state directory and merged into the operator's kubeconfig.
func TestControlPlanePhase(t *testing.T) {
	k8s := func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }
	for _, tc := range []struct {
		name    string
		spec    func(*testing.T) *cluster.Cluster
		answers []answer // on master-0
		// initialized: the host already runs a control plane.
		initialized bool
		wantErr     string
		// ran and notRan are command patterns, in order for ran.
		ran, notRan []string
		// ignores are preflight errors kubeadm init is told to ignore.
		ignores []string
		log     string
	}{
		{
			name: "a fresh host", spec: k8s,
			ran: []string{`^install -d -m 0755 /etc/kubernetes/pki /etc/kbs$`, `^test -s /etc/kubernetes/admin\.conf && kubectl`, kubeadmDryRunCmd, kubeadmInitCmd, removeTokenCmd},
			log: "[control-plane] master-0: kubeadm init done in ",
		},
		{name: "two control planes: kubeadm init on the first only", spec: twoControlPlanes, ran: []string{kubeadmInitCmd}},
		{
			name: "an earlier kubeadm init stopped half-way", spec: k8s,
			answers: []answer{{pattern: `^test -e /etc/kubernetes/manifests/kube-apiserver\.yaml$`}},
			ran:     []string{kubeadmDryRunCmd, kubeadmInitCmd, removeTokenCmd},
			ignores: resumeIgnores,
			log:     "[control-plane] master-0: an earlier kubeadm init stopped half-way; resuming it",
		},
		{
			name: "kubeadm init fails: the token goes anyway", spec: k8s,
			answers: []answer{{pattern: kubeadmInitCmd, err: remotetest.Exit(1, "[ERROR Port-6443]: Port 6443 is in use")}},
			wantErr: "[ERROR Port-6443]: Port 6443 is in use (full output on the host: /var/log/kbs-kubeadm-init.log); after fixing the cause run init again: it resumes",
			ran:     []string{kubeadmDryRunCmd, kubeadmInitCmd, removeTokenCmd},
		},
		{
			name: "kubeadm's dry run fails: no init", spec: k8s,
			answers: []answer{{pattern: kubeadmDryRunCmd, err: remotetest.Exit(1, "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]")}},
			wantErr: "kubeadm init --dry-run: master-0: ",
			ran:     []string{kubeadmDryRunCmd, removeTokenCmd},
			notRan:  []string{kubeadmInitCmd},
		},
		{
			name: "already initialized: admin.conf fetched again", spec: k8s,
			answers:     []answer{{pattern: `^test -s /etc/kubernetes/admin\.conf && kubectl --kubeconfig /etc/kubernetes/admin\.conf `}},
			initialized: true,
			notRan:      []string{`^kubeadm`, `^rm -f`},
			log:         "[control-plane] master-0: already initialized (",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			f := newFakeInit(t, spec, false)
			c := f.conn("master-0")
			for _, a := range tc.answers {
				c.On(a.pattern, a.out, a.err)
			}
			apiPaths := kubeadmWritesAdminConf(t, c)
			if tc.initialized {
				adminConf, paths := fakeAPI(t)
				c.SetFile(AdminConf, adminConf)
				apiPaths = paths
			}
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := f.run(ctx, "control-plane")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q\n%s", err, tc.wantErr, f.output())
			}
			if !slices.Equal(f.dialed(), []string{"master-0"}) {
				t.Errorf("dialed %v, want the first control plane only", f.dialed())
			}
			assertRanInOrder(t, c, tc.ran...)
			for _, p := range tc.notRan {
				if c.Ran(p) {
					t.Errorf("ran %q:\n%s", p, strings.Join(c.Commands(), "\n"))
				}
			}
			if tc.log != "" && !strings.Contains(f.output(), tc.log) {
				t.Errorf("no %q in\n%s", tc.log, f.output())
			}

			// kbs's CAs, as the state directory keeps them.
			files := map[string]fileWant{
				host.KubePKIDir + "/ca.crt":             {stateFile(t, f, "pki", "kubernetes", "ca.crt"), 0o644},
				host.KubePKIDir + "/ca.key":             {stateFile(t, f, "pki", "kubernetes", "ca.key"), 0o600},
				host.KubePKIDir + "/front-proxy-ca.crt": {stateFile(t, f, "pki", "kubernetes", "front-proxy-ca.crt"), 0o644},
				host.KubePKIDir + "/front-proxy-ca.key": {stateFile(t, f, "pki", "kubernetes", "front-proxy-ca.key"), 0o600},
				// The service account key every control plane shares.
				SAKeyPath: {stateFile(t, f, "pki", "kubernetes", "sa.key"), 0o600},
				SAPubPath: {saPub(t, stateFile(t, f, "pki", "kubernetes", "sa.key")), 0o644},
			}
			if !tc.initialized {
				// The configuration kubeadm init ran with: the spec's, with
				// a fresh token. The fake keeps it though kbs removed it.
				got, _ := c.File(KubeadmInitPath)
				m := tokenRE.FindSubmatch(got)
				if m == nil {
					t.Fatalf("no bootstrap token in %s:\n%s", KubeadmInitPath, got)
				}
				want := *spec
				want.Spec.Kubeadm.IgnorePreflightErrors = append(slices.Clone(spec.Spec.Kubeadm.IgnorePreflightErrors), tc.ignores...)
				cfg, err := RenderKubeadmInit(&want, string(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				files[KubeadmInitPath] = fileWant{string(cfg), 0o600}
				if !strings.Contains(string(got), "  ttl: "+JoinTokenTTL+"\n") {
					t.Errorf("the token is not limited to %s:\n%s", JoinTokenTTL, got)
				}
			}
			assertFiles(t, c, files)

			fetched := indexOf(c.Calls(), `^`+regexp.QuoteMeta(AdminConf)+`$`) >= 0
			if fetched != (tc.wantErr == "") {
				t.Errorf("admin.conf fetched: %v", fetched)
			}
			if tc.wantErr != "" {
				return
			}
			// admin.conf is kept in the state directory and merged into
			// the operator's kubeconfig as context k8s; the API answered.
			adminConf, _ := c.File(AdminConf)
			if got := stateFile(t, f, "admin.conf"); got != string(adminConf) {
				t.Errorf("the state's admin.conf is not the host's")
			}
			kc, err := clientcmd.LoadFromFile(f.Kubeconfig)
			if err != nil {
				t.Fatal(err)
			}
			admin, _ := clientcmd.Load(adminConf)
			if ctx := kc.Contexts["k8s"]; ctx == nil || ctx.Cluster != "k8s" || ctx.AuthInfo != "k8s-admin" || kc.CurrentContext != "k8s" ||
				kc.Clusters["k8s"] == nil || kc.Clusters["k8s"].Server != admin.Clusters["kubernetes"].Server {
				t.Errorf("kubeconfig after the merge: %+v", kc)
			}
			if !slices.Contains(apiPaths(), "/readyz") {
				t.Errorf("the API server was asked %v, not /readyz", apiPaths())
			}
		})
	}
}

// The dry-run plan of control-plane runs kubeadm's dry run before kubeadm
// init, prints no key and no token, and removes the token file after.
func TestControlPlanePhaseDryRunPlan(t *testing.T) {
	f := newFakeInit(t, loadExample(t, "k8s"), true)
	if err := f.run(context.Background(), "control-plane"); err != nil {
		t.Fatal(err)
	}
	plan := f.output()
	var order []int
	for _, want := range []string{
		"[plan] master-0: would write /etc/kubernetes/pki/ca.key (mode 0600): <key material elided>",
		"[plan] master-0: would write /etc/kbs/kubeadm-init.yaml (mode 0600): <key material elided>",
		"[plan] master-0: would kubeadm init --dry-run: ",
		"[plan] master-0: would kubeadm init: ",
		"[plan] master-0: would remove /etc/kbs/kubeadm-init.yaml (it holds a token): rm -f /etc/kbs/kubeadm-init.yaml",
		`[plan] master-0: would fetch /etc/kubernetes/admin.conf into ` + f.stateDir + `/admin.conf and merge it into ` + f.Kubeconfig + ` as context "k8s"`,
	} {
		i := strings.Index(plan, want)
		if i < 0 || len(order) > 0 && i < order[len(order)-1] {
			t.Errorf("missing or out of order: %q\nplan:\n%s", want, plan)
		}
		order = append(order, i)
	}
	for _, secret := range []string{"PRIVATE KEY", "token:"} {
		if strings.Contains(plan, secret) {
			t.Errorf("the plan shows %q", secret)
		}
	}
}

func saPub(t *testing.T, key string) string {
	t.Helper()
	pub, err := pki.ServiceAccountPublicKey([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return string(pub)
}
