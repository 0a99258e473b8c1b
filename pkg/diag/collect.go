package diag

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// Command is one source read by running a command on the node.
type Command struct {
	Name  string   // path inside the node's folder
	Cmd   string   // shell; stdout is the content
	Roles []string // empty: every role
	// Log marks the sources that can be large (journals, log files): they
	// travel compressed when the node can compress them.
	Log bool
}

// Options filter what is collected, as journalctl's own flags do.
type Options struct {
	Since   string        // journalctl --since, e.g. "10 min ago" or "2026-11-25 04:00"
	Until   string        // journalctl --until
	Tail    int           // last N lines per log source (0: all)
	Grep    string        // keep only log lines matching this (extended) regexp
	Reverse bool          // newest first (journalctl -r)
	Timeout time.Duration // per source
	// Compress is auto (zstd on the node when it has it) or none.
	Compress string

	zstd bool // this node's logs travel through zstd (set per node)
}

// journal is the journalctl invocation for one unit ("" for kernel: -k).
func (o Options) journal(unit string) string {
	var b strings.Builder
	b.WriteString("journalctl --no-pager -o short-iso-precise")
	if unit == "" {
		b.WriteString(" -k")
	} else {
		b.WriteString(" -u " + unit)
	}
	if o.Since != "" {
		b.WriteString(" --since " + shell.Quote(o.Since))
	}
	if o.Until != "" {
		b.WriteString(" --until " + shell.Quote(o.Until))
	}
	if o.Tail > 0 {
		b.WriteString(" -n " + strconv.Itoa(o.Tail))
	}
	if o.Grep != "" {
		b.WriteString(" -g " + shell.Quote(o.Grep))
	}
	if o.Reverse {
		b.WriteString(" -r")
	}
	return b.String()
}

// filter applies --grep, --tail and -r to a plain file's lines.
func (o Options) filter(cmd string) string {
	if o.Grep != "" {
		cmd += " | { grep -E " + shell.Quote(o.Grep) + " || true; }"
	}
	if o.Tail > 0 {
		cmd += " | tail -n " + strconv.Itoa(o.Tail)
	}
	if o.Reverse {
		cmd += " | tac"
	}
	return cmd
}

// logFiles are where the operator's notes say each role logs; rotated and
// gzipped ones are read too, oldest first.
var logFiles = map[string][]string{
	"control-plane": {"kube-apiserver", "kube-scheduler", "kube-controller-manager", "kubelet", "kube-proxy"},
	"worker":        {"kubelet", "kube-proxy"},
	"etcd":          {"etcd"},
}

