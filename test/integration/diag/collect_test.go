//go:build integration

// Package diag_test collects diagnostics from a real systemd node over SSH
// into a bundle, with a secret planted in a real journald unit.
package diag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"

	"github.com/kubectl-kbs/kbs/pkg/diag"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

var cluster *nodes.Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	cluster, err = nodes.Boot(ctx, nodes.Options{Count: 1, Prefix: "diag"})
	cancel()
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

// Collected with and without zstd on the node (its rootfs has zstd, as
// Debian and Ubuntu servers do), the bundle holds the same redacted logs;
// the manifest says how each travelled.
func TestCollectNodeOverSSH(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := cluster.Nodes[0]
	// A unit named kubelet logs a join command with its token to journald.
	if out, err := n.Exec(ctx, "systemd-run", "--unit=kubelet", "--wait", "--quiet", "sh", "-c",
		"echo kubelet starting; echo kubeadm join 10.0.0.20:6443 --token abcdef.0123456789abcdef"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	d := &remote.Dialer{HostKeys: &remote.HostKeys{Files: []string{cluster.KnownHosts}}, SSHConfig: &ssh_config.Config{}}
	defer d.Close()
	target := diag.Target{Name: n.Name, Role: "worker", Address: n.IP.String(),
		SSH: &remote.Target{Name: n.Name, Address: n.IP.String(), User: "root", KeyFile: cluster.ClientKey}}
	journals := map[string]string{}
	for _, compress := range []string{diag.CompressNone, diag.CompressAuto} {
		path := filepath.Join(t.TempDir(), "bundle.tar.gz")
		b, err := diag.NewBundle(path, true, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		c := &diag.Collector{SSH: d, Via: diag.ViaSSH, Parallel: 1, Options: diag.Options{Since: "1 hour ago", Compress: compress}}
		if err := c.Run(ctx, []diag.Target{target}, b); err != nil {
			t.Errorf("--compress %s: %v", compress, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		files := read(t, path)
		kubelet := files[n.Name+"/journal/kubelet.log"]
		if !strings.Contains(kubelet, "kubelet starting") || !strings.Contains(kubelet, "[REDACTED:bootstrap-token]") || strings.Contains(kubelet, "0123456789abcdef") {
			t.Errorf("--compress %s: kubelet journal in the bundle:\n%s", compress, kubelet)
		}
		journals[compress] = kubelet
		if !strings.Contains(files[n.Name+"/listening-ports.txt"], ":22") || !strings.Contains(files[n.Name+"/timedatectl.txt"], "Local time") {
			t.Errorf("ports %q\ntime %q", files[n.Name+"/listening-ports.txt"], files[n.Name+"/timedatectl.txt"])
		}
		if _, ok := files[n.Name+"/journal/etcd.log"]; ok {
			t.Error("a worker's bundle has the etcd-only source")
		}
		var m diag.Manifest
		if err := json.Unmarshal([]byte(files["manifest.json"]), &m); err != nil || len(m.Sources) == 0 {
			t.Fatalf("manifest: %v", err)
		}
		want := map[string]string{diag.CompressNone: "", diag.CompressAuto: diag.CompressZstd}[compress]
		for _, src := range m.Sources {
			isLog := strings.HasPrefix(src.Name, "journal/") || strings.HasPrefix(src.Name, "files/")
			if isLog && src.Compression != want || !isLog && src.Compression != "" {
				t.Errorf("--compress %s: %s travelled as %q", compress, src.Name, src.Compression)
			}
		}
		// With zstd, a log redaction left alone is kept as the node's own
		// stream; the kubelet journal, whose token was redacted, is not.
		if compress == diag.CompressAuto {
			kept := 0
			for _, src := range m.Sources {
				switch {
				case src.Name == "journal/kubelet.log" && src.Stored != src.Path+".gz":
					t.Errorf("the kubelet journal, redacted, is stored as %s", src.Stored)
				case strings.HasSuffix(src.Stored, ".zst"):
					kept++
				}
			}
			if kept == 0 {
				t.Error("no log was kept as the node compressed it")
			}
		}
	}
	if journals[diag.CompressNone] != journals[diag.CompressAuto] {
		t.Errorf("the kubelet journal differs with zstd:\n%q\n%q", journals[diag.CompressNone], journals[diag.CompressAuto])
	}
}

func read(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := diag.WalkBundle(path, func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		out[name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
