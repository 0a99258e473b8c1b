package bootstrap

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
)

// Host is one host as phases see it: every change goes through it, and in
// dry-run it prints what it would do instead (no connection is opened).
type Host struct {
	Spec cluster.Host
	conn remote.Conn // nil in dry-run
	plan func(format string, args ...any)
	// timings, when set, records heavy remote work (see Timings).
	timings *Timings
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
	got, _, _ := h.Query(ctx, fmt.Sprintf("sha256sum %s 2>/dev/null | cut -d' ' -f1; stat -c %%a %s 2>/dev/null", quote(f.Path), quote(f.Path)))
	if got == want+"\n"+fmt.Sprintf("%o", f.Mode.Perm()) {
		return false, nil
	}
	if err := h.conn.WriteFile(ctx, f.Path, bytes.NewReader(f.Data), f.Mode, "root:root"); err != nil {
		return false, err
	}
	return true, nil
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
	got, _, _ := h.Query(ctx, "sha256sum "+quote(path)+" 2>/dev/null | cut -d' ' -f1")
	if got == want {
		return false, nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	return true, h.conn.WriteFile(ctx, path, fh, mode, "root:root")
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

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
