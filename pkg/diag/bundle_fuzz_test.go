package diag

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gzip "github.com/klauspost/compress/gzip"
)

// hostileBundle writes a bundle holding what a fuzzer chose: a manifest,
// and one entry under any name (path traversal, absolute, empty, a
// directory, NUL) stored plain and as .gz and .zst, as bundles store
// sources. A tar header's size is what it holds: the data is the data.
func hostileBundle(t *testing.T, dir, manifest, name string, data []byte) string {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(n string, b []byte) {
		if tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}) == nil {
			tw.Write(b)
		}
	}
	add("manifest.json", []byte(manifest))
	add(name, data)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	add(name+".gz", z.Bytes())
	add(name+".zst", data) // not zstd at all, mostly
	tw.Close()
	gz.Close()
	path := filepath.Join(dir, "bundle.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// FuzzAnalyzeHostileBundle: `kubectl kbs diag analyze` reads bundles that
// someone else wrote. Whatever they hold, analysis and the report neither
// panic nor write anywhere but the report's path.
func FuzzAnalyzeHostileBundle(f *testing.F) {
	good := `{"cluster":"k8s","nodes":{"master-0":{"role":"control-plane"}},"sources":[]}`
	f.Add(good, "master-0/journal/kubelet.log", []byte("E1125 04:34:16.627685 1 kubelet.go:1] failed to run Kubelet: x\n"))
	f.Add(good, "../../etc/passwd", []byte("root:x:0:0\n"))
	f.Add(good, "/abs/api/pods.json", []byte(`{"items":[{"metadata":{"name":"<script>alert(1)</script>"}}]}`))
	f.Add(`{"nodes":null}`, "master-0/api/node.json", []byte(`{"status":{"conditions":[{"type":"Ready","status":"False"}]}}`))
	f.Add("not json", "x", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0})
	f.Add(good, "master-0/api/events.json", bytes.Repeat([]byte("{"), 1<<12))
	f.Fuzz(func(t *testing.T, manifest, name string, data []byte) {
		dir := t.TempDir()
		bundle := hostileBundle(t, dir, manifest, name, data)
		report := filepath.Join(dir, "report.html")
		if _, err := Reanalyze(bundle, report); err != nil {
			return // refused, with a reason: fine
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "bundle.tar.gz" && e.Name() != "report.html" {
				t.Fatalf("analysis wrote %s", e.Name())
			}
		}
		html, _ := os.ReadFile(report)
		if strings.Contains(string(html), "<script>alert(1)</script>") {
			t.Fatal("the report carries a bundle's markup unescaped")
		}
	})
}
