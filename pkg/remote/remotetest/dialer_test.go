package remotetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

func TestDialerOneConnPerHost(t *testing.T) {
	ctx := context.Background()
	var d Dialer
	a1, err := d.Dial(ctx, remote.Target{Name: "etcd-0", Address: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.Dial(ctx, remote.Target{Name: "etcd-1", Address: "10.0.0.2"})
	a2, _ := d.Dial(ctx, remote.Target{Name: "etcd-0", Address: "10.0.0.1", User: "core", Sudo: true})
	if a1 != a2 {
		t.Error("second Dial of etcd-0 returned another Conn")
	}
	if a1 == b || a1.Name() != "etcd-0" || b.Name() != "etcd-1" {
		t.Errorf("conns: %v %v", a1.Name(), b.Name())
	}
	if d.Conn("etcd-0") != a1 {
		t.Error("Conn(etcd-0) is not the dialed Conn")
	}
	if got, want := d.Dials(), []string{"etcd-0", "etcd-1", "etcd-0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Dials = %q, want %q", got, want)
	}
	if tg, ok := d.Target("etcd-0"); !ok || tg.User != "core" || !tg.Sudo {
		t.Errorf("Target(etcd-0) = %+v, %v; want the last dial's", tg, ok)
	}
	if _, ok := d.Target("cp-0"); ok {
		t.Error("Target of a host never dialed")
	}
}

func TestDialerScriptBeforeDial(t *testing.T) {
	var d Dialer
	d.Conn("cp-0").On(`^hostname$`, "cp-0\n", nil)
	if len(d.Dials()) != 0 {
		t.Error("Conn counted as a dial")
	}
	c, err := d.Dial(context.Background(), remote.Target{Name: "cp-0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, c, "hostname"); got != "cp-0\n" {
		t.Errorf("rule set before Dial lost: %q", got)
	}
}

func TestDialerConfigure(t *testing.T) {
	var d Dialer
	early := d.Conn("a")
	d.Configure(func(c *Conn) { c.On(`^whoami$`, "root\n", nil) })
	d.Configure(func(c *Conn) { c.SetFile("/etc/hostname", []byte(c.Name())) })
	late, _ := d.Dial(context.Background(), remote.Target{Name: "b"})
	for _, c := range []remote.Conn{early, late} {
		if got := run(t, c, "whoami"); got != "root\n" {
			t.Errorf("%s: whoami = %q", c.Name(), got)
		}
		if b, _ := c.(*Conn).File("/etc/hostname"); string(b) != c.Name() {
			t.Errorf("%s: hostname file = %q", c.Name(), b)
		}
	}
}

func TestDialerDown(t *testing.T) {
	ctx := context.Background()
	var d Dialer
	up, _ := d.Dial(ctx, remote.Target{Name: "etcd-0"})
	refused := errors.New("connection refused")
	d.Down("etcd-2", refused)
	d.Down("etcd-0", nil)

	c, err := d.Dial(ctx, remote.Target{Name: "etcd-2", Address: "10.0.0.3"})
	if c != nil || !errors.Is(err, refused) || !strings.Contains(err.Error(), "connecting to etcd-2 (10.0.0.3)") {
		t.Errorf("Dial of a Down host = %v, %v", c, err)
	}
	if _, err := d.Dial(ctx, remote.Target{Name: "etcd-0"}); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Down(nil): err = %v, want ErrUnreachable", err)
	}
	// A Conn handed out before Down keeps working.
	if _, err := up.Run(ctx, "true"); err != nil {
		t.Errorf("existing Conn after Down: %v", err)
	}
	if got, want := d.Dials(), []string{"etcd-0", "etcd-2", "etcd-0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Dials = %q, want failed dials included: %q", got, want)
	}

	d.Up("etcd-2")
	if c, err := d.Dial(ctx, remote.Target{Name: "etcd-2"}); err != nil || c.Name() != "etcd-2" {
		t.Errorf("Dial after Up = %v, %v", c, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Dial(cctx, remote.Target{Name: "etcd-1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial with cancelled ctx: %v", err)
	}
	if n := len(d.Dials()); n != 4 {
		t.Errorf("cancelled dial recorded: %d dials", n)
	}
}

func TestDialerCloseAndReopen(t *testing.T) {
	ctx := context.Background()
	var d Dialer
	c, _ := d.Dial(ctx, remote.Target{Name: "h"})
	write(t, c, "/f", "x", 0o644, "")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !d.Conn("h").Closed() {
		t.Fatal("Dialer.Close left the Conn open")
	}
	if _, err := c.Run(ctx, "true"); !errors.Is(err, ErrClosed) {
		t.Errorf("Run on a closed Conn: %v", err)
	}
	c2, err := d.Dial(ctx, remote.Target{Name: "h"})
	if err != nil || c2 != c || d.Conn("h").Closed() {
		t.Fatalf("redial: %v, %v, closed=%v", c2, err, d.Conn("h").Closed())
	}
	if b, ok := d.Conn("h").File("/f"); !ok || string(b) != "x" {
		t.Error("reopened Conn lost its files")
	}
}

func TestDialerConcurrent(t *testing.T) {
	var d Dialer
	const n = 16
	conns := make([]remote.Conn, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := d.Dial(context.Background(), remote.Target{Name: fmt.Sprintf("h%d", i%4)})
			if err != nil {
				t.Error(err)
				return
			}
			conns[i] = c
			if _, err := c.Run(context.Background(), "true"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if conns[i] != conns[i%4] {
			t.Errorf("dial %d of h%d got another Conn", i, i%4)
		}
	}
	if len(d.Dials()) != n {
		t.Errorf("Dials has %d entries, want %d", len(d.Dials()), n)
	}
	total := 0
	for i := range 4 {
		total += len(d.Conn(fmt.Sprintf("h%d", i)).Commands())
	}
	if total != n {
		t.Errorf("%d commands recorded over the hosts, want %d", total, n)
	}
}

// A write that asks for a checksum is checked as a real host checks it:
// the wrong bytes fail with remote.ErrChecksum and replace nothing.
func TestWriteChecksum(t *testing.T) {
	c := NewConn("h")
	c.SetFile("/etc/x", []byte("old"))
	sum := sha256.Sum256([]byte("new"))
	err := c.WriteFile(context.Background(), "/etc/x", strings.NewReader("truncated"), 0o644, "root:root", remote.SHA256(hex.EncodeToString(sum[:])))
	if !errors.Is(err, remote.ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
	if b, _ := c.File("/etc/x"); string(b) != "old" {
		t.Fatalf("the file is %q after a failed checksum", b)
	}
	if err := c.WriteFile(context.Background(), "/etc/x", strings.NewReader("new"), 0o644, "root:root", remote.SHA256(hex.EncodeToString(sum[:]))); err != nil {
		t.Fatal(err)
	}
}
