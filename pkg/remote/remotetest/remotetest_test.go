package remotetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// dialer is the interface phases take (bootstrap.SSH, diag, inspect).
type dialer interface {
	Dial(ctx context.Context, t remote.Target) (remote.Conn, error)
}

var (
	_ dialer = (*Dialer)(nil)
	_ dialer = (*remote.Dialer)(nil)
)

func run(t *testing.T, c remote.Conn, cmd string, opts ...remote.RunOption) string {
	t.Helper()
	out, err := c.Run(context.Background(), cmd, opts...)
	if err != nil {
		t.Fatalf("Run(%q): %v", cmd, err)
	}
	return string(out)
}

func write(t *testing.T, c remote.Conn, path, data string, mode os.FileMode, owner string, opts ...remote.WriteOption) {
	t.Helper()
	if err := c.WriteFile(context.Background(), path, strings.NewReader(data), mode, owner, opts...); err != nil {
		t.Fatalf("WriteFile(%s): %v", path, err)
	}
}

func TestRecordsCallsInOrder(t *testing.T) {
	ctx := context.Background()
	c := NewConn("etcd-0")
	c.SetFile("/etc/hosts", []byte("127.0.0.1 localhost\n"))

	run(t, c, "mkdir -p /etc/kubernetes", remote.Privileged())
	write(t, c, "/etc/kubernetes/a.conf", "A", 0o600, "root:root", remote.SHA256("x"), remote.Gunzip())
	if err := c.Stream(ctx, "journalctl -u etcd", io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadFile(ctx, "/etc/hosts", io.Discard); err != nil {
		t.Fatal(err)
	}
	run(t, c, "systemctl restart etcd", remote.Privileged(), remote.Stderr(io.Discard))

	want := []Call{
		{Kind: KindRun, Cmd: "mkdir -p /etc/kubernetes", Opts: 1},
		{Kind: KindWrite, Path: "/etc/kubernetes/a.conf", Data: []byte("A"), Mode: 0o600, Owner: "root:root", Opts: 2, SHA256: "x"},
		{Kind: KindStream, Cmd: "journalctl -u etcd"},
		{Kind: KindRead, Path: "/etc/hosts"},
		{Kind: KindRun, Cmd: "systemctl restart etcd", Opts: 2},
	}
	if got := c.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("Calls:\n got %+v\nwant %+v", got, want)
	}
	wantCmds := []string{"mkdir -p /etc/kubernetes", "journalctl -u etcd", "systemctl restart etcd"}
	if got := c.Commands(); !reflect.DeepEqual(got, wantCmds) {
		t.Errorf("Commands = %q, want %q", got, wantCmds)
	}
	if got := c.Writes(); !reflect.DeepEqual(got, map[string][]byte{"/etc/kubernetes/a.conf": []byte("A")}) {
		t.Errorf("Writes = %q, want only the written file (not the seeded one)", got)
	}
	if !c.Ran(`^systemctl restart etcd$`) || c.Ran(`kubeadm`) {
		t.Error("Ran does not reflect the recorded commands")
	}
	// Kind compares with plain strings, as callers may write it.
	if c.Calls()[0].Kind != "run" {
		t.Error(`KindRun != "run"`)
	}
}

func TestRecordsAreCopies(t *testing.T) {
	c := NewConn("h")
	write(t, c, "/f", "abc", 0o644, "")
	c.Calls()[0].Data[0] = 'X'
	c.Writes()["/f"][0] = 'X'
	b, _ := c.File("/f")
	b[0] = 'X'
	if got := c.Calls()[0].Data; string(got) != "abc" {
		t.Errorf("recorded data changed through a returned slice: %q", got)
	}
	if got, _ := c.File("/f"); string(got) != "abc" {
		t.Errorf("stored file changed through a returned slice: %q", got)
	}
	seed := []byte("seed")
	c.SetFile("/s", seed)
	seed[0] = 'X'
	if got, _ := c.File("/s"); string(got) != "seed" {
		t.Errorf("SetFile kept the caller's slice: %q", got)
	}
}

