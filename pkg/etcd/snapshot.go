package etcd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// Snapshot is one saved snapshot. The JSON names are stable.
type Snapshot struct {
	Path     string        `json:"path"`
	Member   string        `json:"member"`
	Revision int64         `json:"revision"`
	Version  string        `json:"etcdVersion,omitempty"`
	Size     int64         `json:"size"`
	SHA256   string        `json:"sha256"`
	Duration time.Duration `json:"duration"`
	Removed  []string      `json:"removed,omitempty"` // older snapshots rotated out by --keep
}

// SaveOptions say where a snapshot goes.
type SaveOptions struct {
	// Output is a file; when it names a directory (or is empty: the state
	// directory's snapshots/), the file is <cluster>-<UTC time>-rev<N>.db
	// inside it and Keep applies.
	Output string
	// Keep is how many snapshots of this cluster the directory keeps (0:
	// all).
	Keep int
}

// Save streams a consistent snapshot from a healthy member (a follower when
// there is one, sparing the leader) straight into a file on this machine:
// nothing is staged on the host. etcd appends a SHA-256 of the database to
// the stream; it is checked before the file is renamed into place, so a
// torn or corrupted transfer leaves no snapshot behind. A FILE.sha256 beside
// it (sha256sum format) lets restore, or anyone, check it later.
func Save(ctx context.Context, e *Env, o SaveOptions) (*Snapshot, error) {
	rows, err := Status(ctx, e)
	if err != nil {
		return nil, err
	}
	src, err := snapshotSource(rows)
	if err != nil {
		return nil, err
	}
	cli, _, err := e.Dial(src.Endpoint)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	start := time.Now()
	// The revision just before the snapshot (its stream may carry no
	// header): the snapshot holds at least everything up to it.
	rev := int64(0)
	if st, err := cli.Status(ctx, src.Endpoint); err == nil {
		rev = st.Header.Revision
	}
	resp, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting a snapshot on %s: %s", src.Name, describe(err))
	}
	defer resp.Snapshot.Close()
	if resp.Header != nil && resp.Header.Revision > 0 {
		rev = resp.Header.Revision
	}
	path, dir, err := snapshotPath(e, o, rev)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Path: path, Member: src.Name, Revision: rev, Version: resp.Version}
	if err := writeSnapshot(path, resp.Snapshot, s); err != nil {
		return nil, err
	}
	s.Duration = time.Since(start)
	if dir != "" && o.Keep > 0 {
		s.Removed, err = rotate(dir, e.Spec.Metadata.Name, o.Keep)
	}
	return s, err
}

// snapshotSource picks a healthy voting member, a follower first.
func snapshotSource(rows []MemberStatus) (*MemberStatus, error) {
	var leader *MemberStatus
	for i := range rows {
		r := &rows[i]
		if !r.Healthy || r.Learner {
			continue
		}
		if !r.Leader {
			return r, nil
		}
		leader = r
	}
	if leader == nil {
		return nil, fmt.Errorf("no healthy etcd member to take a snapshot from: see kubectl kbs etcd status")
	}
	return leader, nil
}

func snapshotPath(e *Env, o SaveOptions, rev int64) (path, dir string, err error) {
	out := o.Output
	if out == "" {
		out = filepath.Join(e.State.Dir, "snapshots")
		if err := fsutil.EnsurePrivateDir(out); err != nil {
			return "", "", err
		}
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		name := fmt.Sprintf("%s-%s-rev%d.db", e.Spec.Metadata.Name, time.Now().UTC().Format("20060102T150405.000Z"), rev)
		return filepath.Join(out, name), out, nil
	}
	if o.Keep > 0 {
		return "", "", fmt.Errorf("--keep needs --output to be a directory, and %s is not one", out)
	}
	return out, "", nil
}

// writeSnapshot writes the stream atomically (0600: a snapshot holds every
// Secret of the cluster), checking etcd's trailing checksum.
func writeSnapshot(path string, r io.Reader, s *Snapshot) error {
	whole := sha256.New()
	db := &trailerHash{h: sha256.New()}
	err := fsutil.WriteAtomic(path, 0o600, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		n, err := io.Copy(io.MultiWriter(bw, whole, db), r)
		if err != nil {
			return fmt.Errorf("receiving the snapshot after %d bytes: %s", n, describe(err))
		}
		s.Size = n
		if err := db.check(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	s.SHA256 = hex.EncodeToString(whole.Sum(nil))
	side := fmt.Sprintf("%s  %s\n", s.SHA256, filepath.Base(path))
	return fsutil.WriteFileAtomic(path+".sha256", []byte(side), 0o600)
}

// trailerHash hashes everything but the last 32 bytes it is given, which
// it keeps: an etcd snapshot is the database followed by its SHA-256.
type trailerHash struct {
	h    hash.Hash
	tail []byte
}

func (t *trailerHash) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= sha256.Size {
		t.h.Write(t.tail)
		t.h.Write(p[:len(p)-sha256.Size])
		t.tail = append(t.tail[:0], p[len(p)-sha256.Size:]...)
		return n, nil
	}
	t.tail = append(t.tail, p...)
	if extra := len(t.tail) - sha256.Size; extra > 0 {
		t.h.Write(t.tail[:extra])
		t.tail = append(t.tail[:0], t.tail[extra:]...)
	}
	return n, nil
}

func (t *trailerHash) check() error {
	if len(t.tail) < sha256.Size || !bytes.Equal(t.h.Sum(nil), t.tail) {
		return fmt.Errorf("the snapshot's checksum does not match its content (a torn or corrupted transfer): take it again")
	}
	return nil
}

// VerifyFile checks a snapshot file: etcd's trailing checksum, and the
// FILE.sha256 beside it when there is one.
func VerifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	whole := sha256.New()
	db := &trailerHash{h: sha256.New()}
	if _, err := io.Copy(io.MultiWriter(whole, db), bufio.NewReaderSize(f, 1<<20)); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := db.check(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	side, err := os.ReadFile(path + ".sha256")
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(side)), " ")
	if got := hex.EncodeToString(whole.Sum(nil)); got != want {
		return fmt.Errorf("%s has sha256 %s, but %s.sha256 says %s: the file changed since it was saved", path, got, path, want)
	}
	return nil
}

// rotate keeps the newest keep snapshots of the cluster in dir (their
// names sort by time) and removes the rest with their checksums.
func rotate(dir, clusterName string, keep int) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, clusterName+"-*-rev*.db"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	var removed []string
	for len(matches) > keep {
		old := matches[0]
		matches = matches[1:]
		if err := os.Remove(old); err != nil {
			return removed, fmt.Errorf("rotating snapshots: %w", err)
		}
		os.Remove(old + ".sha256")
		removed = append(removed, old)
	}
	return removed, nil
}
