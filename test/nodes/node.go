package nodes

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/test/env"
)

// bootTimeout bounds how long a node may take to reach `running` with sshd up.
const bootTimeout = 120 * time.Second

// start launches the node's systemd-nspawn. A small shell is the launcher: it
// moves itself into the node's cgroups, then execs nspawn, so nspawn and the
// whole container start inside them.
func (c *Cluster) start(n *Node) error {
	rel := filepath.Join("kbs", filepath.Base(c.Run.Path), n.Name)
	var err error
	n.cgroups, err = makeCgroups(rel)
	recordCgroups(c.Run, n)
	if err != nil {
		return err
	}
	var script strings.Builder
	for _, cg := range n.cgroups {
		fmt.Fprintf(&script, "echo $$ > %s/cgroup.procs || exit 1\n", cg)
	}
	script.WriteString(`exec env SYSTEMD_SECCOMP=0 "$@"`)
	args := []string{"-c", script.String(), "kbs-node-launcher",
		"systemd-nspawn",
		"--register=no", "--keep-unit", // no machined or system bus here
		"--boot", "--machine=" + n.Machine, "--hostname=" + n.Name,
		"--directory=" + n.Root,
		"--network-bridge=" + c.Bridge,
		"--capability=all", // privileged pods (kube-proxy) need what nspawn drops
		"--bind=/dev/kmsg", // kubelet's OOM watcher opens it
		"--resolv-conf=off", "--timezone=off", "--link-journal=no",
	}
	n.nspawn, err = c.Run.Start("node-"+n.Name, "/bin/sh", args...)
	return err
}

func recordCgroups(run *env.RunDir, n *Node) {
	dir := run.Join("cgroups")
	_ = os.MkdirAll(dir, 0o700)
	_ = os.WriteFile(filepath.Join(dir, n.Machine), []byte(strings.Join(n.cgroups, "\n")), 0o600)
}

// waitReady waits for the container's init, then `systemctl
// is-system-running` = running, then sshd answering on port 22.
func (c *Cluster) waitReady(ctx context.Context, n *Node) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	var state string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if exited, werr := n.nspawn.Exited(); exited {
			return false, fmt.Errorf("systemd-nspawn exited: %v", werr)
		}
		if n.initPID == 0 {
			n.initPID = childOf(n.nspawn.PID())
			return false, nil
		}
		out, _ := n.Exec(ctx, "systemctl", "is-system-running")
		state = strings.TrimSpace(string(out))
		if state == "degraded" || state == "maintenance" {
			failed, _ := n.Exec(ctx, "systemctl", "--failed", "--no-legend")
			return false, fmt.Errorf("state %s; failed units:\n%s", state, failed)
		}
		return state == "running" && sshAnswers(n.IP), nil
	})
	if err != nil {
		return fmt.Errorf("node %s not ready (state %q): %w\nlast lines of %s:\n%s",
			n.Name, state, err, n.nspawn.LogPath, n.nspawn.LogTail(15))
	}
	return nil
}

// childOf returns the first child of pid: nspawn's child is the node's init.
func childOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	child, _ := strconv.Atoi(f[0])
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(comm)) != "systemd" {
		return 0 // not yet exec'd into systemd
	}
	return child
}

func sshAnswers(ip net.IP) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), "22"), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4)
	_, err = conn.Read(buf)
	return err == nil && string(buf) == "SSH-"
}

// Exec runs a command inside the node through its namespaces (not SSH), for
// harness work and for looking inside a node whose sshd is broken.
func (n *Node) Exec(ctx context.Context, args ...string) ([]byte, error) {
	if n.initPID == 0 {
		return nil, fmt.Errorf("node %s has no init process yet", n.Name)
	}
	full := append([]string{"-t", strconv.Itoa(n.initPID), "-m", "-u", "-i", "-n", "-p", "-C", "--"}, args...)
	return exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
}

// MemoryBytes is what the node's memory cgroup currently charges.
func (n *Node) MemoryBytes() (int64, error) { return memoryUsage(n.cgroups) }

// sigRTMinPlus3 is SIGRTMIN+3 as glibc (and so systemd) numbers it: 34+3.
// systemd, as a container's init, halts cleanly on it.
const sigRTMinPlus3 = syscall.Signal(37)

func (n *Node) shutdown() {
	if n.initPID != 0 {
		_ = syscall.Kill(n.initPID, sigRTMinPlus3)
	}
}

// waitGone waits for nspawn to exit after shutdown, then kills whatever is
// left in the node's cgroups.
func (n *Node) waitGone(grace time.Duration) {
	if n.nspawn != nil {
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) {
			if exited, _ := n.nspawn.Exited(); exited {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		n.nspawn.Stop(time.Second)
	}
	killCgroups(n.cgroups)
}
