package bootstrap

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// twoControlPlanes is the k8s example with a second control plane, for
// phases that work on every control plane or only on the first.
func twoControlPlanes(t *testing.T) *cluster.Cluster {
	return withHosts(loadExample(t, "k8s"), cluster.Host{Name: "master-1", Role: cluster.RoleControlPlane, Address: "10.10.0.21"})
}

// stateFile reads a file of the state directory.
func stateFile(t *testing.T, f *fakeInit, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{f.stateDir}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// etcd-client-certs puts the etcd CA and the API server's etcd client
// certificate, as the state directory holds them, on every control plane;
// a re-run writes nothing.
func TestEtcdClientCertsPhase(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec func(*testing.T) *cluster.Cluster
	}{
		{"one control plane", func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }},
		{"every control plane", twoControlPlanes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spec := tc.spec(t)
			f := newFakeInit(t, spec, false)
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			if err := f.run(ctx, "etcd-client-certs"); err != nil {
				t.Fatal(err)
			}
			cps := spec.HostsWithRole(cluster.RoleControlPlane)
			if !slices.Equal(f.dialed(), names(cps)) {
				t.Errorf("dialed %v, want the control planes", f.dialed())
			}
			files := map[string]fileWant{
				host.KubeEtcdCA:         {stateFile(t, f, "pki", "etcd", "ca.crt"), 0o644},
				host.KubeEtcdClientCert: {stateFile(t, f, "pki", "etcd", "apiserver-etcd-client.crt"), 0o644},
				host.KubeEtcdClientKey:  {stateFile(t, f, "pki", "etcd", "apiserver-etcd-client.key"), 0o600},
			}
			for _, h := range cps {
				assertFiles(t, f.conn(h.Name), files)
				for p := range files {
					if !strings.Contains(f.output(), "[etcd-client-certs] "+h.Name+": wrote "+p+"\n") {
						t.Errorf("no note that %s got %s:\n%s", h.Name, p, f.output())
					}
				}
				f.conn(h.Name).Reset()
			}
			f.out.Reset()
			if err := f.run(ctx, "etcd-client-certs"); err != nil {
				t.Fatal(err)
			}
			for _, h := range cps {
				if w := f.conn(h.Name).Writes(); len(w) != 0 || strings.Contains(f.output(), "wrote") {
					t.Errorf("%s: a re-run wrote %d files:\n%s", h.Name, len(w), f.output())
				}
			}
		})
	}
}

const validateKubeadmCmd = `^kubeadm config validate --config /etc/kbs/kubeadm\.yaml$`

// kubeadm-config writes RenderKubeadmConfig's output (0600) to the first
// control plane only and has kubeadm validate it there.
func TestKubeadmConfigPhase(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    func(*testing.T) *cluster.Cluster
		answers []answer // on master-0
		wantErr string
		// validated says whether kubeadm config validate ran.
		validated bool
	}{
		{name: "valid", spec: func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }, validated: true},
		{name: "two control planes: the first only", spec: twoControlPlanes, validated: true},
		{
			name: "kubeadm not installed", spec: func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") },
			answers: []answer{{pattern: `^command -v kubeadm$`, err: remotetest.Exit(1, "")}},
			wantErr: "kubeadm is not installed on master-0: install kubeadm v1.37.2 there first",
		},
		{
			name: "kubeadm rejects it", spec: func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") },
			answers:   []answer{{pattern: validateKubeadmCmd, err: remotetest.Exit(1, `unknown field "foo"`)}},
			wantErr:   `validate the kubeadm configuration: master-0: "kubeadm config validate --config /etc/kbs/kubeadm.yaml" exited 1: unknown field "foo"`,
			validated: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec(t)
			f := newFakeInit(t, spec, false)
			for _, a := range tc.answers {
				f.conn("master-0").On(a.pattern, a.out, a.err)
			}
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			err := f.run(context.Background(), "kubeadm-config")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(f.dialed(), []string{"master-0"}) {
				t.Errorf("dialed %v, want the first control plane only", f.dialed())
			}
			cfg, err := RenderKubeadmConfig(spec)
			if err != nil {
				t.Fatal(err)
			}
			c := f.conn("master-0")
			assertFiles(t, c, map[string]fileWant{KubeadmConfigPath: {string(cfg), 0o600}})
			if c.Ran(validateKubeadmCmd) != tc.validated {
				t.Errorf("validated: %v, want %v", !tc.validated, tc.validated)
			}
			if tc.validated {
				assertRanInOrder(t, c, `^command -v kubeadm$`, validateKubeadmCmd)
			}
			if ok := strings.Contains(f.output(), "[kubeadm-config] master-0: /etc/kbs/kubeadm.yaml accepted by kubeadm config validate"); ok != (tc.wantErr == "") {
				t.Errorf("log:\n%s", f.output())
			}
		})
	}
}
