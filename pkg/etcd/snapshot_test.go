package etcd

import (
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshotBytes is a database-like body followed by its SHA-256, as etcd
// streams a snapshot.
func snapshotBytes(n int) []byte {
	body := make([]byte, n)
	for i := range body {
		body[i] = byte(i * 7)
	}
	sum := sha256.Sum256(body)
	return append(body, sum[:]...)
}

func TestTrailerHashAnyChunking(t *testing.T) {
	for _, size := range []int{0, 1, 31, 32, 33, 4096, 100_003} {
		data := snapshotBytes(size)
		r := rand.New(rand.NewPCG(uint64(size), 1))
		th := &trailerHash{h: sha256.New()}
		for rest := data; len(rest) > 0; {
			n := 1 + r.IntN(70)
			n = min(n, len(rest))
			th.Write(rest[:n])
			rest = rest[n:]
		}
		if err := th.check(); err != nil {
			t.Errorf("size %d: %v", size, err)
		}
		data[len(data)/2] ^= 1
		th = &trailerHash{h: sha256.New()}
		th.Write(data)
		if size > 0 && th.check() == nil {
			t.Errorf("size %d: a flipped bit passed the check", size)
		}
	}
}

func TestVerifyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k8s-20261201T000000.000Z-rev5.db")
	s := &Snapshot{}
	if err := writeSnapshot(path, strings.NewReader(string(snapshotBytes(5000))), s); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot mode %o, want 0600", fi.Mode().Perm())
	}
	if err := VerifyFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".sha256", []byte(strings.Repeat("0", 64)+"  x.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(path); err == nil || !strings.Contains(err.Error(), "changed since it was saved") {
		t.Fatalf("a wrong sidecar: %v", err)
	}
	torn := filepath.Join(dir, "torn.db")
	if err := writeSnapshot(torn, strings.NewReader(string(snapshotBytes(5000)[:4000])), s); err == nil {
		t.Fatal("a torn stream was saved")
	}
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatal("a torn stream left a file behind")
	}
}

func TestRotateKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	names := []string{"k8s-20261201T000001.000Z-rev9.db", "k8s-20261201T000003.000Z-rev11.db", "k8s-20261201T000002.000Z-rev10.db", "other-20261201T000000.000Z-rev1.db"}
	for _, n := range names {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
		os.WriteFile(filepath.Join(dir, n+".sha256"), nil, 0o600)
	}
	removed, err := rotate(dir, "k8s", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || filepath.Base(removed[0]) != names[0] {
		t.Fatalf("removed %v, want only the oldest k8s snapshot", removed)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 6 {
		t.Fatalf("left %v", left)
	}
}
