package diag

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// Command is one source read by running a command on the node.
type Command struct {
	Name  string   // path inside the node's folder
	Cmd   string   // shell; stdout is the content
	Roles []string // empty: every role
}

// Options filter what is collected.
type Options struct {
	Since   string        // journalctl --since, e.g. "10 min ago"
	Timeout time.Duration // per source
}

// Commands are the role-aware sources read over SSH: the notes' log files
// and journald units, kernel messages, unit status, the clock, listening
// ports, resources, CNI config and kubelet config (never keys).
func Commands(o Options) []Command {
	since := ""
	if o.Since != "" {
		since = " --since " + quote(o.Since)
	}
	j := func(unit string) string {
		return "journalctl --no-pager -o short-iso-precise -u " + unit + since
	}
	return []Command{
		{Name: "journal/kubelet.log", Cmd: j("kubelet")},
		{Name: "journal/containerd.log", Cmd: j("containerd")},
		{Name: "journal/etcd.log", Cmd: j("etcd"), Roles: []string{"etcd"}},
		{Name: "journal/kube-proxy.log", Cmd: j("kube-proxy")},
		{Name: "journal/kernel.log", Cmd: "journalctl --no-pager -o short-iso-precise -k" + since},
		{Name: "systemctl-status.txt", Cmd: "systemctl status --no-pager --full kubelet containerd etcd 2>&1 || true"},
		{Name: "timedatectl.txt", Cmd: "timedatectl 2>&1; date -u +%Y-%m-%dT%H:%M:%S.%NZ"},
		{Name: "listening-ports.txt", Cmd: "ss -Hltnup"},
		{Name: "resources.txt", Cmd: "df -h; echo; df -i; echo; free -m; echo; swapon --show"},
		{Name: "cni.txt", Cmd: "ls -la /etc/cni/net.d 2>&1; for f in /etc/cni/net.d/*; do [ -f \"$f\" ] && { echo \"== $f\"; cat \"$f\"; }; done; true"},
		{Name: "kubelet-config.yaml", Cmd: "cat /var/lib/kubelet/config.yaml 2>/dev/null || echo '(no /var/lib/kubelet/config.yaml)'"},
		{Name: "files/var-log.txt", Cmd: "for f in /var/log/kube-apiserver.log* /var/log/kube-scheduler.log* /var/log/kube-controller-manager.log* /var/log/kubelet.log* /var/log/kube-proxy.log*; do [ -f \"$f\" ] || continue; echo \"==> $f\"; case $f in *.gz) zcat \"$f\";; *) cat \"$f\";; esac; done; true"},
	}
}

// CollectNode runs every source for role over conn into the bundle, each
// streamed (never held whole) and each with its own timeout; it returns the
// sources that failed.
func CollectNode(ctx context.Context, conn remote.Conn, node, role string, b *Bundle, o Options) []Source {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	var failed []Source
	for _, c := range Commands(o) {
		if len(c.Roles) > 0 && !slices.Contains(c.Roles, role) {
			continue
		}
		src := collectOne(ctx, conn, node, c, b, o.Timeout)
		if src.Status != "ok" {
			failed = append(failed, src)
		}
	}
	return failed
}

func collectOne(ctx context.Context, conn remote.Conn, node string, c Command, b *Bundle, timeout time.Duration) Source {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		err := conn.Stream(cctx, c.Cmd, pw, remote.Privileged())
		if err != nil {
			err = fmt.Errorf("%s: %w", c.Name, err)
		}
		pw.CloseWithError(err)
	}()
	src := b.Add(node, c.Name, "ssh", pr)
	pr.Close()
	return src
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
