//go:build integration

package bootstrap_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	kbscluster "github.com/kubectl-kbs/kbs/pkg/cluster"
)

// The whole life of one cluster's init: a dry run that touches nothing, a
// run killed during the etcd phase, its resumption, the result checked from
// outside, and a second run that changes nothing.
func TestInitFlow(t *testing.T) {
	path := spec(t, "one", map[int]string{0: kbscluster.RoleEtcd, 1: kbscluster.RoleControlPlane, 2: kbscluster.RoleWorker, 3: kbscluster.RoleWorker})
	state := filepath.Join(t.TempDir(), "state")
	etcdNode, cpNode := cluster.Nodes[0], cluster.Nodes[1]

	t.Run("dry run touches no host and writes no state", func(t *testing.T) {
		before := loginsAll(t)
		out, _ := mustKbs(t, initArgs(path, state, "--dry-run")...)
		for _, want := range []string{"would write /etc/systemd/system/etcd.service", "<key material elided>", "would validate the kubeadm configuration", "dry run done"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan lacks %q", want)
			}
		}
		if strings.Contains(out, "PRIVATE KEY") {
			t.Fatal("the plan prints key material")
		}
		if after := loginsAll(t); after != before {
			t.Fatalf("dry run logged in over SSH (%d logins before, %d after)", before, after)
		}
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Fatalf("dry run created the state directory: %v", err)
		}
		if got := onNode(t, etcdNode, "sh", "-c", "test -e /etc/etcd && echo present || echo absent"); got != "absent" {
			t.Fatal("dry run changed the etcd host")
		}
	})

	t.Run("a run killed during etcd resumes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Killed once the etcd phase has begun changing the etcd host: the
		// upload of etcd has started (its temporary file, or the binary),
		// seen absent first so that it is this run's.
		absentSeen := false
		killer := &interruptWhen{ctx: ctx, cancel: cancel, marker: "[etcd] install etcd", reached: func(ctx context.Context) (bool, error) {
			out, err := etcdNode.Exec(ctx, "sh", "-c", "ls -A /usr/local/bin 2>/dev/null | grep -qE '^(etcd|[.]kbs-tmp[.].*)$' && echo begun || echo absent")
			switch {
			case ctx.Err() != nil:
				return false, ctx.Err()
			case err != nil:
				return false, fmt.Errorf("%s: %v: %s", etcdNode.Name, err, out)
			case strings.TrimSpace(string(out)) == "absent":
				absentSeen = true
				return false, nil
			case !absentSeen:
				return false, fmt.Errorf("/usr/local/bin/etcd was on %s before the etcd phase began", etcdNode.Name)
			}
			return true, nil
		}}
		_, err := kbs(ctx, killer, initArgs(path, state)...)
		if werr := killer.wait(); werr != nil {
			t.Fatalf("the run was not killed inside the etcd phase: %v (run: %v)\n%s", werr, err, killer.progress())
		}
		if err == nil {
			t.Fatal("the interrupted run reported success")
		}
		if journaled(t, state, "etcd") {
			t.Fatalf("the kill landed after the etcd phase had finished:\n%s", killer.progress())
		}
		_, progress := mustKbs(t, initArgs(path, state)...)
		for _, want := range []string{"[preflight] already done (journal)", "[etcd-pki] already done (journal)", "healthy over mutual TLS", "accepted by kubeadm config validate"} {
			if !strings.Contains(progress, want) {
				t.Errorf("resumed run's progress lacks %q:\n%s\nthe killed run said:\n%s", want, progress, killer.progress())
			}
		}
	})

	t.Run("etcd runs under systemd and demands client certificates", func(t *testing.T) {
		if got := onNode(t, etcdNode, "systemctl", "is-active", "etcd.service"); got != "active" {
			t.Fatalf("etcd.service is %s", got)
		}
		if got := onNode(t, etcdNode, "systemctl", "is-enabled", "etcd.service"); got != "enabled" {
			t.Fatalf("etcd.service is %s, want enabled", got)
		}
		if err := etcdHealth(state, etcdNode, true); err != nil {
			t.Fatalf("health with the client cert: %v", err)
		}
		if err := etcdHealth(state, etcdNode, false); err == nil {
			t.Fatal("etcd answered a client without a certificate")
		}
		if got := onNode(t, etcdNode, "stat", "-c", "%a", "/etc/etcd/pki/server.key", "/etc/etcd/pki/peer.key"); got != "600\n600" {
			t.Fatalf("etcd key modes %q, want 600", got)
		}
		if got := onNode(t, cpNode, "stat", "-c", "%n %a", "/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key", "/etc/kbs/kubeadm.yaml"); !strings.Contains(got, "apiserver-etcd-client.key 600") {
			t.Fatalf("control-plane files: %s", got)
		}
	})

	t.Run("a second run changes nothing", func(t *testing.T) {
		caBefore, _ := os.ReadFile(filepath.Join(state, "pki", "etcd", "ca.crt"))
		started := onNode(t, etcdNode, "systemctl", "show", "-p", "MainPID,ExecMainStartTimestampMonotonic", "etcd.service")
		files := onNode(t, etcdNode, "sh", "-c", "stat -c '%n %Y' /etc/etcd/pki/* /etc/systemd/system/etcd.service /usr/local/bin/etcd")
		_, progress := mustKbs(t, initArgs(path, state)...)
		// preflight, etcd-pki, load-balancer (no spec.loadBalancer), etcd,
		// etcd-client-certs, kubeadm-config, control-plane-join (one control plane).
		if strings.Count(progress, "already done (journal)") != 7 {
			t.Errorf("want all seven phases verified and skipped:\n%s", progress)
		}
		// Running the etcd phase by itself is just as harmless.
		mustKbs(t, append([]string{"init", "phase", "etcd"}, initArgs(path, state)[1:]...)...)
		caAfter, _ := os.ReadFile(filepath.Join(state, "pki", "etcd", "ca.crt"))
		if !bytes.Equal(caBefore, caAfter) {
			t.Fatal("the etcd CA changed on a re-run")
		}
		if got := onNode(t, etcdNode, "systemctl", "show", "-p", "MainPID,ExecMainStartTimestampMonotonic", "etcd.service"); got != started {
			t.Fatalf("etcd restarted: %s, then %s", started, got)
		}
		if got := onNode(t, etcdNode, "sh", "-c", "stat -c '%n %Y' /etc/etcd/pki/* /etc/systemd/system/etcd.service /usr/local/bin/etcd"); got != files {
			t.Fatalf("files on the etcd host were rewritten:\n%s\nthen\n%s", files, got)
		}
	})
}