func TestRulePrecedence(t *testing.T) {
	c := NewConn("h")
	c.On(`^systemctl is-active etcd$`, "active\n", nil)
	c.On(`^systemctl is-active`, "inactive\n", nil) // general after specific
	c.On(`is-active etcd`, "never\n", nil)          // shadowed by the first rule
	c.Fail(`^kubeadm`, errors.New("boom"))
	c.On(`^kubeadm init`, "never", nil) // shadowed by Fail
	c.On(regexp.QuoteMeta(`sha256sum '/a b' 2>/dev/null | cut -d' ' -f1`), "abc\n", nil)
	c.On(`etcdctl`, "unanchored\n", nil)

	cases := []struct {
		cmd, out string
		err      bool
	}{
		{"systemctl is-active etcd", "active\n", false},
		{"systemctl is-active kubelet", "inactive\n", false},
		{"kubeadm init --config x", "", true},
		{`sha256sum '/a b' 2>/dev/null | cut -d' ' -f1`, "abc\n", false},
		{"ETCDCTL_API=3 etcdctl member list", "unanchored\n", false},
		{"uname -r", "", false}, // default
	}
	for _, tc := range cases {
		out, err := c.Run(context.Background(), tc.cmd)
		if string(out) != tc.out || (err != nil) != tc.err {
			t.Errorf("Run(%q) = %q, %v; want %q, error %v", tc.cmd, out, err, tc.out, tc.err)
		}
	}
	if got := c.Unmatched(); !reflect.DeepEqual(got, []string{"uname -r"}) {
		t.Errorf("Unmatched = %q, want [uname -r]", got)
	}
}

func TestSetDefault(t *testing.T) {
	strict := errors.New("unscripted command")
	c := NewConn("h")
	c.On(`^true$`, "", nil)
	c.SetDefault("", strict)
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Errorf("scripted command failed: %v", err)
	}
	if _, err := c.Run(context.Background(), "rm -rf /"); !errors.Is(err, strict) {
		t.Errorf("unscripted command: err = %v, want %v", err, strict)
	}
	c.SetDefault("fallback", nil)
	if got := run(t, c, "anything"); got != "fallback" {
		t.Errorf("default output = %q, want fallback", got)
	}
}

func TestOnFuncStateful(t *testing.T) {
	c := NewConn("h")
	var n atomic.Int32
	c.OnFunc(`^etcdctl endpoint health`, func(cmd string, stdin []byte) ([]byte, error) {
		if stdin != nil {
			t.Errorf("stdin = %q, want nil (options are opaque)", stdin)
		}
		if n.Add(1) < 3 {
			return nil, Exit(1, "unhealthy")
		}
		return []byte("healthy"), nil
	})
	for i := 1; i <= 3; i++ {
		out, err := c.Run(context.Background(), "etcdctl endpoint health", remote.Stdin(strings.NewReader("in")))
		if (i < 3) != (err != nil) || (i == 3 && string(out) != "healthy") {
			t.Errorf("attempt %d: %q, %v", i, out, err)
		}
	}

	// The usual EnsureFile emulation: a rule answering from the in-memory
	// filesystem, which must not deadlock (rules run unlocked).
	c.OnFunc(`^sha256sum `, func(cmd string, _ []byte) ([]byte, error) {
		path := strings.Trim(strings.Fields(cmd)[1], "'")
		b, ok := c.File(path)
		if !ok {
			return nil, nil
		}
		sum := sha256.Sum256(b)
		return []byte(hex.EncodeToString(sum[:]) + "\n"), nil
	})
	q := "sha256sum '/etc/x' 2>/dev/null | cut -d' ' -f1"
	if got := run(t, c, q); got != "" {
		t.Errorf("missing file: %q", got)
	}
	write(t, c, "/etc/x", "data", 0o644, "root:root")
	sum := sha256.Sum256([]byte("data"))
	if got := run(t, c, q); got != hex.EncodeToString(sum[:])+"\n" {
		t.Errorf("sum = %q", got)
	}
}

func TestExitErrorFilledIn(t *testing.T) {
	c := NewConn("cp-1")
	scripted := Exit(3, "no such unit")
	c.Fail(`^systemctl`, scripted)
	long := "systemctl status " + strings.Repeat("x", 200)
	_, err := c.Run(context.Background(), long)
	var exit *remote.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("err = %T %v, want *remote.ExitError", err, err)
	}
	if exit.Host != "cp-1" || exit.Code != 3 || exit.Stderr != "no such unit" || !strings.HasPrefix(exit.Cmd, "systemctl status x") || len(exit.Cmd) > 125 {
		t.Errorf("exit error = %+v", exit)
	}
	if scripted.Host != "" || scripted.Cmd != "" {
		t.Errorf("scripted error was modified: %+v", scripted)
	}
	// Stream fills it in too.
	if err := c.Stream(context.Background(), "systemctl cat etcd", io.Discard); !errors.As(err, &exit) || exit.Cmd != "systemctl cat etcd" {
		t.Errorf("Stream err = %v", err)
	}
}

