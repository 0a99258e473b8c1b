package bootstrap

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