// inspect certs -f reads every host's PKI over SSH (certificates only),
// even with the API server down, and its window works for cron.
func TestInspectNodeCerts(t *testing.T) {
	path := spec(t, "one", map[int]string{0: kbscluster.RoleEtcd, 1: kbscluster.RoleControlPlane, 2: kbscluster.RoleWorker, 3: kbscluster.RoleWorker})
	state := filepath.Join(t.TempDir(), "state")
	mustKbs(t, initArgs(path, state, "--skip-phases", "kubeadm-config")...)
	kc := filepath.Join(t.TempDir(), "down.kubeconfig")
	os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: c\n"), 0o600)
	args := []string{"inspect", "certs", "-f", path, "--known-hosts", cluster.KnownHosts, "--kubeconfig", kc}
	out, errOut := mustKbs(t, append(args, "--warn-within", "30d")...)
	for _, want := range []string{"b-0   /etc/etcd/pki/server.crt", "b-0   /etc/etcd/pki/ca.crt", "b-1   /etc/kubernetes/pki/apiserver-etcd-client.crt", "CN=etcd-ca"} {
		if !strings.Contains(out, want) {
			t.Errorf("node certificates lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") || !strings.Contains(errOut, "reading the hosts only") {
		t.Errorf("output: %s\nprogress: %s", out, errOut)
	}
	var e bytes.Buffer
	if _, err := kbs(context.Background(), &e, append(args, "--warn-within", "43801h")...); err == nil || !strings.Contains(err.Error(), "expire within 43801h") {
		t.Fatalf("a window longer than the certificates: %v", err)
	}
}

func TestThreeMemberEtcd(t *testing.T) {
	path := spec(t, "three", map[int]string{0: kbscluster.RoleControlPlane, 1: kbscluster.RoleEtcd, 2: kbscluster.RoleEtcd, 3: kbscluster.RoleEtcd})
	state := filepath.Join(t.TempDir(), "state")
	mustKbs(t, initArgs(path, state, "--skip-phases", "kubeadm-config")...)
	for _, n := range cluster.Nodes[1:] {
		if err := etcdHealth(state, n, true); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
	}
	members := onNode(t, cluster.Nodes[1], "etcdctl", "--endpoints=https://127.0.0.1:2379",
		"--cacert=/etc/etcd/pki/ca.crt", "--cert=/etc/etcd/pki/server.crt", "--key=/etc/etcd/pki/server.key",
		"member", "list", "-w", "simple")
	if n := len(strings.Split(members, "\n")); n != 3 {
		t.Fatalf("etcd has %d members, want 3:\n%s", n, members)
	}
	for _, n := range cluster.Nodes[1:] {
		if !strings.Contains(members, n.Name+", https://"+n.IP.String()+":2380") {
			t.Errorf("member list lacks %s:\n%s", n.Name, members)
		}
	}
}

// Bad specs are refused with the field named, before any host is contacted.
func TestInvalidSpecTouchesNoHost(t *testing.T) {
	good := spec(t, "bad", map[int]string{0: kbscluster.RoleEtcd, 1: kbscluster.RoleControlPlane})
	raw, _ := os.ReadFile(good)
	tests := map[string][2]string{
		"unknown field": {"  kubernetesVersion: v1.37.2\n", "  kubernetesVersion: v1.37.2\n  podCidr: 10.244.0.0/16\n"},
		"no etcd host":  {"role: etcd", "role: worker"},
		"bad version":   {"v1.37.2", "1.37.2"},
	}
	before := loginsAll(t)
	for name, tt := range tests {
		path := filepath.Join(t.TempDir(), "spec.yaml")
		os.WriteFile(path, []byte(strings.Replace(string(raw), tt[0], tt[1], 1)), 0o600)
		var errOut bytes.Buffer
		if _, err := kbs(context.Background(), &errOut, initArgs(path, filepath.Join(t.TempDir(), "s"))...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if after := loginsAll(t); after != before {
		t.Fatalf("invalid specs led to SSH logins (%d before, %d after)", before, after)
	}
}

func TestHostKeyMismatchStopsInit(t *testing.T) {
	path := spec(t, "mitm", map[int]string{0: kbscluster.RoleEtcd, 1: kbscluster.RoleControlPlane})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	raw, _ := os.ReadFile(cluster.KnownHosts)
	// Swap the two nodes' keys: each address now has the other's key.
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	a, b := strings.Fields(lines[0]), strings.Fields(lines[1])
	a[1], b[1], a[2], b[2] = b[1], a[1], b[2], a[2]
	os.WriteFile(kh, []byte(strings.Join(a, " ")+"\n"+strings.Join(b, " ")+"\n"), 0o600)
	var errOut bytes.Buffer
	_, err := kbs(context.Background(), &errOut, "init", "-f", path, "--state-dir", t.TempDir(), "--known-hosts", kh)
	if err == nil || !strings.Contains(err.Error(), "HOST KEY MISMATCH") {
		t.Fatalf("init with swapped host keys: %v", err)
	}
}

// Preflight proves paths between hosts with short-lived listeners: a
// firewall rule on the etcd host is caught, named, and skippable by name.
func TestPreflightCatchesBlockedPath(t *testing.T) {
	path := spec(t, "fw", map[int]string{0: kbscluster.RoleEtcd, 1: kbscluster.RoleControlPlane, 2: kbscluster.RoleWorker})
	state := filepath.Join(t.TempDir(), "state")
	phase := append([]string{"init", "phase", "preflight"}, initArgs(path, state)[1:]...)
	_, progress := mustKbs(t, phase...)
	for _, want := range []string{
		"b-1          reachability       ok      → b-0:2379/tcp (API server to etcd) open",
		"b-2          reachability       ok      → b-1:6443/tcp (kubelet to API server) open",
		"b-2          reachability       ok      → b-1:8472/udp (flannel VXLAN) datagram arrived",
	} {
		if !strings.Contains(progress, want) {
			t.Errorf("preflight lacks %q:\n%s", want, progress)
		}
	}
	etcdNode := cluster.Nodes[0]
	onNode(t, etcdNode, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "2379", "-j", "REJECT")
	defer onNode(t, etcdNode, "iptables", "-D", "INPUT", "-p", "tcp", "--dport", "2379", "-j", "REJECT")
	var errOut bytes.Buffer
	_, err := kbs(context.Background(), &errOut, phase...)
	if err == nil || !strings.Contains(err.Error(), "b-1/reachability") || !strings.Contains(errOut.String(), "→ b-0:2379/tcp (API server to etcd) no connection") {
		t.Fatalf("a blocked etcd port: %v\n%s", err, errOut.String())
	}
	mustKbs(t, append(phase, "--ignore-preflight-checks", "reachability")...)
	if left := onNode(t, etcdNode, "sh", "-c", "pgrep -c socat || true"); left != "0" {
		t.Fatalf("%s socat listeners left running", left)
	}
}

// A non-root SSH user whose sudo needs a password: the password comes from
// the environment, root-owned files land with their modes.
func TestSudoPasswordUser(t *testing.T) {
	path := spec(t, "ops", map[int]string{0: kbscluster.RoleEtcd, 2: kbscluster.RoleControlPlane})
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(raw), "user: root", "user: ops", 1)), 0o600)
	state := filepath.Join(t.TempDir(), "state")
	phase := append([]string{"init", "phase", "etcd-client-certs"}, initArgs(path, state)[1:]...)
	t.Setenv("KBS_SUDO_PASSWORD", "")
	var errOut bytes.Buffer
	if _, err := kbs(context.Background(), &errOut, phase...); err == nil || !strings.Contains(err.Error(), "KBS_SUDO_PASSWORD") {
		t.Fatalf("without the sudo password: %v", err)
	}
	t.Setenv("KBS_SUDO_PASSWORD", opsPassword)
	_, progress := mustKbs(t, phase...)
	if strings.Contains(progress, opsPassword) {
		t.Fatal("the sudo password appears in the progress output")
	}
	if got := onNode(t, cluster.Nodes[2], "stat", "-c", "%U %a", "/etc/kubernetes/pki/apiserver-etcd-client.key"); got != "root 600" {
		t.Fatalf("client key written through sudo: %q, want root 600", got)
	}
	if got := onNode(t, cluster.Nodes[2], "sh", "-c", "journalctl -u ssh.service -o cat | grep -c 'Accepted publickey for ops' || true"); got == "0" {
		t.Fatal("the run did not log in as ops")
	}

	// sudoers that let sh run without a password while anything else needs
	// one: the password line sudo -S would not read must not reach the
	// command's stdin — the first line of a key written through sudo.
	const keyPath = "/etc/kubernetes/pki/apiserver-etcd-client.key"
	onNode(t, cluster.Nodes[2], "sh", "-c", "echo 'ops ALL=(ALL) NOPASSWD: /bin/sh, /usr/bin/sh' > /etc/sudoers.d/ops-sh && chmod 0440 /etc/sudoers.d/ops-sh && rm "+keyPath)
	defer onNode(t, cluster.Nodes[2], "rm", "-f", "/etc/sudoers.d/ops-sh")
	mustKbs(t, phase...)
	if key := onNode(t, cluster.Nodes[2], "cat", keyPath); !strings.HasPrefix(key, "-----BEGIN ") || strings.Contains(key, opsPassword) {
		t.Fatalf("with only sh NOPASSWD, the key written through sudo begins %.20q", key)
	}
}

func loginsAll(t *testing.T) int {
	total := 0
	for _, n := range cluster.Nodes {
		total += sshLogins(t, n)
	}
	return total
}

// interruptWhen cancels a run once its progress has shown marker and then
// reached holds (polled every 50 ms for up to a minute): a kill at a point
// the test has seen the run get to, not one a delay is hoped to hit.
type interruptWhen struct {
	ctx     context.Context
	cancel  func()
	marker  string
	reached func(context.Context) (bool, error)

	mu       sync.Mutex
	buf      bytes.Buffer
	watching bool
	done     chan error
}

func (c *interruptWhen) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if !c.watching && strings.Contains(c.buf.String(), c.marker) {
		c.watching = true
		c.done = make(chan error, 1)
		go func() {
			err := wait.PollUntilContextTimeout(c.ctx, 50*time.Millisecond, time.Minute, true, c.reached)
			c.cancel()
			c.done <- err
		}()
	}
	return len(p), nil
}

// wait, once the run has returned, says whether it was cancelled at the
// point: an error if the marker never came, the point was not reached
// before the run ended, or reached failed.
func (c *interruptWhen) wait() error {
	c.cancel() // ends the watch if the run ended by itself
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done == nil {
		return fmt.Errorf("the progress never showed %q", c.marker)
	}
	return <-done
}

func (c *interruptWhen) progress() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
