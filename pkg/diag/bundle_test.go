package diag

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := WalkBundle(path, func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		out[name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// failingReader yields some data, then breaks like a dropped connection.
type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.sent {
		return 0, errors.New("connection lost")
	}
	f.sent = true
	return copy(p, "partial line 1\npartial line 2\n"), nil
}

func TestBundleStreamsRedactsAndRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.tar.gz")
	b, err := NewBundle(path, true, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, node := range []string{"worker-0", "worker-1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Add(node, "journal/kubelet.log", "ssh", strings.NewReader("kubelet up\njoin --token abcdef.0123456789abcdef\n"))
		}()
	}
	wg.Wait()
	b.Add("worker-1", "files/kube-proxy.log", "ssh", &failingReader{})
	b.Add("worker-0", "files/huge.log", "ssh", strings.NewReader(strings.Repeat("x", 2<<20)))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %v, want 0600", fi.Mode().Perm())
	}
	files := readBundle(t, path)
	if got := files["worker-0/journal/kubelet.log"]; strings.Contains(got, "0123456789abcdef") || !strings.Contains(got, "kubelet up") {
		t.Errorf("kubelet log in bundle: %q", got)
	}
	if got := files["worker-1/files/kube-proxy.log"]; got != "partial line 1\npartial line 2\n" {
		t.Errorf("a failed source should keep what arrived: %q", got)
	}
	var m struct {
		Redacted bool
		Sources  []Source
	}
	if err := json.Unmarshal([]byte(files["manifest.json"]), &m); err != nil {
		t.Fatal(err)
	}
	if !m.Redacted || len(m.Sources) != 4 {
		t.Fatalf("manifest %+v", m)
	}
	for _, s := range m.Sources {
		switch s.Path {
		case "worker-1/files/kube-proxy.log":
			if s.Status != "failed" || s.Error != "connection lost" {
				t.Errorf("failed source recorded as %+v", s)
			}
		case "worker-0/files/huge.log":
			if !s.Truncated || s.Bytes != 1<<20 {
				t.Errorf("huge source %+v, want truncated at the cap", s)
			}
		case "worker-0/journal/kubelet.log":
			if s.Redactions["bootstrap-token"] != 1 || s.Bytes == 0 || s.Transport != "ssh" {
				t.Errorf("kubelet source %+v", s)
			}
		}
	}
}

func TestBundleRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.tar.gz")
	os.WriteFile(path, []byte("precious"), 0o600)
	if _, err := NewBundle(path, true, 0); err == nil {
		t.Fatal("an existing file was overwritten")
	}
}
