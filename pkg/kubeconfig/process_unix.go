//go:build unix

package kubeconfig

import (
	"errors"
	"os"
	"syscall"
)

// processGone says whether no process has this PID.
func processGone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// serialize holds an exclusive flock on dir (the kubeconfig's folder, so no
// file is added beside it) while kbs tries to take path.lock: taking over a
// dead writer's lock is a check and a remove, and two kbs doing it at once
// could otherwise remove a lock a third had just taken.
func serialize(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
