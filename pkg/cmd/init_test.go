package cmd

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/bootstrap"
)

// A calico manifest that is not the pinned release stops init before any
// host is contacted, naming where it came from; with the cni phase skipped
// the rest plans.
func TestInitRefusesAnUnpinnedCalicoManifestUpFront(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-calico}\n"))
	}))
	defer srv.Close()
	old := bootstrap.CalicoManifestURL
	bootstrap.CalicoManifestURL = srv.URL + "/calico-vxlan.yaml"
	defer func() { bootstrap.CalicoManifestURL = old }()
	state := t.TempDir()
	_, _, err := run(t, "init", "-f", "../../examples/hk8s.yaml", "--state-dir", state, "--dry-run")
	if err == nil || !strings.Contains(err.Error(), bootstrap.CalicoManifestURL) || !strings.Contains(err.Error(), "not the release kbs pins") {
		t.Fatalf("calico: %v", err)
	}
	if out, _, err := run(t, "init", "-f", "../../examples/hk8s.yaml", "--state-dir", state, "--dry-run", "--skip-phases", "cni"); err != nil {
		t.Fatalf("calico with cni skipped: %v\n%s", err, out)
	}
}

// Bad flags of the etcd verbs stop before any connection.
func TestEtcdFlagsCheckedFirst(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"etcd", "snapshot", "save", "--keep", "2", "--output", state + "/x.db"}, "--keep needs --output to be an existing directory"},
		{[]string{"etcd", "snapshot", "save", "--keep", "-1"}, "--keep must be 0"},
		{[]string{"etcd", "restore"}, "--from is required"},
		{[]string{"etcd", "status", "-o", "wide"}, "unknown --output"},
		{[]string{"etcd", "certs", "check", "--warn-within", "soon"}, "soon"},
	} {
		args := append(tc.args, "-f", "../../examples/k8s.yaml", "--state-dir", state)
		if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
