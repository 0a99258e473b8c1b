//go:build unix

package kubeconfig

import (
	"errors"
	"syscall"
)

// processGone says whether no process has this PID.
func processGone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }
