//go:build !linux

package kubeconfig

import "errors"

// dieOnceWritten needs Linux's rt_sigaction and RLIMIT_FSIZE; the test that
// uses it is built for Linux only.
func dieOnceWritten(int64) error { return errors.New("a crash mid-write is only arranged on Linux") }

// fillsAt needs Linux's RLIMIT_FSIZE too.
func fillsAt(int64) error { return errors.New("a full disk is only arranged on Linux") }
