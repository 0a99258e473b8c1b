//go:build integration

package remote_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// Files land whole, with mode and owner, and leave no temporary file behind.
func TestWriteAndReadFile(t *testing.T) {
	c := dialRoot(t)
	data := make([]byte, 8<<20+13)
	rand.Read(data)
	if err := c.WriteFile(ctx(t), "/etc/kbs-test/blob", bytes.NewReader(data), 0o640, "root:ops"); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "stat -c '%a %U %G' /etc/kbs-test/blob; ls -a /etc/kbs-test | wc -l"); got != "640 root ops\n3" {
		t.Fatalf("stat and entries: %q, want mode 640 root:ops and only the file", got)
	}
	var back bytes.Buffer
	if err := c.ReadFile(ctx(t), "/etc/kbs-test/blob", &back); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(back.Bytes()) != sha256.Sum256(data) {
		t.Fatalf("read back %d bytes that differ from the %d written", back.Len(), len(data))
	}
	err := c.ReadFile(ctx(t), "/etc/kbs-test/missing", &back)
	var exit *remote.ExitError
	if !errors.As(err, &exit) || !strings.Contains(exit.Stderr, "No such file") {
		t.Fatalf("reading a missing file: %v", err)
	}
}

// A gzipped upload is decompressed on the host and checked against its
// checksum; a wrong checksum is ErrChecksum and leaves the old file.
func TestWriteFileGunzipAndChecksum(t *testing.T) {
	c := dialRoot(t)
	data := bytes.Repeat([]byte("kubelet binary "), 100000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	if err := c.WriteFile(ctx(t), "/etc/kbs-test-gz/file", bytes.NewReader(gz.Bytes()), 0o755, "", remote.Gunzip(), remote.SHA256(sum)); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "sha256sum /etc/kbs-test-gz/file | cut -d' ' -f1; stat -c %a /etc/kbs-test-gz/file"); got != sum+"\n755" {
		t.Fatalf("written file: %q, want sum %s and mode 755", got, sum)
	}
	bad := strings.Repeat("0", 64)
	err := c.WriteFile(ctx(t), "/etc/kbs-test-gz/file", bytes.NewReader(gz.Bytes()), 0o755, "", remote.Gunzip(), remote.SHA256(bad))
	if !errors.Is(err, remote.ErrChecksum) {
		t.Fatalf("a wrong checksum: %v, want ErrChecksum", err)
	}
	if got := mustRun(t, c, "sha256sum /etc/kbs-test-gz/file | cut -d' ' -f1; ls -a /etc/kbs-test-gz | grep -c kbs-tmp || true"); got != sum+"\n0" {
		t.Fatalf("after the refused write: %q, want the old file and no temporary one", got)
	}
}

// Tee feeds the upload to a command as it arrives (an image import) and
// writes the file as well; the command's failure fails the write and keeps
// the old file.
func TestWriteFileTee(t *testing.T) {
	c := dialRoot(t)
	data := bytes.Repeat([]byte("image layer "), 200000)
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	fed := "sha256sum | cut -d' ' -f1 > /etc/kbs-test-tee.fed"
	if err := c.WriteFile(ctx(t), "/etc/kbs-test-tee/archive", bytes.NewReader(data), 0o600, "", remote.SHA256(sum), remote.Tee(fed)); err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "sha256sum /etc/kbs-test-tee/archive | cut -d' ' -f1; cat /etc/kbs-test-tee.fed"); got != sum+"\n"+sum {
		t.Fatalf("file and command's input: %q, want both with sum %s", got, sum)
	}
	err := c.WriteFile(ctx(t), "/etc/kbs-test-tee/archive", bytes.NewReader([]byte("other")), 0o600, "", remote.Tee("cat >/dev/null; exit 3"))
	var exit *remote.ExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("a failing command: %v, want its exit status 3", err)
	}
	if got := mustRun(t, c, "sha256sum /etc/kbs-test-tee/archive | cut -d' ' -f1; ls -a /etc/kbs-test-tee | grep -c kbs-tmp || true"); got != sum+"\n0" {
		t.Fatalf("after the failed command: %q, want the old file and no temporary one", got)
	}
}

// cutReader hands over the first n bytes, then runs cut (drops the
// connection) and fails: an upload that dies half-way.
type cutReader struct {
	data []byte
	n    int
	cut  func()
}

func (r *cutReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		if r.cut != nil {
			r.cut()
			r.cut = nil
		}
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p, r.data[:min(len(r.data), r.n)])
	r.data, r.n = r.data[k:], r.n-k
	return k, nil
}

// An upload cut off half-way — the stream ending early, or the SSH
// connection dropped mid-transfer — never replaces the file: the host
// checks the checksum kbs asks for before the rename, and the old file
// stays as it was, with no temporary file left.
func TestCutUploadKeepsTheOldFile(t *testing.T) {
	old := []byte("the old unit\n")
	data := bytes.Repeat([]byte("a new etcd binary "), 1<<18) // 4.5 MiB
	sum := fmt.Sprintf("%x", sha256.Sum256(data))
	for _, tc := range []struct {
		name string
		drop bool
	}{{"stream ends early", false}, {"connection dropped", true}} {
		t.Run(tc.name, func(t *testing.T) {
			setup := dialRoot(t)
			if err := setup.WriteFile(ctx(t), "/etc/kbs-test-cut/file", bytes.NewReader(old), 0o644, ""); err != nil {
				t.Fatal(err)
			}
			c := dialRoot(t)
			r := &cutReader{data: data, n: len(data) / 2}
			if tc.drop {
				r.cut = func() { c.Close() }
			}
			if err := c.WriteFile(ctx(t), "/etc/kbs-test-cut/file", r, 0o755, "", remote.SHA256(sum)); err == nil {
				t.Fatal("a cut upload succeeded")
			}
			// Looked at over a connection of its own: the dropped one is gone.
			check := dialRoot(t)
			want := fmt.Sprintf("%x\n0", sha256.Sum256(old))
			err := wait.PollUntilContextTimeout(ctx(t), 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
				got := mustRun(t, check, "sha256sum /etc/kbs-test-cut/file | cut -d' ' -f1; ls -a /etc/kbs-test-cut | grep -c kbs-tmp || true")
				return got == want, nil
			})
			if err != nil {
				t.Fatalf("after the cut upload: %q, want the old file and no temporary one", mustRun(t, check, "ls -la /etc/kbs-test-cut; sha256sum /etc/kbs-test-cut/*"))
			}
		})
	}
}
