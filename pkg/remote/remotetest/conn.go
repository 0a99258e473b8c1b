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
	"regexp"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// Kind says which Conn method a Call was.
type Kind string

// The kinds of recorded call, one per Conn method that reaches the host.
const (
	KindRun    Kind = "run"
	KindStream Kind = "stream"
	KindWrite  Kind = "write"
	KindRead   Kind = "read"
)

// Call is one recorded call on a Conn: what a phase asked of the host, which
// is what its unit tests assert.
type Call struct {
	Kind Kind
	// Cmd is the command of a run or stream, as the caller wrote it.
	Cmd string
	// Path is the file of a write or read.
	Path string
	// Data is the content a write sent, as sent (still compressed for a
	// Gunzip write); nil for the other kinds, whose answers the test
	// scripted itself.
	Data []byte
	// Mode and Owner are what a write asked for.
	Mode  os.FileMode
	Owner string
	// SHA256 is the checksum a write asked the host to verify before the
	// file replaces path ("" when none: an unverified upload).
	SHA256 string
	// Opts is how many RunOptions or WriteOptions the call was given: the
	// options themselves are opaque outside package remote.
	Opts int
}

// FileEntry is one file of a Conn's in-memory filesystem.
type FileEntry struct {
	Data  []byte
	Mode  os.FileMode
	Owner string
}

// Handler computes the answer to a command, for answers that depend on the
// command or on state (a file written earlier, a count of attempts). stdin
// is always nil: a remote.Stdin option cannot be read from outside package
// remote.
type Handler func(cmd string, stdin []byte) ([]byte, error)

// ErrClosed is what a Conn answers after Close, so that code using a
// connection it closed fails its tests instead of passing by accident.
var ErrClosed = errors.New("remotetest: connection closed")

// Exit returns the error a real Conn gives for a command that ran and
// exited non-zero. Give it to On or Fail: the Conn fills in Host and Cmd
// when answering, so code that inspects *remote.ExitError sees what it
// would see on a real host.
func Exit(code int, stderr string) *remote.ExitError {
	return &remote.ExitError{Code: code, Stderr: stderr}
}

type rule struct {
	re *regexp.Regexp
	fn Handler
}

// Conn is a recording, scripted fake of remote.Conn. It is safe for
// concurrent use, as the real one is: phases run hosts and uploads in
// parallel. The zero value is ready to use, with an empty name.
type Conn struct {
	name string

	mu        sync.Mutex
	calls     []Call
	unmatched []string
	rules     []rule
	def       Handler // nil: empty output, nil error
	files     map[string]FileEntry
	writes    map[string][]byte
	failWrite map[string]error
	failRead  map[string]error
	closed    bool
}

var _ remote.Conn = (*Conn)(nil)

// NewConn returns a fake connection to the host called name, with no rules
// and an empty filesystem.
func NewConn(name string) *Conn { return &Conn{name: name} }

// Name is the target's name, as remote.Conn's.
func (c *Conn) Name() string { return c.name }

// Run records cmd and answers it from the first matching rule, else the
// default. A cancelled ctx fails the call, which is then not recorded: it
// never reached the host.
func (c *Conn) Run(ctx context.Context, cmd string, opts ...remote.RunOption) ([]byte, error) {
	fn, err := c.begin(ctx, Call{Kind: KindRun, Cmd: cmd, Opts: len(opts)})
	if err != nil {
		return nil, err
	}
	out, err := fn(cmd, nil)
	return bytes.Clone(out), c.exitErr(cmd, err)
}

// Stream is Run with the answer's output copied into w, then its error
// returned: a failing streamed command has usually written something first.
func (c *Conn) Stream(ctx context.Context, cmd string, w io.Writer, opts ...remote.RunOption) error {
	fn, err := c.begin(ctx, Call{Kind: KindStream, Cmd: cmd, Opts: len(opts)})
	if err != nil {
		return err
	}
	out, err := fn(cmd, nil)
	if len(out) > 0 && w != nil {
		if _, werr := w.Write(out); werr != nil && err == nil {
			err = fmt.Errorf("%s: %q: %w", c.name, shorten(cmd), werr)
		}
	}
	return c.exitErr(cmd, err)
}

