//go:build integration

package remote_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

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
