package remotetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

func TestFiles(t *testing.T) {
	ctx := context.Background()
	c := NewConn("etcd-0")

	write(t, c, "/etc/etcd/etcd.yaml", "name: etcd-0\n", 0o100640, "etcd:etcd")
	var buf bytes.Buffer
	if err := c.ReadFile(ctx, "/etc/etcd/etcd.yaml", &buf); err != nil || buf.String() != "name: etcd-0\n" {
		t.Fatalf("ReadFile = %q, %v", buf.String(), err)
	}
	f, ok := c.Stat("/etc/etcd/etcd.yaml")
	if !ok || f.Mode != 0o640 || f.Owner != "etcd:etcd" {
		t.Errorf("Stat = %+v, %v; want mode 0640 (permission bits only), owner etcd:etcd", f, ok)
	}

	// Overwrite: last write wins, in the filesystem and in Writes.
	write(t, c, "/etc/etcd/etcd.yaml", "name: etcd-0\nv: 2\n", 0o600, "")
	if b, _ := c.File("/etc/etcd/etcd.yaml"); string(b) != "name: etcd-0\nv: 2\n" {
		t.Errorf("after overwrite: %q", b)
	}

	// Missing file: the error a real host gives.
	err := c.ReadFile(ctx, "/nope", &buf)
	var exit *remote.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 || exit.Host != "etcd-0" || !strings.Contains(exit.Stderr, "No such file") || exit.Cmd != "cat -- '/nope'" {
		t.Errorf("missing file: err = %v", err)
	}
	if !strings.Contains(err.Error(), "reading /nope on etcd-0") {
		t.Errorf("missing file error not wrapped as remote wraps it: %v", err)
	}

	// Seeded files are served but are not writes.
	c.SetFileEntry("/etc/kubernetes/pki/ca.crt", FileEntry{Data: []byte("PEM"), Mode: 0o644, Owner: "root:root"})
	buf.Reset()
	if err := c.ReadFile(ctx, "/etc/kubernetes/pki/ca.crt", &buf); err != nil || buf.String() != "PEM" {
		t.Errorf("seeded ReadFile = %q, %v", buf.String(), err)
	}
	if _, ok := c.Writes()["/etc/kubernetes/pki/ca.crt"]; ok {
		t.Error("seeded file listed in Writes")
	}
	c.SetFile("/seed", []byte("x"))
	if f, _ := c.Stat("/seed"); f.Mode != 0o644 || f.Owner != "root:root" {
		t.Errorf("SetFile defaults = %+v", f)
	}

	c.RemoveFile("/etc/kubernetes/pki/ca.crt")
	if _, ok := c.File("/etc/kubernetes/pki/ca.crt"); ok {
		t.Error("RemoveFile left the file")
	}
}

func TestFailWriteAndRead(t *testing.T) {
	ctx := context.Background()
	c := NewConn("h")
	c.SetFile("/etc/x", []byte("old"))
	full := errors.New("no space left on device")
	c.FailWrite("/etc/x", full)

	err := c.WriteFile(ctx, "/etc/x", strings.NewReader("new"), 0o644, "")
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "writing /etc/x on h") {
		t.Errorf("WriteFile err = %v", err)
	}
	if b, _ := c.File("/etc/x"); string(b) != "old" {
		t.Errorf("failed write changed the file: %q", b)
	}
	if len(c.Writes()) != 0 {
		t.Errorf("failed write in Writes: %q", c.Writes())
	}
	if calls := c.Calls(); len(calls) != 1 || calls[0].Kind != KindWrite || string(calls[0].Data) != "new" {
		t.Errorf("failed write not recorded: %+v", calls)
	}
	// Other paths still work; a nil error lifts the failure.
	write(t, c, "/etc/y", "y", 0o644, "")
	c.FailWrite("/etc/x", nil)
	write(t, c, "/etc/x", "new", 0o644, "")

	denied := errors.New("permission denied")
	c.FailRead("/etc/x", denied)
	if err := c.ReadFile(ctx, "/etc/x", io.Discard); !errors.Is(err, denied) {
		t.Errorf("ReadFile err = %v, want %v", err, denied)
	}
	c.FailRead("/etc/x", nil)
	if err := c.ReadFile(ctx, "/etc/x", io.Discard); err != nil {
		t.Errorf("ReadFile after lifting the failure: %v", err)
	}

	// A reader that fails is the caller's error, as with a real upload.
	bad := errors.New("disk read error")
	if err := c.WriteFile(ctx, "/etc/z", io.MultiReader(strings.NewReader("x"), errReader{bad}), 0o644, ""); !errors.Is(err, bad) {
		t.Errorf("WriteFile with failing reader: %v", err)
	}
	if _, ok := c.File("/etc/z"); ok {
		t.Error("write from a failing reader stored a file")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
