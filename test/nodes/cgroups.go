package nodes

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const cgroupRoot = "/sys/fs/cgroup"

// hierarchies are the cgroup v1 hierarchies (and the unified one of a hybrid
// host) in which each node gets a cgroup of its own. nspawn's cgroup
// namespace then shows each node its own subtree as "/", so the kubelets of
// different nodes do not fight over one /kubepods. memory is separate: it
// must nest under the launching process's own memory cgroup.
var hierarchies = []string{"cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer", "pids", "systemd", "unified"}

// makeCgroups creates the node's cgroup in every hierarchy present on this
// host and returns their paths, parents first.
func makeCgroups(rel string) ([]string, error) {
	var made []string
	for _, h := range hierarchies {
		base := filepath.Join(cgroupRoot, h)
		if _, err := os.Stat(base); err != nil {
			continue // not mounted on this host
		}
		p, err := mkCgroup(base, rel, h == "cpuset")
		if err != nil {
			return made, err
		}
		made = append(made, p)
	}
	mem, err := ownCgroup("memory")
	if err == nil && mem != "" {
		p, err := mkCgroup(filepath.Join(cgroupRoot, "memory", mem), rel, false)
		if err != nil {
			return made, err
		}
		made = append(made, p)
	}
	return made, nil
}

// mkCgroup creates base/rel level by level. In the cpuset hierarchy a new
// cgroup starts with no CPUs or memory nodes, and nothing may join it until
// both are copied down from the parent.
func mkCgroup(base, rel string, cpuset bool) (string, error) {
	dir := base
	for _, part := range strings.Split(rel, "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return "", fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		if cpuset {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := copyFile(filepath.Join(parent, f), filepath.Join(dir, f)); err != nil {
					return "", fmt.Errorf("setting %s of %s: %w", f, dir, err)
				}
			}
		}
	}
	return dir, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// ownCgroup returns this process's cgroup path in a v1 hierarchy.
func ownCgroup(controller string) (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), controller) {
			return parts[2], nil
		}
	}
	return "", s.Err()
}

// killCgroups kills every process in the given cgroups (and below) until
// they are empty, then removes them depth-first. Used on teardown after a
// clean shutdown had its chance, and on stale runs.
func killCgroups(paths []string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n := signalAll(paths, syscall.SIGKILL); n == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range paths {
		removeTree(p)
	}
}

// signalAll sends sig to every process in the trees and says how many it found.
func signalAll(paths []string, sig syscall.Signal) int {
	n := 0
	for _, root := range paths {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, sig)
					n++
				}
			}
			return nil
		})
	}
	return n
}

// removeTree removes a cgroup directory and its children, deepest first
// (cgroup directories only go with rmdir, never with unlink of their files).
func removeTree(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i])
	}
}

// memoryUsage reads a v1 memory cgroup's current usage in bytes.
func memoryUsage(paths []string) (int64, error) {
	for _, p := range paths {
		if strings.HasPrefix(p, filepath.Join(cgroupRoot, "memory")+"/") {
			b, err := os.ReadFile(filepath.Join(p, "memory.usage_in_bytes"))
			if err != nil {
				return 0, err
			}
			return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		}
	}
	return 0, fmt.Errorf("node has no memory cgroup")
}