func TestStream(t *testing.T) {
	c := NewConn("h")
	boom := errors.New("boom")
	c.On(`^journalctl`, "line 1\nline 2\n", nil)
	c.On(`^tail`, "partial\n", boom)
	var buf bytes.Buffer
	if err := c.Stream(context.Background(), "journalctl -u kubelet", &buf); err != nil || buf.String() != "line 1\nline 2\n" {
		t.Errorf("Stream = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := c.Stream(context.Background(), "tail -f x", &buf); !errors.Is(err, boom) || buf.String() != "partial\n" {
		t.Errorf("failing Stream = %q, %v; want the output, then the error", buf.String(), err)
	}
}

func TestCancelledAndClosed(t *testing.T) {
	c := NewConn("h")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Run(ctx, "true"); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with cancelled ctx: %v", err)
	}
	if err := c.WriteFile(ctx, "/f", strings.NewReader("x"), 0o644, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteFile with cancelled ctx: %v", err)
	}
	if err := c.ReadFile(ctx, "/f", io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile with cancelled ctx: %v", err)
	}
	if n := len(c.Calls()); n != 0 {
		t.Errorf("cancelled calls recorded: %d", n)
	}

	if c.Closed() {
		t.Error("new Conn reports closed")
	}
	c.Close()
	if !c.Closed() {
		t.Error("Closed() = false after Close")
	}
	bg := context.Background()
	if _, err := c.Run(bg, "true"); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if err := c.Stream(bg, "true", io.Discard); !errors.Is(err, ErrClosed) {
		t.Errorf("Stream after Close: %v", err)
	}
	if err := c.WriteFile(bg, "/f", strings.NewReader("x"), 0o644, ""); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFile after Close: %v", err)
	}
	if err := c.ReadFile(bg, "/f", io.Discard); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFile after Close: %v", err)
	}
}

func TestReset(t *testing.T) {
	c := NewConn("h")
	c.On(`^hostname$`, "h\n", nil)
	write(t, c, "/f", "x", 0o644, "")
	run(t, c, "unscripted")
	c.Reset()
	if len(c.Calls()) != 0 || len(c.Commands()) != 0 || len(c.Writes()) != 0 || len(c.Unmatched()) != 0 {
		t.Error("Reset left records")
	}
	if b, ok := c.File("/f"); !ok || string(b) != "x" {
		t.Error("Reset dropped the filesystem")
	}
	if got := run(t, c, "hostname"); got != "h\n" {
		t.Error("Reset dropped the rules")
	}
}

func TestInvalidPatternPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("On with an invalid pattern did not panic")
		}
	}()
	NewConn("h").On(`(`, "", nil)
}

func TestConcurrentCalls(t *testing.T) {
	c := NewConn("h")
	c.OnFunc(`^echo `, func(cmd string, _ []byte) ([]byte, error) {
		return []byte(strings.TrimPrefix(cmd, "echo ")), nil
	})
	const workers, each = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				msg := fmt.Sprintf("w%d-%d", w, i)
				out, err := c.Run(ctx, "echo "+msg, remote.Privileged())
				if err != nil || string(out) != msg {
					errs <- fmt.Errorf("Run(echo %s) = %q, %v", msg, out, err)
				}
				if i%10 == 0 {
					path := fmt.Sprintf("/w%d/%d", w, i)
					if err := c.WriteFile(ctx, path, strings.NewReader(msg), 0o644, ""); err != nil {
						errs <- err
					}
					var buf bytes.Buffer
					if err := c.ReadFile(ctx, path, &buf); err != nil || buf.String() != msg {
						errs <- fmt.Errorf("ReadFile(%s) = %q, %v", path, buf.String(), err)
					}
					_ = c.Calls() // readers race with writers
					_ = c.Writes()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	cmds := c.Commands()
	if len(cmds) != workers*each {
		t.Fatalf("recorded %d commands, want %d", len(cmds), workers*each)
	}
	// Each worker's calls keep their order within the global record.
	next := make([]int, workers)
	for _, cmd := range cmds {
		var w, i int
		if _, err := fmt.Sscanf(cmd, "echo w%d-%d", &w, &i); err != nil {
			t.Fatalf("unexpected command %q", cmd)
		}
		if i != next[w] {
			t.Fatalf("worker %d: command %d recorded when %d was expected", w, i, next[w])
		}
		next[w]++
	}
	if got := len(c.Writes()); got != workers*each/10 {
		t.Errorf("Writes has %d files, want %d", got, workers*each/10)
	}
	if got := len(c.Calls()); got != workers*each+2*workers*each/10 {
		t.Errorf("Calls has %d entries, want %d", got, workers*each+2*workers*each/10)
	}
}
