package bootstrap

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// etcdPKIFiles are the files the etcd-pki phase keeps for spec's etcd.
func etcdPKIFiles(spec *cluster.Cluster) []string {
	names := []string{"ca", "apiserver-etcd-client"}
	for _, h := range spec.HostsWithRole(cluster.RoleEtcd) {
		names = append(names, h.Name+"-server", h.Name+"-peer")
	}
	var out []string
	for _, n := range names {
		out = append(out, n+".crt", n+".key")
	}
	slices.Sort(out)
	return out
}

// readEtcdPKI is every file under the state's pki/etcd, with its content.
func readEtcdPKI(t *testing.T, stateDir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(filepath.Join(stateDir, "pki", "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(stateDir, "pki", "etcd", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// etcd-pki works only on the state directory: it issues what is missing
// and nothing else, private keys 0600, and connects to no host.
func TestEtcdPKIPhase(t *testing.T) {
	k8s := loadExample(t, "k8s")
	grown := withHosts(k8s, cluster.Host{Name: "etcd-1", Role: cluster.RoleEtcd, Address: "10.10.0.11"})
	for _, tc := range []struct {
		name string
		// before runs the phase first with this spec; nil: a new state dir.
		before *cluster.Cluster
		spec   *cluster.Cluster
		// issued is what the run reports it issued; nil: nothing.
		issued string
	}{
		{name: "a new cluster", spec: k8s, issued: "issued [etcd CA etcd-0-server etcd-0-peer apiserver-etcd-client]"},
		{name: "a re-run issues nothing", before: k8s, spec: k8s},
		{name: "an etcd host added: its certificates only", before: k8s, spec: grown, issued: "issued [etcd-1-server etcd-1-peer]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFakeInit(t, tc.spec, false)
			var before map[string][]byte
			if tc.before != nil {
				first := newFakeInit(t, tc.before, false)
				first.Local = f.Local // the same state directory
				if err := first.run(ctx, "etcd-pki"); err != nil {
					t.Fatal(err)
				}
				before = readEtcdPKI(t, f.stateDir)
			}
			if err := f.run(ctx, "etcd-pki"); err != nil {
				t.Fatal(err)
			}
			if len(f.ssh.Dials()) != 0 {
				t.Errorf("etcd-pki dialed %v: it is local", f.ssh.Dials())
			}
			after := readEtcdPKI(t, f.stateDir)
			if got := slices.Sorted(maps.Keys(after)); !slices.Equal(got, etcdPKIFiles(tc.spec)) {
				t.Errorf("state holds %v, want %v", got, etcdPKIFiles(tc.spec))
			}
			for name := range before {
				if string(before[name]) != string(after[name]) {
					t.Errorf("%s was reissued", name)
				}
			}
			if tc.issued == "" {
				if !strings.Contains(f.output(), "[etcd-pki] all certificates present and valid (CA sha256:") {
					t.Errorf("a run that issued nothing says\n%s", f.output())
				}
			} else if !strings.Contains(f.output(), "[etcd-pki] "+tc.issued+" (CA sha256:") {
				t.Errorf("want %q in\n%s", tc.issued, f.output())
			}
			for name := range after {
				st, err := os.Stat(filepath.Join(f.stateDir, "pki", "etcd", name))
				if err != nil {
					t.Fatal(err)
				}
				want := pki.CertFileMode
				if strings.HasSuffix(name, ".key") {
					want = pki.KeyFileMode
				}
				if st.Mode().Perm() != want {
					t.Errorf("%s has mode %04o, want %04o", name, st.Mode().Perm(), want)
				}
			}
		})
	}
}

// The certificates the phase issues are what the etcd hosts need: signed by
// the etcd CA, naming the host, valid for spec.etcd.certValidity.
func TestEtcdPKIPhaseIssuesForTheSpec(t *testing.T) {
	spec := loadExample(t, "k8s")
	f := newFakeInit(t, spec, false)
	if err := f.run(context.Background(), "etcd-pki"); err != nil {
		t.Fatal(err)
	}
	p, issued, err := loadEtcdPKI(f)
	if err != nil || len(issued) != 0 {
		t.Fatalf("loading what the phase issued: issued %v again, %v", issued, err)
	}
	validity, _ := time.ParseDuration(spec.Spec.Etcd.CertValidity)
	for _, tc := range []struct {
		name  string
		cert  *pki.KeyPair
		cn    string
		hosts []string
	}{
		{"server", p.Server["etcd-0"], "etcd-0", []string{"etcd-0", "localhost", "10.10.0.10", "127.0.0.1"}},
		{"peer", p.Peer["etcd-0"], "etcd-0", []string{"etcd-0", "localhost", "10.10.0.10", "127.0.0.1"}},
		{"API server client", p.Client, "kube-apiserver-etcd-client", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cert.Cert.CheckSignatureFrom(p.CA.Cert); err != nil {
				t.Fatal(err)
			}
			info := pki.Describe(tc.cert.Cert)
			sans := append(slices.Clone(info.DNSNames), info.IPAddresses...)
			slices.Sort(sans)
			want := slices.Sorted(slices.Values(tc.hosts))
			if info.CommonName != tc.cn || !slices.Equal(sans, want) {
				t.Errorf("CN %s, SANs %v; want %s, %v", info.CommonName, sans, tc.cn, want)
			}
			if d := time.Until(tc.cert.Cert.NotAfter) - validity; d > time.Hour || d < -time.Hour {
				t.Errorf("valid until %s, want about %s from now", tc.cert.Cert.NotAfter, validity)
			}
		})
	}
}

// A dry run issues in memory only: the state directory is not created.
func TestEtcdPKIPhaseDryRun(t *testing.T) {
	f := newFakeInit(t, loadExample(t, "k8s"), true)
	if err := f.run(context.Background(), "etcd-pki"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.output(), "[etcd-pki] would issue [etcd CA etcd-0-server etcd-0-peer apiserver-etcd-client]") {
		t.Errorf("plan:\n%s", f.output())
	}
	if _, err := os.Stat(f.stateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dry run created the state directory (%v)", err)
	}
}
