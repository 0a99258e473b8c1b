package bootstrap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// etcdBinarySpec is the k8s example with spec.etcd.binary pointing at a
// local file (etcdctl beside it, no etcdutl), as an air-gapped spec has it:
// the example itself names none, and a path into this machine would make
// the test depend on it.
func etcdBinarySpec(t *testing.T) *cluster.Cluster {
	t.Helper()
	c := loadExample(t, "k8s")
	dir := t.TempDir()
	for _, name := range []string{"etcd", "etcdctl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho fake "+name+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.Spec.Etcd.Binary = filepath.Join(dir, "etcd")
	return c
}

// etcdHostFiles are the files an etcd member of spec gets on a first
// install: its certificates from the state directory, the unit, the
// initial-cluster environment, and the binaries when the spec uploads them.
func etcdHostFiles(t *testing.T, f *fakeInit, h cluster.Host) map[string]fileWant {
	t.Helper()
	spec := f.Cluster()
	p, issued, err := loadEtcdPKI(f)
	if err != nil || len(issued) != 0 {
		t.Fatalf("the state's etcd PKI: issued %v now, %v", issued, err)
	}
	unit, err := etcdhost.RenderUnit(spec, h)
	if err != nil {
		t.Fatal(err)
	}
	pkiFile := func(name string) string { return etcdhost.PKIDir + "/" + name }
	files := map[string]fileWant{
		pkiFile("ca.crt"):       {string(p.CA.CertPEM), 0o644},
		pkiFile("server.crt"):   {string(p.Server[h.Name].CertPEM), 0o644},
		pkiFile("server.key"):   {string(p.Server[h.Name].KeyPEM), 0o600},
		pkiFile("peer.crt"):     {string(p.Peer[h.Name].CertPEM), 0o644},
		pkiFile("peer.key"):     {string(p.Peer[h.Name].KeyPEM), 0o600},
		etcdhost.UnitPath:       {string(unit), 0o644},
		etcdhost.InitialEnvPath: {string(etcdhost.RenderInitialEnv(etcdhost.SpecInitialMembers(spec), "new", "kbs-"+spec.Metadata.Name)), 0o644},
	}
	if b := spec.Spec.Etcd.Binary; b != "" {
		for local, remotePath := range map[string]string{b: etcdhost.Binary, filepath.Join(filepath.Dir(b), "etcdctl"): etcdhost.Ctl} {
			data, err := os.ReadFile(local)
			if err != nil {
				t.Fatal(err)
			}
			files[remotePath] = fileWant{string(data), 0o755}
		}
	}
	return files
}

const (
	restartEtcdCmd = `^systemctl daemon-reload && systemctl enable --quiet etcd\.service && systemctl restart --no-block etcd\.service$`
	startEtcdCmd   = `^systemctl enable --quiet etcd\.service && systemctl start --no-block etcd\.service$`
)

// The etcd phase's work on each etcd host, for real on the fake: its
// binaries checked or uploaded, its certificates (keys 0600), unit and
// initial membership written, and etcd (re)started. The wait for a healthy
// etcd that ends the phase is TestEtcdPhaseWaitsUntilHealthy's.
func TestEtcdPhaseInstall(t *testing.T) {
	k8s := func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }
	twoMembers := func(t *testing.T) *cluster.Cluster {
		return withHosts(loadExample(t, "k8s"), cluster.Host{Name: "etcd-1", Role: cluster.RoleEtcd, Address: "10.10.0.11"})
	}
	for _, tc := range []struct {
		name    string
		spec    func(*testing.T) *cluster.Cluster
		answers []answer // on etcd-0
		// skip are files the member does not get.
		skip    []string
		wantErr string
		check   func(*testing.T, *fakeInit)
	}{
		{
			name: "etcd installed on the host (examples/k8s.yaml)", spec: k8s,
			check: func(t *testing.T, f *fakeInit) {
				if !f.conn("etcd-0").Ran(`^/usr/local/bin/etcd --version$`) {
					t.Error("the installed etcd's version was not checked")
				}
			},
		},
		{
			name: "uploaded from spec.etcd.binary", spec: etcdBinarySpec,
			check: func(t *testing.T, f *fakeInit) {
				if c := f.conn("etcd-0"); c.Ran(`--version`) || c.Ran(`etcdutl`) {
					t.Errorf("ran %q", c.Commands())
				}
			},
		},
		{
			name: "two members, each with its own certificates", spec: twoMembers,
			check: func(t *testing.T, f *fakeInit) {
				for _, name := range []string{"etcd-0", "etcd-1"} {
					env, _ := f.conn(name).File(etcdhost.InitialEnvPath)
					if !strings.Contains(string(env), "ETCD_INITIAL_CLUSTER=etcd-0=https://10.10.0.10:2380,etcd-1=https://10.10.0.11:2380\n") {
						t.Errorf("%s starts with\n%s", name, env)
					}
				}
			},
		},
		{
			name: "a member with data keeps how it joined", spec: k8s,
			answers: []answer{{pattern: `^test -d '/var/lib/etcd'/member && test -f /etc/etcd/initial-cluster\.env$`}},
			skip:    []string{etcdhost.InitialEnvPath},
		},
		{
			name: "no etcd on the host and none in the spec", spec: k8s,
			answers: []answer{{pattern: `^/usr/local/bin/etcd --version$`, err: remotetest.Exit(127, "etcd: not found")}},
			wantErr: "etcd v3.7.3 is not installed at /usr/local/bin/etcd, and kbs does not download releases yet",
		},
		{
			name: "another etcd version on the host", spec: k8s,
			answers: []answer{{pattern: `^/usr/local/bin/etcd --version$`, out: "etcd Version: 3.5.17\n"}},
			wantErr: "etcd v3.7.3 is not installed at /usr/local/bin/etcd",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			f := newFakeInit(t, spec, false)
			for _, a := range tc.answers {
				f.conn("etcd-0").On(a.pattern, a.out, a.err)
			}
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			err := etcdInstallOnly(context.Background(), f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if c := f.conn("etcd-0"); len(c.Writes()) != 0 || c.Ran(`systemctl`) {
					t.Errorf("a failed install wrote %v or ran systemctl", slices.Sorted(maps.Keys(c.Writes())))
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, f.output())
			}
			etcdHosts := spec.HostsWithRole(cluster.RoleEtcd)
			if !slices.Equal(f.dialed(), names(etcdHosts)) {
				t.Errorf("dialed %v, want the etcd hosts", f.dialed())
			}
			for _, h := range etcdHosts {
				files := etcdHostFiles(t, f, h)
				for _, s := range tc.skip {
					delete(files, s)
				}
				c := f.conn(h.Name)
				assertFiles(t, c, files)
				assertRanInOrder(t, c, `^install -d -m 0700 '/etc/etcd/pki' '/var/lib/etcd'$`, restartEtcdCmd)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

// A re-run of the etcd phase on a member that holds the same files writes
// nothing and only makes sure etcd runs; a file that drifted is put back
// and etcd restarted for it.
func TestEtcdPhaseReinstall(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   func(*testing.T) *cluster.Cluster
		drift  func(*remotetest.Conn)
		writes []string // what the re-run writes; none: etcd is only started
	}{
		{name: "unchanged", spec: func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }},
		{name: "unchanged, binaries uploaded", spec: etcdBinarySpec},
		{
			name:   "a server certificate changed on the host",
			spec:   func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") },
			drift:  func(c *remotetest.Conn) { c.SetFile(etcdhost.PKIDir+"/server.crt", []byte("someone else's")) },
			writes: []string{etcdhost.PKIDir + "/server.crt"},
		},
		{
			name: "a key made world-readable",
			spec: func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") },
			drift: func(c *remotetest.Conn) {
				key, _ := c.Stat(etcdhost.PKIDir + "/peer.key")
				key.Mode = 0o644
				c.SetFileEntry(etcdhost.PKIDir+"/peer.key", key)
			},
			writes: []string{etcdhost.PKIDir + "/peer.key"},
		},
		{
			name:   "the uploaded etcd replaced on the host",
			spec:   etcdBinarySpec,
			drift:  func(c *remotetest.Conn) { c.SetFile(etcdhost.Binary, []byte("another build")) },
			writes: []string{etcdhost.Binary},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spec := tc.spec(t)
			f := newFakeInit(t, spec, false)
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			if err := etcdInstallOnly(ctx, f); err != nil {
				t.Fatal(err)
			}
			c := f.conn("etcd-0")
			c.Reset()
			f.out.Reset()
			if tc.drift != nil {
				tc.drift(c)
			}
			if err := etcdInstallOnly(ctx, f); err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(c.Writes())); !slices.Equal(got, tc.writes) {
				t.Errorf("the re-run wrote %v, want %v", got, tc.writes)
			}
			if len(tc.writes) == 0 {
				if c.Ran(`restart`) || c.Ran(`daemon-reload`) || !c.Ran(startEtcdCmd) {
					t.Errorf("an unchanged member is only started, ran:\n%s", strings.Join(c.Commands(), "\n"))
				}
				if !strings.Contains(f.output(), "[etcd] etcd-0: unchanged; making sure etcd.service is enabled and started") {
					t.Errorf("log:\n%s", f.output())
				}
				return
			}
			if !c.Ran(restartEtcdCmd) {
				t.Errorf("a changed member is not restarted, ran:\n%s", strings.Join(c.Commands(), "\n"))
			}
			if !strings.Contains(f.output(), "[etcd] etcd-0: changed "+strings.Join(tc.writes, ", ")+"; (re)starting etcd.service") {
				t.Errorf("log:\n%s", f.output())
			}
			// What was put back is what the state directory holds.
			want := etcdHostFiles(t, f, spec.HostsWithRole(cluster.RoleEtcd)[0])
			for _, p := range tc.writes {
				if got, _ := c.Stat(p); string(got.Data) != want[p].data || got.Mode != want[p].mode {
					t.Errorf("%s put back as %04o %q", p, got.Mode, got.Data)
				}
			}
		})
	}
}

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
