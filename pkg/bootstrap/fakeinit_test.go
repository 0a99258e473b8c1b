package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// fakeInit is an Init whose hosts are remotetest fakes: what a phase sends
// a host is read back from ssh, what it prints from out. The state
// directory and the operator's kubeconfig live in the test's temp dir.
type fakeInit struct {
	*Init
	ssh *remotetest.Dialer
	out *bytes.Buffer
	// stateDir is the state directory (not created by a dry run).
	stateDir string
}

// newFakeInit builds the Init a `kubectl kbs init` of spec would run on,
// as cmd's newSession does, with a fake SSH dialer. A dry run works on one
// host at a time (--parallel 1) so that its plan reads in a fixed order; a
// real run keeps the default parallelism, as the race detector should see.
func newFakeInit(t *testing.T, spec *cluster.Cluster, dryRun bool) *fakeInit {
	t.Helper()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	local, err := state.Open(stateDir, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	parallel := 0
	if dryRun {
		parallel = 1
	}
	ssh := new(remotetest.Dialer)
	// Session.Log writes under the session's lock: a plain buffer is safe.
	out := new(bytes.Buffer)
	d := &Init{
		Session:    &host.Session{Spec: spec, Local: local, SSH: ssh, Plan: dryRun, Parallel: parallel, Out: out},
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
	}
	return &fakeInit{Init: d, ssh: ssh, out: out, stateDir: stateDir}
}

// run runs the init workflow as cmd's Run does (the runner logging through
// the session); only names the phases to run, none meaning all. Naming a
// phase runs it in the foreground, as `kubectl kbs init phase NAME` does.
func (f *fakeInit) run(ctx context.Context, only ...string) error {
	r := InitWorkflow()
	r.Log = func(phase, format string, args ...any) { f.Log(phase, "", format, args...) }
	return r.RunAll(ctx, f.Init, nil, only)
}

// onHosts runs fn on every host of role through the session, as a phase
// does: for phases whose remote work is tested apart from what follows it
// (etcd's health wait, join's API calls).
func (f *fakeInit) onHosts(ctx context.Context, role string, fn func(context.Context, *host.Host) error) error {
	return f.OnHosts(ctx, f.Cluster().HostsWithRole(role), fn)
}

// conn is the fake connection to the host called name.
func (f *fakeInit) conn(name string) *remotetest.Conn { return f.ssh.Conn(name) }

// output is what the run printed so far.
func (f *fakeInit) output() string { return f.out.String() }

// dialed is the set of hosts the run connected to.
func (f *fakeInit) dialed() []string {
	return slices.Compact(slices.Sorted(slices.Values(f.ssh.Dials())))
}

// names are the names of hosts.
func names(hosts []cluster.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	slices.Sort(out)
	return out
}

// sumQueryRE matches what EnsureFile and EnsureLocalFile ask a host before
// they write: the file's sha256, and for EnsureFile its mode.
var sumQueryRE = regexp.MustCompile(`^sha256sum '([^']+)' 2>/dev/null \| cut -d' ' -f1(; stat -c %a '[^']+' 2>/dev/null)?$`)

// bundleSumsRE matches the one query installBundle makes for every file.
var bundleSumsRE = regexp.MustCompile(`^sha256sum ((?:'[^']+' ?)+) 2>/dev/null; true$`)

// serveFileSums answers the checksum queries from the fake's own files, as
// the shell on a real host would: a file kbs wrote earlier (or the test
// seeded) compares equal, so an unchanged re-run writes nothing.
func serveFileSums(c *remotetest.Conn) {
	c.OnFunc(sumQueryRE.String(), func(cmd string, _ []byte) ([]byte, error) {
		m := sumQueryRE.FindStringSubmatch(cmd)
		f, ok := c.Stat(m[1])
		if !ok {
			// sha256sum and stat print nothing (stderr is discarded) and
			// the last one fails.
			return nil, remotetest.Exit(1, "")
		}
		out := sha256Hex(f.Data) + "\n"
		if m[2] != "" {
			out += fmt.Sprintf("%o\n", f.Mode.Perm())
		}
		return []byte(out), nil
	})
	c.OnFunc(bundleSumsRE.String(), func(cmd string, _ []byte) ([]byte, error) {
		var out strings.Builder
		for _, q := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(cmd, -1) {
			if data, ok := c.File(q[1]); ok {
				fmt.Fprintf(&out, "%s  %s\n", sha256Hex(data), q[1])
			}
		}
		return []byte(out.String()), nil
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// nodeOptions say how a scripted node differs from a healthy fresh one.
type nodeOptions struct {
	// containerdVersion is what `containerd --version` prints.
	containerdVersion string
}

// freshNode scripts a host kbs has not touched yet that every phase can
// work on: no kbs file on it, the kernel ready for Kubernetes once kbs has
// loaded its modules, no swap, etcd of the spec's version installed
// (examples/k8s.yaml sets no spec.etcd.binary, so the etcd phase expects
// one there), apt working, and kubelet, kubeadm and containerd answering
// once the runtime phase installed them. Anything else succeeds silently.
func freshNode(spec *cluster.Cluster, o nodeOptions) func(*remotetest.Conn) {
	if o.containerdVersion == "" {
		o.containerdVersion = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1"
	}
	v := spec.Spec.KubernetesVersion
	return func(c *remotetest.Conn) {
		// Flipped by the package install, so a re-run finds it done.
		installed := new(atomic.Bool)
		serveFileSums(c)
		c.On(`^cat /proc/sys/net/ipv4/ip_forward; test -e /proc/sys/net/bridge/bridge-nf-call-iptables && echo bridge$`, "1\nbridge\n", nil)
		c.On(`^tail -n \+2 /proc/swaps$`, "", nil)
		c.On(`^/usr/local/bin/etcd --version$`, "etcd Version: "+strings.TrimPrefix(spec.Spec.Etcd.Version, "v")+"\nGit SHA: 0000000\nGo Version: go1.26\n", nil)
		// A fresh member: no data yet, so it gets the initial-cluster file.
		c.On(`^test -d '[^']+'/member && test -f `, "", remotetest.Exit(1, ""))
		c.On(`^containerd --version$`, o.containerdVersion+"\n", nil)
		c.OnFunc(`^exec 9>/run/kbs-apt\.lock && flock 9 && export DEBIAN_FRONTEND=noninteractive && `, func(string, []byte) ([]byte, error) {
			installed.Store(true)
			return nil, nil
		})
		c.OnFunc(`^kubelet --version; kubeadm version -o short; command -v containerd$`, func(string, []byte) ([]byte, error) {
			if !installed.Load() {
				return []byte("Kubernetes " + v + "\n"), remotetest.Exit(127, "kubeadm: command not found")
			}
			return []byte("Kubernetes " + v + "\n" + v + "\n/usr/bin/containerd\n"), nil
		})
		c.OnFunc(`^kubelet --version && kubeadm version -o short && ctr version >/dev/null && systemctl is-active containerd.service$`, func(string, []byte) ([]byte, error) {
			if !installed.Load() && spec.Spec.Runtime.Source != cluster.RuntimeSourceBundle {
				return nil, remotetest.Exit(127, "kubelet: command not found")
			}
			return []byte("Kubernetes " + v + "\n" + v + "\nactive\n"), nil
		})
		c.On(`^ctr -n k8s.io images ls -q$`, SandboxImage(spec)+"\n", nil)
		c.On(`^ctr plugins ls `, "ok\n", nil)
		// Not a control plane yet, and no half-finished kubeadm init.
		c.On(`^test -s /etc/kubernetes/admin.conf && kubectl `, "", remotetest.Exit(1, ""))
		c.On(`^test -e /etc/kubernetes/manifests/kube-apiserver.yaml$`, "", remotetest.Exit(1, ""))
		c.On(`^test -s /etc/kubernetes/pki/sa\.key$`, "", remotetest.Exit(1, ""))
	}
}

// writtenPaths are the paths written on each host of spec that got any.
func (f *fakeInit) writtenPaths() map[string][]string {
	out := map[string][]string{}
	for _, h := range f.Cluster().Spec.Hosts {
		if w := f.conn(h.Name).Writes(); len(w) > 0 {
			out[h.Name] = slices.Sorted(maps.Keys(w))
		}
	}
	return out
}

// planWriteRE finds the files a dry-run plan says it would place: written
// by EnsureFile, uploaded by EnsureLocalFile or from a runtime bundle.
var planWriteRE = regexp.MustCompile(`(?m)^\[plan\] (\S+): would (?:write (\S+) \(mode|upload(?: and import into containerd as it arrives)? \S+ to (\S+) \(mode)`)

// plannedPaths are the paths a dry-run plan would write, by host.
func plannedPaths(plan string) map[string][]string {
	out := map[string][]string{}
	for _, m := range planWriteRE.FindAllStringSubmatch(plan, -1) {
		out[m[1]] = append(out[m[1]], m[2]+m[3])
	}
	for h, paths := range out {
		slices.Sort(paths)
		out[h] = slices.Compact(paths)
	}
	return out
}

// indexOf is the position of the first recorded call that matches
// pattern (a run's command, a write's or a read's path), or -1.
func indexOf(calls []remotetest.Call, pattern string) int {
	re := regexp.MustCompile(pattern)
	for i, call := range calls {
		what := call.Cmd
		if call.Kind == remotetest.KindWrite || call.Kind == remotetest.KindRead {
			what = call.Path
		}
		if re.MatchString(what) {
			return i
		}
	}
	return -1
}

// assertRanInOrder checks that c's commands include one matching each
// pattern, in this order.
func assertRanInOrder(t *testing.T, c *remotetest.Conn, patterns ...string) {
	t.Helper()
	cmds := c.Commands()
	i := 0
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		for i < len(cmds) && !re.MatchString(cmds[i]) {
			i++
		}
		if i == len(cmds) {
			t.Fatalf("%s: no command matching %q (after the earlier ones) in\n%s", c.Name(), p, strings.Join(cmds, "\n"))
		}
		i++
	}
}

// withHosts is spec with more hosts, for phases that pick the first
// control plane or work on every etcd member.
func withHosts(spec *cluster.Cluster, hosts ...cluster.Host) *cluster.Cluster {
	c := *spec
	c.Spec.Hosts = append(slices.Clone(spec.Spec.Hosts), hosts...)
	return &c
}
