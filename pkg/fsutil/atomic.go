// Package fsutil writes files so that a reader, or a crash, never sees half of
// one: kubeconfigs, certificates and keys are written whole or not at all.
package fsutil

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PrivateDirMode is the mode of directories that hold private keys.
const PrivateDirMode os.FileMode = 0o700

// WriteFileAtomic writes data to path with mode perm: a temporary file in the
// same directory is written, synced and renamed over path, then the directory
// is synced so the rename itself survives a crash. The mode is set on the
// temporary file before any byte is written, so a secret is never readable by
// others, not even for a moment.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for content that is streamed (a
// snapshot of several GiB): fill writes it; if fill fails, nothing is left
// behind and path is untouched.
func WriteAtomic(path string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = fill(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return syncDir(dir)
}

// EnsurePrivateDir creates dir (and parents) with mode 0700, and tightens an
// existing dir to 0700: a key file's own mode means little in a readable
// directory that others can list and, if writable, replace files in.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, PrivateDirMode); err != nil {
		return fmt.Errorf("creating private directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, PrivateDirMode); err != nil {
		return fmt.Errorf("restricting %s to 0700: %w", dir, err)
	}
	return nil
}