// Commands are the role-aware sources read over SSH: the notes' log files
// and journald units, kernel messages, unit status, the clock, listening
// ports, resources, CNI config, kubelet config, certificate metadata (never
// keys) and containers.
func Commands(o Options) []Command {
	cmds := []Command{
		{Name: "journal/kubelet.log", Cmd: o.journal("kubelet"), Roles: []string{"control-plane", "worker"}, Log: true},
		{Name: "journal/containerd.log", Cmd: o.journal("containerd"), Roles: []string{"control-plane", "worker"}, Log: true},
		{Name: "journal/etcd.log", Cmd: o.journal("etcd"), Roles: []string{"etcd"}, Log: true},
		{Name: "journal/kube-proxy.log", Cmd: o.journal("kube-proxy") + " 2>/dev/null | grep -v '^-- No entries --' || true", Roles: []string{"control-plane", "worker"}, Log: true},
		{Name: "journal/kernel.log", Cmd: o.journal(""), Log: true},
		{Name: "systemctl-status.txt", Cmd: "systemctl status --no-pager --full kubelet containerd etcd 2>&1; systemctl show -p NRestarts,ActiveState,SubState kubelet containerd etcd 2>&1; true"},
		{Name: "timedatectl.txt", Cmd: "timedatectl 2>&1; true"},
		{Name: "listening-ports.txt", Cmd: "ss -Hltnup"},
		{Name: "resources.txt", Cmd: "df -hP; echo; df -iP; echo; free -m; echo; echo '== swap'; tail -n +2 /proc/swaps"},
		{Name: "cni.txt", Cmd: "ls -la /etc/cni/net.d 2>&1; for f in /etc/cni/net.d/*; do [ -f \"$f\" ] && { echo \"== $f\"; cat \"$f\"; }; done; true"},
		{Name: "kubelet-config.yaml", Cmd: "cat /var/lib/kubelet/config.yaml 2>/dev/null || echo '(no /var/lib/kubelet/config.yaml)'", Roles: []string{"control-plane", "worker"}},
		{Name: "certificates.txt", Cmd: certsCmd},
		{Name: "journal/keepalived.log", Cmd: o.journal("keepalived") + " 2>/dev/null | grep -v '^-- No entries --' || true", Roles: []string{"control-plane"}, Log: true},
		{Name: "journal/haproxy.log", Cmd: o.journal("haproxy") + " 2>/dev/null | grep -v '^-- No entries --' || true", Roles: []string{"control-plane"}, Log: true},
		{Name: "loadbalancer.txt", Cmd: lbStateCmd, Roles: []string{"control-plane"}},
		{Name: "calico.txt", Cmd: calicoStateCmd, Roles: []string{"control-plane", "worker"}},
		{Name: "files/calico-node.log", Cmd: o.filter(calicoLogCmd), Roles: []string{"control-plane", "worker"}, Log: true},
		{Name: "containers.txt", Cmd: "if command -v crictl >/dev/null; then crictl ps -a 2>&1; else echo '(crictl not installed)'; fi; true", Roles: []string{"control-plane", "worker"}},
	}
	for role, names := range logFiles {
		for _, n := range names {
			script := fmt.Sprintf(`for f in $(ls -tr /var/log/%[1]s.log* 2>/dev/null); do case $f in *.gz) zcat "$f";; *) cat "$f";; esac; done`, n)
			cmds = append(cmds, Command{Name: "files/" + n + ".log", Cmd: o.filter("{ " + script + "; }"), Roles: []string{role}, Log: true})
		}
	}
	return dedupe(cmds)
}

// lbStateCmd reports the kbs-managed endpoint on a control plane, one fact
// per line: the units, the VIP (read from keepalived.conf's
// virtual_ipaddress block only: the file also holds the VRRP password)
// and whether this host holds it, and haproxy's view of each API server.
const lbStateCmd = `if [ ! -e /etc/keepalived/keepalived.conf ] && [ ! -e /etc/haproxy/haproxy.cfg ]; then echo 'no load balancer on this host'; exit 0; fi
for u in keepalived haproxy; do echo "unit $u $(systemctl is-active $u 2>/dev/null)"; done
vip=$(sed -n '/virtual_ipaddress/,/}/p' /etc/keepalived/keepalived.conf 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+){3}/32' | head -1)
if [ -n "$vip" ]; then
  if [ -n "$(ip -o -4 addr show to "$vip")" ]; then echo "vip ${vip%/32} held"; else echo "vip ${vip%/32} not-held"; fi
fi
if command -v socat >/dev/null && [ -S /run/haproxy/admin.sock ]; then
  echo 'show servers state' | socat stdio unix-connect:/run/haproxy/admin.sock 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && NF > 6 {s = ($6 == 2) ? "up" : "down"; print "backend " $4 " " $5 " " s}'
else echo 'backends unknown (no socat or no haproxy admin socket)'; fi`

// calicoStateCmd reports calico on a node, one fact per line: its
// calico-node container's state, whether the VXLAN tunnel exists, and the
// address blocks felix routes for this node's pods (protocol 80).
const calicoStateCmd = `if [ ! -e /etc/cni/net.d/10-calico.conflist ] && ! ip link show vxlan.calico >/dev/null 2>&1; then echo 'no calico on this node'; exit 0; fi
st=$(crictl ps -a --name '^calico-node$' -o json 2>/dev/null | grep -o '"state": *"CONTAINER_[A-Z]*"' | head -1 | grep -o 'CONTAINER_[A-Z]*')
echo "calico-node ${st:-absent}"
if ip link show vxlan.calico >/dev/null 2>&1; then echo 'vxlan present'; else echo 'vxlan missing'; fi
ip -4 route show proto 80 2>/dev/null | awk '$1 == "blackhole" {print "block " $2}'
true`

