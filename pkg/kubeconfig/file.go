package kubeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// LockTimeout bounds the wait for another writer's lock.
var LockTimeout = 30 * time.Second

// BackupSuffix names the copy of the previous file kept beside it.
const BackupSuffix = ".kbs-backup"

// Update edits the kubeconfig at path under client-go's lock (path.lock, so
// kubectl and kbs never interleave), writing a temp file beside the real
// file, syncing and renaming it over: a reader or a crash sees the old file
// or the new, never half of one. A symlink stays a symlink (its target is
// replaced), the file's mode is kept (new files get 0600), and the previous
// content is kept as <file>.kbs-backup.
func Update(path string, edit func(*Doc) error) error {
	release, err := lock(path)
	if err != nil {
		return err
	}
	defer release()
	target, err := resolve(path)
	if err != nil {
		return err
	}
	old, mode, err := read(target)
	if err != nil {
		return err
	}
	doc, err := Parse(old)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	if err := edit(doc); err != nil {
		return err
	}
	data, err := doc.Bytes()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	removeStaleTemps(target)
	if old != nil {
		if err := fsutil.WriteFileAtomic(target+BackupSuffix, old, mode); err != nil {
			return fmt.Errorf("keeping a backup of %s: %w", target, err)
		}
	}
	if err := fsutil.WriteFileAtomic(target, data, mode); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w (it is unchanged: the new content went to a temporary file, removed; free some space and run again)", target, err)
	}
	return nil
}

// resolve follows a symlinked kubeconfig to the file it points at (which
// may not exist yet).
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if err == nil {
		return target, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if dest, lerr := os.Readlink(path); lerr == nil {
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(filepath.Dir(path), dest)
			}
			return dest, nil
		}
		return path, nil
	}
	return "", fmt.Errorf("resolving %s: %w", path, err)
}

func read(path string) ([]byte, os.FileMode, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o600, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading kubeconfig: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	return data, fi.Mode().Perm(), nil
}

// lock takes path.lock like client-go: created exclusively, removed when
// done. kbs writes its PID into it, so a lock left by a killed kbs is
// recognised and taken over; an empty lock (client-go's) is waited for.
func lock(path string) (func(), error) {
	name := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(LockTimeout)
	delay := 5 * time.Millisecond
	for {
		took, err := tryLock(filepath.Dir(path), name)
		if err != nil {
			return nil, fmt.Errorf("locking kubeconfig: %w", err)
		}
		if took {
			return func() { os.Remove(name) }, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("kubeconfig %s is locked by another writer (%s): if no kubectl or kbs is running, remove the lock file", path, name)
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// tryLock creates the lock, or takes it over from a writer that died,
// once; false: a live writer holds it. kbs writers do this one at a time
// (serialize), so a takeover never removes a lock another kbs just took.
func tryLock(dir, name string) (bool, error) {
	done, err := serialize(dir)
	if err != nil {
		return false, err
	}
	defer done()
	for range 2 {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, err
		}
		stale, held := staleLock(name)
		if !stale {
			return false, nil
		}
		// Removed only if it still is the dead writer's: kubectl takes
		// the lock without asking us.
		if now, err := os.ReadFile(name); err == nil && string(now) == held {
			os.Remove(name)
		}
	}
	return false, nil
}

// staleLock says whether the lock names a process that no longer exists,
// and returns what the lock held.
func staleLock(name string) (bool, string) {
	b, err := os.ReadFile(name)
	if err != nil {
		return false, ""
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false, "" // empty: client-go's, or ours half-written; wait
	}
	return processGone(pid), string(b)
}

// removeStaleTemps deletes temp files a killed writer left beside target.
// The caller holds the lock, so no live writer owns them.
func removeStaleTemps(target string) {
	temps, _ := filepath.Glob(filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*"))
	for _, t := range temps {
		os.Remove(t)
	}
}
