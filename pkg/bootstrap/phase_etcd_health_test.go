package bootstrap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// fakeEtcdMember serves etcd's /health over mutual TLS with the member's
// server certificate from p, requiring a client certificate from its CA,
// and records the client certificates' names.
type fakeEtcdMember struct {
	mu      sync.Mutex
	clients []string
	body    string
	status  int
}

func (m *fakeEtcdMember) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		m.clients = append(m.clients, r.TLS.PeerCertificates[0].Subject.CommonName)
	}
	if r.URL.Path != "/health" {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(m.status)
	io.WriteString(w, m.body)
}

func memberTLS(t *testing.T, f *fakeInit, member string) *tls.Config {
	t.Helper()
	p, _, err := loadEtcdPKI(f)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(p.Server[member].CertPEM, p.Server[member].KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
}

// etcdHealth asks a member's /health with the API server's client
// certificate and trusts only the etcd CA.
func TestEtcdHealth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		foreign bool // the server's certificate is not from the etcd CA
		wantErr string
	}{
		{name: "healthy", status: 200, body: `{"health":"true","reason":""}`},
		{name: "no leader", status: 503, body: `{"health":"false","reason":"RAFT NO LEADER"}`, wantErr: `HTTP 503 {"health":"false","reason":"RAFT NO LEADER"}`},
		{name: "answers, but unhealthy", status: 200, body: `{"health":"false"}`, wantErr: `HTTP 200 {"health":"false"}`},
		{name: "a server kbs's CA did not sign", status: 200, body: `{"health":"true"}`, foreign: true, wantErr: "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeInit(t, loadExample(t, "k8s"), false)
			member := &fakeEtcdMember{status: tc.status, body: tc.body}
			srv := httptest.NewUnstartedServer(member)
			// The handshake kbs refuses is expected: not worth a log line.
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			if !tc.foreign {
				srv.TLS = memberTLS(t, f, "etcd-0")
			}
			srv.StartTLS()
			defer srv.Close()
			p, _, err := loadEtcdPKI(f)
			if err != nil {
				t.Fatal(err)
			}
			client, err := etcdHTTPClient(p)
			if err != nil {
				t.Fatal(err)
			}
			err = etcdHealth(context.Background(), client, srv.URL)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if !tc.foreign && !slices.Equal(member.clients, []string{"kube-apiserver-etcd-client"}) {
				t.Errorf("the member saw clients %v", member.clients)
			}
		})
	}
}

// The whole etcd phase, for real: the member installed, then the phase
// waits until it answers /health over mutual TLS. The fake member listens
// where the phase looks, on etcd's client port of the host's address: a
// loopback address of its own (all of 127/8 is local on Linux), so a real
// etcd on this machine's 127.0.0.1:2379 is no obstacle.
func TestEtcdPhaseWaitsUntilHealthy(t *testing.T) {
	spec := loadExample(t, "k8s")
	addr := fmt.Sprintf("127.%d.%d.%d", 1+os.Getpid()%250, os.Getpid()/250%250, 2+os.Getpid()%200)
	for i, h := range spec.Spec.Hosts {
		if h.Role == cluster.RoleEtcd {
			spec.Spec.Hosts[i].Address = addr
		}
	}
	f := newFakeInit(t, spec, false)
	f.ssh.Configure(freshNode(spec, nodeOptions{}))
	ln, err := tls.Listen("tcp", addr+":2379", memberTLS(t, f, "etcd-0"))
	if err != nil {
		t.Fatalf("the fake etcd member needs %s:2379: %v", addr, err)
	}
	member := &fakeEtcdMember{status: 200, body: `{"health":"true","reason":""}`}
	srv := &http.Server{Handler: member, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.run(ctx, "etcd"); err != nil {
		t.Fatalf("%v\n%s", err, f.output())
	}
	if !f.conn("etcd-0").Ran(restartEtcdCmd) || !strings.Contains(f.output(), "[etcd] https://"+addr+":2379 healthy over mutual TLS") {
		t.Errorf("ran %q, log:\n%s", f.conn("etcd-0").Commands(), f.output())
	}
	member.mu.Lock()
	defer member.mu.Unlock()
	if len(member.clients) == 0 || member.clients[0] != "kube-apiserver-etcd-client" {
		t.Errorf("the member saw clients %v", member.clients)
	}
}

// A dry run of the etcd phase plans the install and waits for nothing.
func TestEtcdPhaseDryRunPlan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   func(*testing.T) *cluster.Cluster
		upload bool
	}{
		{"etcd installed on the host", func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }, false},
		{"uploaded from spec.etcd.binary", etcdBinarySpec, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			f := newFakeInit(t, spec, true)
			if err := f.run(context.Background(), "etcd"); err != nil {
				t.Fatal(err)
			}
			plan := f.output()
			upload := strings.Contains(plan, "[plan] etcd-0: would upload "+spec.Spec.Etcd.Binary+" to /usr/local/bin/etcd (mode 0755, sha256 ")
			if upload != tc.upload || strings.Contains(plan, "healthy over mutual TLS") {
				t.Errorf("upload planned: %v, want %v; plan:\n%s", upload, tc.upload, plan)
			}
			if !strings.Contains(plan, "[plan] etcd-0: would restart etcd: systemctl daemon-reload && systemctl enable --quiet etcd.service && systemctl restart --no-block etcd.service") {
				t.Errorf("plan:\n%s", plan)
			}
		})
	}
}
