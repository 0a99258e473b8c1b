//go:build linux

package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"k8s.io/client-go/tools/clientcmd"
)

// dieOnceWritten makes this process die the moment it writes byte limit+1
// of any one file: RLIMIT_FSIZE has the kernel cut the write off at limit
// bytes and send SIGXFSZ on the next one. Go catches SIGXFSZ (the write
// would just fail with EFBIG and the writer would clean up after itself),
// so its disposition is set back to the kernel's default, which ends the
// process on the spot, between two bytes of the file, as a crash or a kill
// would; no core is dumped.
func dieOnceWritten(limit int64) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", errno)
	}
	// A zeroed kernel sigaction is SIG_DFL on every layout; it is larger
	// than any of them.
	var dfl [8]uint64
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGXFSZ), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); errno != 0 {
		return fmt.Errorf("rt_sigaction(SIGXFSZ, SIG_DFL): %w", errno)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		return err
	}
	lim.Cur = uint64(limit)
	return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
}

// crashAt falls inside the crashing writer's token: past the lock (a PID)
// and the backup (the old file), short of the end of the new kubeconfig.
const crashAt = 10_000

// A writer that dies while it writes the new kubeconfig leaves the old one
// in place, byte for byte, and the lock it leaves behind with its dead PID
// is taken over by the next writer. The writer is not killed at a moment
// picked by timing: the kernel ends it inside a write, once it has written
// exactly crashAt bytes of the new content, and the test checks that those
// bytes went to a file of their own.
func TestKilledWriterLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	must(t, os.WriteFile(path, []byte(existing), 0o600))
	before, err := os.Stat(path)
	must(t, err)
	// What the writer was to write: the same edit, made here.
	d, err := Parse([]byte(existing))
	must(t, err)
	must(t, d.Set(Users, "victim", map[string]any{"token": crashToken}))
	want, err := d.Bytes()
	must(t, err)
	if len(existing) >= crashAt || len(want) <= crashAt {
		t.Fatalf("the crash point (%d) must lie past the old file (%d bytes) and inside the new one (%d)", crashAt, len(existing), len(want))
	}

	c := writer(path, "victim "+strconv.Itoa(crashAt))
	var stderr bytes.Buffer
	c.Stderr = &stderr
	err = c.Run()
	// The kernel sends SIGXFSZ only to a process writing past its limit:
	// dying of it proves the writer had begun writing.
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGXFSZ {
		t.Fatalf("the writer ended with %v, want death by SIGXFSZ in the middle of a write; stderr:\n%s", err, stderr.String())
	}

	got, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, []byte(existing)) {
		t.Fatalf("the kubeconfig changed although its writer died mid-write: %d bytes, starting %q", len(got), got[:min(len(got), 80)])
	}
	if now, err := os.Stat(path); err != nil || !os.SameFile(before, now) {
		t.Fatalf("the kubeconfig was replaced by another file (%v)", err)
	}
	partial := leftovers(t, dir, "config", "config.lock", "config"+BackupSuffix)
	if len(partial) != 1 {
		t.Fatalf("want one half-written file beside the kubeconfig, found %v", partial)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, partial[0])); !bytes.Equal(b, want[:crashAt]) {
		t.Fatalf("%s holds %d bytes, want the first %d of the new kubeconfig", partial[0], len(b), crashAt)
	}
	if lock, _ := os.ReadFile(path + ".lock"); strings.TrimSpace(string(lock)) != strconv.Itoa(c.Process.Pid) {
		t.Fatalf("lock holds %q, want the dead writer's PID %d", lock, c.Process.Pid)
	}

	// The next writer takes the dead writer's lock over at once; if it
	// waited instead, it would fail after LockTimeout.
	defer func(old time.Duration) { LockTimeout = old }(LockTimeout)
	LockTimeout = 5 * time.Second
	must(t, Update(path, func(d *Doc) error { return d.Set(Users, "after", map[string]any{"token": "t"}) }))
	cfg, err := clientcmd.LoadFromFile(path)
	must(t, err)
	if cfg.AuthInfos["admin"] == nil || cfg.AuthInfos["after"] == nil || cfg.AuthInfos["victim"] != nil {
		t.Fatalf("users after the next write: %v, want admin and after", slices.Sorted(maps.Keys(cfg.AuthInfos)))
	}
	if b, _ := os.ReadFile(path + BackupSuffix); string(b) != existing {
		t.Fatal("the next writer's backup is not the file the dead writer left intact")
	}
	if rest := leftovers(t, dir, "config", "config"+BackupSuffix); len(rest) != 0 {
		t.Fatalf("the next writer left %v behind (the dead writer's lock or its half-written file)", rest)
	}
}

// leftovers lists dir's entries other than known.
func leftovers(t *testing.T, dir string, known ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var rest []string
	for _, e := range entries {
		if !slices.Contains(known, e.Name()) {
			rest = append(rest, e.Name())
		}
	}
	return rest
}

// fillsAt makes every file this process writes end at limit bytes with an
// error, as a full disk does: Go ignores the SIGXFSZ that comes with it,
// so the write fails with EFBIG and the writer carries on to report it.
func fillsAt(limit int64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		return err
	}
	lim.Cur = uint64(limit)
	return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
}

// A disk that fills while the kubeconfig is merged leaves it as it was,
// byte for byte, no temporary file and no lock behind, and the error says
// the file is unchanged.
func TestFullDiskLeavesTheKubeconfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	must(t, os.WriteFile(path, []byte(existing), 0o600))
	c := writer(path, "victim "+strconv.Itoa(crashAt)+" full")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	err := c.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("writer: %v, want exit 1 with the error\n%s", err, stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "file too large") || !strings.Contains(msg, "it is unchanged") {
		t.Errorf("the error does not say what happened and that the kubeconfig is unchanged: %s", msg)
	}
	if got, _ := os.ReadFile(path); string(got) != existing {
		t.Fatalf("the kubeconfig changed:\n%s", got)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "config" && e.Name() != "config"+BackupSuffix {
			t.Errorf("left %s behind", e.Name())
		}
	}
}