// calicoLogCmd is the last calico-node container's log (felix and the
// startup), which calico writes to stdout only.
const calicoLogCmd = `{ id=$(crictl ps -a --name '^calico-node$' -q 2>/dev/null | head -1); [ -n "$id" ] && crictl logs --tail 5000 "$id" 2>&1; true; }`

func dedupe(cmds []Command) []Command {
	byName := map[string]int{}
	var out []Command
	for _, c := range cmds {
		if i, ok := byName[c.Name]; ok {
			out[i].Roles = append(out[i].Roles, c.Roles...)
			continue
		}
		byName[c.Name] = len(out)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Command) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// certsCmd prints the metadata of every certificate kubeadm and kbs place
// (subject, issuer, expiry): certificates only, never a key file.
const certsCmd = `for f in /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/etcd/*.crt /etc/etcd/pki/*.crt /var/lib/kubelet/pki/*.crt; do
  [ -f "$f" ] || continue
  if command -v openssl >/dev/null; then echo "$f $(openssl x509 -noout -enddate -in "$f" 2>/dev/null)"; else echo "$f (openssl not installed)"; fi
done; true`

// CollectNode runs every source for role over conn into the bundle, each
// streamed (never held whole) and each with its own timeout; it returns the
// sources that failed.
func CollectNode(ctx context.Context, conn remote.Conn, node, role string, b *Bundle, o Options) []Source {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	var failed []Source
	for _, c := range commandsFor(o, role) {
		src := collectOne(ctx, conn, node, c, b, o)
		if src.Status != "ok" {
			failed = append(failed, src)
		}
	}
	return failed
}

// commandsFor are the sources of one role.
func commandsFor(o Options, role string) []Command {
	var out []Command
	for _, c := range Commands(o) {
		if len(c.Roles) == 0 || role == "" || slices.Contains(c.Roles, role) {
			out = append(out, c)
		}
	}
	return out
}

func collectOne(ctx context.Context, conn remote.Conn, node string, c Command, b *Bundle, o Options) Source {
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	meta := Source{Node: node, Name: c.Name, Transport: "ssh"}
	cmd := c.Cmd
	if o.zstd && c.Log {
		cmd, meta.Compression = zstdWrap(cmd), CompressZstd
	}
	pr, pw := io.Pipe()
	var streamErr atomic.Pointer[error]
	go func() {
		err := conn.Stream(cctx, cmd, pw, remote.Privileged())
		if err != nil {
			err = fmt.Errorf("%s: %w", c.Name, err)
		}
		streamErr.Store(&err)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	if meta.Compression == "" {
		return b.AddSource(meta, pr)
	}
	return b.AddZstd(meta, pr, func() error {
		if e := streamErr.Load(); e != nil {
			return *e
		}
		return nil
	})
}

// preferErr reads r, but when a read fails and cause() has an error, that
// is the error: a failed command reaches the decoder as a cut-off stream,
// and the manifest should say what failed, not what the decoder made of it.
type preferErr struct {
	r     io.Reader
	cause func() error
}

func (p preferErr) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		if c := p.cause(); c != nil {
			err = c
		}
	}
	return n, err
}

// clockOffset turns the node's `date -u +%s.%N`, read between before and
// after, into the node's clock minus this machine's.
func clockOffset(out string, before, after time.Time) (time.Duration, error) {
	secs, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		return 0, fmt.Errorf("reading the node's clock: %w", err)
	}
	mid := before.Add(after.Sub(before) / 2)
	node := time.Unix(0, int64(secs*1e9))
	return node.Sub(mid), nil
}
