package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// LockFile is the lock's name in the state directory.
const LockFile = "lock"

// ErrLocked is a state directory another kbs is changing.
var ErrLocked = errors.New("the cluster's state directory is locked")

// Lock takes the cluster's state directory for one mutating command: two
// runs that each made a CA, or wrote each other's journal, would leave a
// key that does not match its certificate. The lock is an exclusive
// advisory lock (flock) on DIR/lock, so it dies with its process — a
// killed kbs never leaves a stale one — and the file says who holds it
// (PID, command, since when) for the one that is refused. Read commands
// do not take it.
func Lock(dir, command string) (release func(), err error) {
	if err := fsutil.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if !held {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("%w by %s: wait for it to finish (kbs changes a cluster's state one command at a time)", ErrLocked, describeHolder(holder))
	}
	// Who holds it, for the one refused; written only once the lock is ours.
	info := fmt.Sprintf("pid %d: %s (since %s)\n", os.Getpid(), command, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0)
	}
	return func() {
		_ = f.Truncate(0)
		unlock(f)
		f.Close()
	}, nil
}

func describeHolder(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "another kbs (it is just starting)"
	}
	return s
}
