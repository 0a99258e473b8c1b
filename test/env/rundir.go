package env

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunDir is one test run's directory under RunRoot. It records its owner (the
// test process) and the PIDs of what it started, so a later run can tell a
// live run from an abandoned one and clean up after the latter.
type RunDir struct {
	Path string
	// Kept runs outlive their creator (see NewKeptRunDir).
	Kept bool
}

const ownerFile = "owner"

// NewRunDir creates RunRoot/<kind>-<pid>-<time> after reaping the run
// directories of dead owners.
func NewRunDir(kind string) (*RunDir, error) { return newRunDir(kind, false) }

// NewKeptRunDir is a run directory that outlives its creator (`make demo`):
// its processes do not die with the creating process and no later run reaps
// it; Reap removes it explicitly (`make demo-down`).
func NewKeptRunDir(kind string) (*RunDir, error) { return newRunDir(kind, true) }

// keptOwner marks a kept run in its owner file.
const keptOwner = "kept"

func newRunDir(kind string, kept bool) (*RunDir, error) {
	root, err := RunRoot()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	ReapStale(root)
	path := filepath.Join(root, fmt.Sprintf("%s-%d-%d", kind, os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(path, 0o700); err != nil {
		return nil, err
	}
	owner := fmt.Sprintf("%d %s", os.Getpid(), procStart(os.Getpid()))
	if kept {
		owner = keptOwner
	}
	if err := os.WriteFile(filepath.Join(path, ownerFile), []byte(owner), 0o600); err != nil {
		return nil, err
	}
	return &RunDir{Path: path, Kept: kept}, nil
}

// Join returns a path inside the run directory.
func (r *RunDir) Join(elem ...string) string {
	return filepath.Join(append([]string{r.Path}, elem...)...)
}

// RecordPID notes a process started for this run.
func (r *RunDir) RecordPID(name string, pid int) error {
	dir := r.Join("pids")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(pid)), 0o600)
}

// Cleaner undoes what a run set up outside its directory (mounts, bridges,
// cgroups). Packages register one per kind so that reaping covers them.
type Cleaner func(runDir string)

var cleaners = map[string]Cleaner{}

// RegisterCleaner adds the clean-up for run directories named <kind>-*.
func RegisterCleaner(kind string, c Cleaner) { cleaners[kind] = c }

// ReapStale kills the processes of run directories whose owner has died and
// removes those directories. Errors are ignored: reaping is best effort and
// a leftover must not fail an unrelated test.
func ReapStale(root string) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || ownerAlive(dir) {
			continue
		}
		Reap(dir)
	}
}

// Reap kills every recorded process of a run directory (only if it still is
// that run's: its command line must mention the directory), runs the kind's
// cleaner and removes the directory.
func Reap(dir string) {
	pids, _ := os.ReadDir(filepath.Join(dir, "pids"))
	for _, p := range pids {
		b, _ := os.ReadFile(filepath.Join(dir, "pids", p.Name()))
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && cmdlineMentions(pid, dir) {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // its process group
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	kind, _, _ := strings.Cut(filepath.Base(dir), "-")
	if c, ok := cleaners[kind]; ok {
		c(dir)
	}
	_ = removeAll(dir)
}

func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false
	}
	if strings.TrimSpace(string(b)) == keptOwner {
		return true
	}
	pidStr, start, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return false
	}
	return procStart(pid) == start && start != ""
}

// procStart is a live process's start time in clock ticks since boot (field 22
// of /proc/PID/stat): with the PID it identifies a process even if the PID is
// reused later.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return "" // a zombie is dead, even if nobody has reaped it yet
	}
	return f[19]
}

func cmdlineMentions(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), dir)
}

// removeAll removes dir, retrying briefly: a process just killed may still
// hold files open for a moment.
func removeAll(dir string) error {
	var err error
	for i := 0; i < 10; i++ {
		if err = os.RemoveAll(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
