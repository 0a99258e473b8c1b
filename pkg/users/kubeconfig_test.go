package users

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// adminKubeconfig writes a kubeconfig of cluster kbs with an admin context,
// the caller's, and returns its path.
func adminKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	data := `apiVersion: v1
kind: Config
clusters:
- name: kbs
  cluster:
    server: https://10.0.0.1:6443
users:
- name: admin
  user:
    token: admin-token
contexts:
- name: admin@kbs
  context:
    cluster: kbs
    user: admin
current-context: admin@kbs
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var testCluster = ClusterInfo{Name: "kbs", Server: "https://10.0.0.1:6443", CAData: []byte("ca")}

func TestCurrentCluster(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, []byte("from file"), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := clientcmdapi.Config{
		CurrentContext: "a",
		Contexts:       map[string]*clientcmdapi.Context{"a": {Cluster: "one"}, "b": {Cluster: "two"}, "c": {Cluster: "gone"}},
		Clusters: map[string]*clientcmdapi.Cluster{
			"one": {Server: "https://one", CertificateAuthorityData: []byte("inline")},
			"two": {Server: "https://two", CertificateAuthority: caFile},
		},
	}
	tests := []struct {
		context, wantName, wantCA, wantErr string
	}{
		{"", "one", "inline", ""},
		{"b", "two", "from file", ""},
		{"nope", "", "", `kubeconfig has no context "nope"`},
		{"c", "", "", `context "c" names cluster "gone", which the kubeconfig does not define`},
	}
	for _, tt := range tests {
		got, err := CurrentCluster(raw, tt.context)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CurrentCluster(%q) error = %v, want %q", tt.context, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Name != tt.wantName || string(got.CAData) != tt.wantCA {
			t.Errorf("CurrentCluster(%q) = %+v, %v; want cluster %s with CA %q", tt.context, got, err, tt.wantName, tt.wantCA)
		}
	}
}

func TestMergeThenRemoveEntry(t *testing.T) {
	path := adminKubeconfig(t)
	if err := Merge(path, testCluster, "ana@kbs", "dev", &Credentials{CertPEM: []byte("cert"), KeyPEM: []byte("key")}); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, path)
	u, c := cfg.AuthInfos["ana@kbs"], cfg.Contexts["ana@kbs"]
	if u == nil || string(u.ClientCertificateData) != "cert" || string(u.ClientKeyData) != "key" || c == nil || c.Namespace != "dev" || c.Cluster != "kbs" {
		t.Fatalf("after Merge: user %+v, context %+v", u, c)
	}
	if cfg.Clusters["kbs"].CertificateAuthorityData != nil || cfg.AuthInfos["admin"] == nil || cfg.CurrentContext != "admin@kbs" {
		t.Errorf("Merge changed what was there: %+v", cfg)
	}
	// A token replaces the certificate of the same entry.
	if err := Merge(path, testCluster, "ana@kbs", "", &Credentials{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if u := load(t, path).AuthInfos["ana@kbs"]; u.Token != "t" || u.ClientCertificateData != nil {
		t.Errorf("after merging a token: %+v", u)
	}
	edited, err := RemoveEntry(path, "ana@kbs")
	cfg = load(t, path)
	if err != nil || !edited || cfg.AuthInfos["ana@kbs"] != nil || cfg.Contexts["ana@kbs"] != nil || cfg.AuthInfos["admin"] == nil {
		t.Errorf("RemoveEntry() = %v, %v; left %+v", edited, err, cfg)
	}
}

func TestRemoveEntryClearsItsCurrentContext(t *testing.T) {
	path := adminKubeconfig(t)
	if edited, err := RemoveEntry(path, "admin@kbs"); err != nil || !edited {
		t.Fatalf("RemoveEntry() = %v, %v", edited, err)
	}
	if cfg := load(t, path); cfg.CurrentContext != "" {
		t.Errorf("current-context = %q, want it cleared with its context", cfg.CurrentContext)
	}
	if edited, err := RemoveEntry(filepath.Join(t.TempDir(), "elsewhere"), "admin@kbs"); edited || err != nil {
		t.Errorf("RemoveEntry(missing file) = %v, %v; want false, nil", edited, err)
	}
}

func TestStandalone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ana.kubeconfig")
	if err := Standalone(path, testCluster, "ana@kbs", "dev", &Credentials{CertPEM: []byte("cert"), KeyPEM: []byte("key")}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("standalone file: %v, %v; want mode 0600", fi, err)
	}
	cfg := load(t, path)
	if cfg.CurrentContext != "ana@kbs" || string(cfg.Clusters["kbs"].CertificateAuthorityData) != "ca" || len(cfg.AuthInfos) != 1 {
		t.Errorf("standalone kubeconfig: %+v", cfg)
	}
	err := Standalone(path, testCluster, "ana@kbs", "dev", &Credentials{Token: "t"})
	if err == nil || !strings.Contains(err.Error(), "exists: remove it or choose another path") {
		t.Errorf("Standalone over an existing file = %v", err)
	}
}

func TestKubeconfigFile(t *testing.T) {
	first, second := adminKubeconfig(t), adminKubeconfig(t)
	if err := Merge(second, testCluster, "ana@kbs", "", &Credentials{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	chain := &clientcmd.ClientConfigLoadingRules{Precedence: []string{first, second}}
	tests := []struct {
		name   string
		access clientcmd.ConfigAccess
		entry  string
		want   string
	}{
		{"explicit file", &clientcmd.ClientConfigLoadingRules{ExplicitPath: second, Precedence: []string{first}}, "bob@kbs", second},
		{"file that holds the user", chain, "ana@kbs", second},
		{"first file of the chain", chain, "bob@kbs", first},
	}
	for _, tt := range tests {
		if got := KubeconfigFile(tt.access, tt.entry); got != tt.want {
			t.Errorf("%s: KubeconfigFile() = %s, want %s", tt.name, got, tt.want)
		}
	}
}
