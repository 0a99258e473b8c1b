// Package host is the layer every operation on a cluster's machines goes
// through: Host, one machine with its dry-run guard (every change to it,
// uploads included, passes through a method that prints instead of acting
// in a dry run), and Session, the run that opens hosts and works on them in
// parallel within a bound, with one log. It also knows where kubeadm keeps
// things on a node and how to stop, start and wait for its static pods.
package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// Host is one host as phases see it: every change goes through it, and in
// dry-run it prints what it would do instead (no connection is opened).
type Host struct {
	Spec cluster.Host
	conn remote.Conn // nil in dry-run
	plan func(format string, args ...any)
	// timings, when set, records heavy remote work (see workflow.Timings).
	timings *workflow.Timings
}

// New is a host that works over conn, or only plans when conn is nil:
// plan receives each "would …" line.
func New(spec cluster.Host, conn remote.Conn, plan func(format string, args ...any), timings *workflow.Timings) *Host {
	if plan == nil {
		plan = func(string, ...any) {}
	}
	return &Host{Spec: spec, conn: conn, plan: plan, timings: timings}
}

// DryRun says whether this host only plans.
func (h *Host) DryRun() bool { return h.conn == nil }

// Exec runs a command that changes the host.
func (h *Host) Exec(ctx context.Context, what, cmd string) error {
	if h.DryRun() {
		h.plan("would %s: %s", what, cmd)
		return nil
	}
	if heavyWork(what) {
		defer h.timings.Remote(what, time.Now())
	}
	_, err := h.conn.Run(ctx, cmd, remote.Privileged())
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Query runs a read-only command. In dry-run it does not run and returns
// ok=false: a plan cannot depend on what it did not look at.
func (h *Host) Query(ctx context.Context, cmd string) (out string, ok bool, err error) {
	if h.DryRun() {
		return "", false, nil
	}
	b, err := h.conn.Run(ctx, cmd, remote.Privileged())
	return strings.TrimSpace(string(b)), err == nil, err
}

// Probe runs a check that leaves a passing trace on the host — a listener
// it starts and stops, a datagram, a scratch file under /tmp — and is
// therefore not a Query. Like Query it does not run in a dry run.
func (h *Host) Probe(ctx context.Context, cmd string) (out string, ok bool, err error) {
	return h.Query(ctx, cmd)
}

// Plan prints one line of the host's dry-run plan.
func (h *Host) Plan(format string, args ...any) { h.plan(format, args...) }

// Trace records heavy remote work (kubeadm, an image import) that ran from
// start until now, for --timings.
func (h *Host) Trace(what string, start time.Time) { h.timings.Remote(what, start) }

// ReadFile streams a file of the host into w. A dry run has no connection,
// so it fails there: callers plan the read instead.
func (h *Host) ReadFile(ctx context.Context, path string, w io.Writer) error {
	if h.DryRun() {
		return fmt.Errorf("reading %s: a dry run has no connection to %s", path, h.Spec.Name)
	}
	return h.conn.ReadFile(ctx, path, w)
}

// WriteStream writes r to path atomically with the given options (see
// remote.WriteFile): for uploads that decompress, are checksummed or feed a
// command as they arrive. In a dry run it plans what instead.
func (h *Host) WriteStream(ctx context.Context, what, path string, r io.Reader, mode os.FileMode, opts ...remote.WriteOption) error {
	if h.DryRun() {
		h.plan("would %s: %s (mode %04o)", what, path, mode.Perm())
		return nil
	}
	return h.conn.WriteFile(ctx, path, r, mode, "root:root", opts...)
}

// heavyWork says whether an Exec's description is work kbs waits on rather
// than does.
func heavyWork(what string) bool {
	return strings.HasPrefix(what, "kubeadm ") || what == "import images"
}

// File is content to place on a host.
type File struct {
	Path   string
	Data   []byte
	Mode   os.FileMode
	Secret bool // never printed, not even in a dry-run plan
	// Summary replaces the content in a plan (certificates read better
	// as subject, SANs and expiry than as PEM).
	Summary string
}

// EnsureFile writes f unless the host already has exactly that content and
// mode; it reports whether it changed anything, so callers restart services
// only when needed.
func (h *Host) EnsureFile(ctx context.Context, f File) (bool, error) {
	sum := sha256.Sum256(f.Data)
	want := hex.EncodeToString(sum[:])
	if h.DryRun() {
		if f.Secret {
			h.plan("would write %s (mode %04o)%s", f.Path, f.Mode.Perm(), preview(f))
		} else {
			h.plan("would write %s (mode %04o, %d bytes, sha256 %s)%s", f.Path, f.Mode.Perm(), len(f.Data), want[:12], preview(f))
		}
		return true, nil
	}
	if h.has(ctx, f.Path, want, f.Mode) {
		return false, nil
	}
	// The host checks what arrived before it replaces the file: a dropped
	// connection never installs a truncated key, unit or manifest.
	if err := h.conn.WriteFile(ctx, f.Path, bytes.NewReader(f.Data), f.Mode, "root:root", remote.SHA256(want)); err != nil {
		return false, err
	}
	return true, nil
}

// HasFile says whether the host holds exactly f (content and mode): the
// cheap check of a phase's result. A dry run looks at nothing: false.
func (h *Host) HasFile(ctx context.Context, f File) bool {
	sum := sha256.Sum256(f.Data)
	return !h.DryRun() && h.has(ctx, f.Path, hex.EncodeToString(sum[:]), f.Mode)
}

// HasSum says whether the host holds a file at path with that sha256 and
// mode (for files kbs streams rather than holds). A dry run: false.
func (h *Host) HasSum(ctx context.Context, path, sha string, mode os.FileMode) bool {
	return !h.DryRun() && h.has(ctx, path, sha, mode)
}

func (h *Host) has(ctx context.Context, path, sha string, mode os.FileMode) bool {
	got, _, _ := h.Query(ctx, fmt.Sprintf("sha256sum %s 2>/dev/null | cut -d' ' -f1; stat -c %%a %s 2>/dev/null", shell.Quote(path), shell.Quote(path)))
	return got == sha+"\n"+fmt.Sprintf("%o", mode.Perm())
}

// EnsureLocalFile is EnsureFile for a (large) local file, streamed.
func (h *Host) EnsureLocalFile(ctx context.Context, local, path string, mode os.FileMode) (bool, error) {
	fh, err := os.Open(local)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, fh); err != nil {
		return false, err
	}
	want := hex.EncodeToString(hash.Sum(nil))
	if h.DryRun() {
		h.plan("would upload %s to %s (mode %04o, sha256 %s)", local, path, mode.Perm(), want[:12])
		return true, nil
	}
	got, _, _ := h.Query(ctx, "sha256sum "+shell.Quote(path)+" 2>/dev/null | cut -d' ' -f1")
	if got == want {
		return false, nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	return true, h.conn.WriteFile(ctx, path, fh, mode, "root:root", remote.SHA256(want))
}

func preview(f File) string {
	if f.Secret {
		return ": <key material elided>"
	}
	if f.Summary != "" {
		return ": " + f.Summary
	}
	return ":\n    " + strings.ReplaceAll(strings.TrimRight(string(f.Data), "\n"), "\n", "\n    ")
}