// begin checks that the call can happen, records it and picks the
// command's handler, all under one lock so that the record's order is the
// order calls started in.
func (c *Conn) begin(ctx context.Context, call Call) (Handler, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %q: %w", c.name, shorten(call.Cmd), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%s: %q: %w", c.name, shorten(call.Cmd), ErrClosed)
	}
	c.calls = append(c.calls, call)
	for _, r := range c.rules {
		if r.re.MatchString(call.Cmd) {
			return r.fn, nil
		}
	}
	c.unmatched = append(c.unmatched, call.Cmd)
	if c.def != nil {
		return c.def, nil
	}
	return func(string, []byte) ([]byte, error) { return nil, nil }, nil
}

// exitErr completes an *remote.ExitError from Exit with the host and
// command, on a copy: one scripted error may answer many commands.
func (c *Conn) exitErr(cmd string, err error) error {
	exit, ok := err.(*remote.ExitError)
	if !ok || exit == nil || (exit.Host != "" && exit.Cmd != "") {
		return err
	}
	e := *exit
	if e.Host == "" {
		e.Host = c.name
	}
	if e.Cmd == "" {
		e.Cmd = shorten(cmd)
	}
	return &e
}

// WriteFile records the write and stores r's content at path with mode and
// owner, unless FailWrite says otherwise. r is read to the end either way,
// as a real upload would consume it.
func (c *Conn) WriteFile(ctx context.Context, path string, r io.Reader, mode os.FileMode, owner string, opts ...remote.WriteOption) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, c.name, err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, c.name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("writing %s on %s: %w", path, c.name, ErrClosed)
	}
	info := remote.WriteOptionsOf(opts...)
	c.calls = append(c.calls, Call{Kind: KindWrite, Path: path, Data: data, Mode: mode, Owner: owner, Opts: len(opts), SHA256: info.SHA256})
	if err := c.failWrite[path]; err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, c.name, err)
	}
	// As a real host does: the file is checked before it replaces path
	// (only for data as sent: a Gunzip write is checked after decompressing).
	if sum := sha256.Sum256(data); info.SHA256 != "" && !info.Gunzip && hex.EncodeToString(sum[:]) != info.SHA256 {
		return fmt.Errorf("writing %s on %s: %w", path, c.name, remote.ErrChecksum)
	}
	if c.files == nil {
		c.files = map[string]FileEntry{}
	}
	if c.writes == nil {
		c.writes = map[string][]byte{}
	}
	c.files[path] = FileEntry{Data: bytes.Clone(data), Mode: mode.Perm(), Owner: owner}
	c.writes[path] = bytes.Clone(data)
	return nil
}

// ReadFile records the read and copies path's content into w. A missing
// file fails as on a real host — a *remote.ExitError from cat, wrapped —
// so tests exercise the error handling production code really needs.
func (c *Conn) ReadFile(ctx context.Context, path string, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reading %s on %s: %w", path, c.name, err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("reading %s on %s: %w", path, c.name, ErrClosed)
	}
	c.calls = append(c.calls, Call{Kind: KindRead, Path: path})
	failed := c.failRead[path]
	f, ok := c.files[path]
	c.mu.Unlock()
	if failed != nil {
		return fmt.Errorf("reading %s on %s: %w", path, c.name, failed)
	}
	if !ok {
		cat := "cat -- " + shell.Quote(path)
		return fmt.Errorf("reading %s on %s: %w", path, c.name, &remote.ExitError{
			Host: c.name, Cmd: shorten(cat), Code: 1,
			Stderr: "cat: " + path + ": No such file or directory",
		})
	}
	if _, err := w.Write(f.Data); err != nil {
		return fmt.Errorf("reading %s on %s: %w", path, c.name, err)
	}
	return nil
}

// Close marks the connection closed: later calls fail with ErrClosed until
// a Dialer hands it out again (a real Dialer reopens a closed connection).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// Closed reports whether Close was called, for tests that check code
// releases its connections.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Conn) reopen() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = false
}
