package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// Every upload asks the host to check what arrived before it replaces the
// file, so a connection that drops mid-transfer never installs a
// truncated key, unit or binary.
func TestUploadsAreVerified(t *testing.T) {
	conn := remotetest.NewConn("n")
	h := New(cluster.Host{Name: "n"}, conn, nil, nil)
	ctx := context.Background()
	key := []byte("-----BEGIN EC PRIVATE KEY-----\n")
	if _, err := h.EnsureFile(ctx, File{Path: "/etc/etcd/pki/server.key", Data: key, Mode: 0o600, Secret: true}); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "etcd")
	bin := []byte(strings.Repeat("ELF", 1000))
	if err := os.WriteFile(local, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := h.EnsureLocalFile(ctx, local, "/usr/local/bin/etcd", 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/etc/etcd/pki/server.key": sum(key), "/usr/local/bin/etcd": sum(bin)}
	for _, c := range conn.Calls() {
		if c.Kind != remotetest.KindWrite {
			continue
		}
		if c.SHA256 != want[c.Path] {
			t.Errorf("%s uploaded with checksum %q, want %q", c.Path, c.SHA256, want[c.Path])
		}
		delete(want, c.Path)
	}
	if len(want) > 0 {
		t.Errorf("not uploaded: %v", want)
	}
}

// A dry run plans and touches nothing: no connection, and a secret's
// content never in the plan.
func TestDryRunPlansOnly(t *testing.T) {
	var plan []string
	h := New(cluster.Host{Name: "n"}, nil, func(f string, a ...any) { plan = append(plan, fmt.Sprintf(f, a...)) }, nil)
	ctx := context.Background()
	if ch, err := h.EnsureFile(ctx, File{Path: "/k", Data: []byte("SECRET"), Mode: 0o600, Secret: true}); err != nil || !ch {
		t.Fatalf("dry-run EnsureFile: %v %v", ch, err)
	}
	if err := h.Exec(ctx, "restart", "systemctl restart x"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.Query(ctx, "cat /k"); ok {
		t.Fatal("a dry-run query answered")
	}
	if len(plan) != 2 || strings.Contains(strings.Join(plan, "\n"), "SECRET") {
		t.Fatalf("plan %q", plan)
	}
}

// Init and upgrade install the exact version from its minor's channel,
// every version quoted (a glob in cwd must not expand it), held after.
func TestKubernetesPackages(t *testing.T) {
	s := strings.Join(KubernetesPackages("v1.37.2", "kubelet", "kubectl"), " && ")
	for _, want := range []string{"'https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key'", "https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /' > /etc/apt/sources.list.d/kubernetes.list",
		"--allow-change-held-packages 'kubelet=1.37.2-*' 'kubectl=1.37.2-*' >/dev/null", "apt-mark hold 'kubelet' 'kubectl'",
		"gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg.new /etc/apt/keyrings/kubernetes-apt-keyring.gpg.asc && mv "} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in %s", want, s)
		}
	}
}
