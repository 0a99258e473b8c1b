//go:build integration

package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

func dialer(knownHostsFile string) *remote.Dialer {
	return &remote.Dialer{
		HostKeys:  &remote.HostKeys{Files: []string{knownHostsFile}},
		SSHConfig: &ssh_config.Config{}, // not the developer's ~/.ssh/config
	}
}

func target(n *nodes.Node, user string) remote.Target {
	return remote.Target{Name: n.Name, Address: n.IP.String(), User: user, KeyFile: cluster.ClientKey, Sudo: user != "root"}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// dialRoot connects to the first node as root, closed when the test ends.
func dialRoot(t *testing.T) remote.Conn {
	t.Helper()
	d := dialer(cluster.KnownHosts)
	t.Cleanup(func() { d.Close() })
	c, err := d.Dial(ctx(t), target(cluster.Nodes[0], "root"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustRun(t *testing.T, c remote.Conn, cmd string, opts ...remote.RunOption) string {
	t.Helper()
	out, err := c.Run(ctx(t), cmd, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// One connection per host: every command, even concurrent ones, is a session
// on the same TCP connection.
func TestOneConnectionManySessions(t *testing.T) {
	d := dialer(cluster.KnownHosts)
	defer d.Close()
	n := cluster.Nodes[0]
	c1, err := d.Dial(ctx(t), target(n, "root"))
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := d.Dial(ctx(t), target(n, "root"))
	if c1 != c2 {
		t.Fatal("a second Dial of the same host opened a new connection")
	}
	var mu sync.Mutex
	ports := map[string]bool{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c1.Run(context.Background(), `echo "$SSH_CONNECTION"`)
			if err != nil {
				t.Error(err)
				return
			}
			f := strings.Fields(string(out))
			mu.Lock()
			ports[f[1]] = true // the client's source port
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ports) != 1 {
		t.Fatalf("20 commands came from %d client ports; want one connection", len(ports))
	}
	if got := mustRun(t, c1, "hostname"); got != n.Name {
		t.Fatalf("hostname %q", got)
	}
}

func TestHostKeyMismatchShowsBothFingerprints(t *testing.T) {
	n, other := cluster.Nodes[0], cluster.Nodes[1]
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{n.IP.String()}, other.HostKey)+"\n"), 0o600)
	_, err := dialer(kh).Dial(ctx(t), target(n, "root"))
	if err == nil {
		t.Fatal("connected despite a changed host key")
	}
	for _, want := range []string{"HOST KEY MISMATCH", ssh.FingerprintSHA256(other.HostKey), ssh.FingerprintSHA256(n.HostKey), "ssh-keygen -R"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestUnknownHostRefusedUnlessAcceptNew(t *testing.T) {
	n := cluster.Nodes[1]
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, nil, 0o600)
	_, err := dialer(kh).Dial(ctx(t), target(n, "root"))
	if err == nil || !strings.Contains(err.Error(), "not in known_hosts") || !strings.Contains(err.Error(), ssh.FingerprintSHA256(n.HostKey)) {
		t.Fatalf("unknown host: %v; want a refusal showing its fingerprint", err)
	}
	var logged []string
	d := dialer(kh)
	d.HostKeys.AcceptNew = true
	d.HostKeys.Log = func(f string, a ...any) { logged = append(logged, f) }
	c, err := d.Dial(ctx(t), target(n, "root"))
	if err != nil {
		t.Fatalf("--accept-new-host-keys: %v", err)
	}
	c.Close()
	if len(logged) != 1 {
		t.Errorf("recording a key should be logged once, got %d", len(logged))
	}
	// Recorded: a strict dialer now accepts the host.
	strict := dialer(kh)
	defer strict.Close()
	if _, err := strict.Dial(ctx(t), target(n, "root")); err != nil {
		t.Fatalf("host recorded by accept-new is still refused: %v", err)
	}
}

// A non-root user with a sudo password: privileged commands and file writes
// work, the password reaches sudo only (never the command or the file), and
// a wrong password is reported without being echoed.
func TestSudoWithPassword(t *testing.T) {
	d := dialer(cluster.KnownHosts)
	d.Credentials.SudoPassword = func(string) ([]byte, error) { return []byte(opsPassword), nil }
	defer d.Close()
	c, err := d.Dial(ctx(t), target(cluster.Nodes[0], "ops"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "id -un"); got != "ops" {
		t.Fatalf("unprivileged command ran as %q", got)
	}
	if got := mustRun(t, c, "id -un", remote.Privileged()); got != "root" {
		t.Fatalf("privileged command ran as %q", got)
	}
	content := "line one\nline two\n"
	if err := c.WriteFile(ctx(t), "/etc/kbs-test-sudo/sudo-written", strings.NewReader(content), 0o600, ""); err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if err := c.ReadFile(ctx(t), "/etc/kbs-test-sudo/sudo-written", &back); err != nil {
		t.Fatal(err)
	}
	if back.String() != content {
		t.Fatalf("file written through password sudo holds %q, want %q", back.String(), content)
	}
	if got := mustRun(t, c, "cat", remote.Privileged(), remote.Stdin(strings.NewReader("payload"))); got != "payload" {
		t.Fatalf("stdin of a privileged command was %q; the password must not reach it", got)
	}

	wrong := dialer(cluster.KnownHosts)
	wrong.Credentials.SudoPassword = func(string) ([]byte, error) { return []byte("not-the-password"), nil }
	defer wrong.Close()
	wc, err := wrong.Dial(ctx(t), target(cluster.Nodes[1], "ops"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wc.Run(ctx(t), "true", remote.Privileged())
	if err == nil || !strings.Contains(err.Error(), "refused the password") || strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("wrong sudo password: %v", err)
	}
}

func TestPasswordlessSudoAndMissingPassword(t *testing.T) {
	d := dialer(cluster.KnownHosts)
	defer d.Close()
	c, err := d.Dial(ctx(t), target(cluster.Nodes[1], "nopw"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "cat", remote.Privileged(), remote.Stdin(strings.NewReader("data"))); got != "data" {
		t.Fatalf("NOPASSWD sudo: stdin %q", got)
	}
	if got := mustRun(t, c, "id -u", remote.Privileged()); got != "0" {
		t.Fatalf("NOPASSWD sudo ran as uid %q", got)
	}
	t.Setenv("KBS_SUDO_PASSWORD", "")
	c2, err := d.Dial(ctx(t), remote.Target{Name: "ops-nopass", Address: cluster.Nodes[1].IP.String(), User: "ops", KeyFile: cluster.ClientKey, Sudo: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Run(ctx(t), "true", remote.Privileged()); err == nil || !strings.Contains(err.Error(), "KBS_SUDO_PASSWORD") {
		t.Fatalf("sudo needing a password with none given: %v", err)
	}
}

func TestBastion(t *testing.T) {
	d := dialer(cluster.KnownHosts)
	defer d.Close()
	tg := target(cluster.Nodes[1], "root")
	tg.Bastion = "root@" + cluster.Nodes[0].IP.String()
	c, err := d.Dial(ctx(t), tg)
	if err != nil {
		t.Fatal(err)
	}
	// The target sees the connection coming from the bastion's address.
	if got := mustRun(t, c, `echo "$SSH_CONNECTION" | cut -d' ' -f1`); got != cluster.Nodes[0].IP.String() {
		t.Fatalf("connection came from %s, want the bastion %s", got, cluster.Nodes[0].IP)
	}
}

func TestSSHConfigAlias(t *testing.T) {
	n := cluster.Nodes[0]
	cfg, err := ssh_config.DecodeBytes([]byte("Host kbs-alias\n  HostName " + n.IP.String() + "\n  User root\n  IdentityFile " + cluster.ClientKey + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := dialer(cluster.KnownHosts)
	d.SSHConfig = cfg
	defer d.Close()
	c, err := d.Dial(ctx(t), remote.Target{Name: "alias", Address: "kbs-alias"})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "hostname"); got != n.Name {
		t.Fatalf("alias reached %q, want %s", got, n.Name)
	}
}

func TestCancellationStopsRemoteCommand(t *testing.T) {
	c := dialRoot(t)
	cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(cctx, "sleep 30")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled command returned %v after %s", err, time.Since(start))
	}
	if got := mustRun(t, c, "echo still usable"); got != "still usable" {
		t.Fatalf("connection unusable after a cancelled command: %q", got)
	}
	// The remote process is killed too, not left running.
	var pids []byte
	gone := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		pids, _ = c.Run(ctx(t), "pgrep -f 'sleep [3]0' || true")
		return strings.TrimSpace(string(pids)) == "", nil
	})
	if gone != nil {
		t.Fatalf("remote command still running after cancellation: pids %s", pids)
	}
}

// An encrypted key file: the passphrase comes from $KBS_SSH_KEY_PASSPHRASE
// (or a prompt); without it, the error says how to supply it.
func TestEncryptedKeyWithPassphrase(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id_enc")
	if out, err := exec.Command("cp", cluster.ClientKey, key).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.Chmod(key, 0o600)
	if out, err := exec.Command("ssh-keygen", "-p", "-q", "-N", "open sesame", "-P", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("encrypting the key: %v %s", err, out)
	}
	tg := target(cluster.Nodes[0], "root")
	tg.KeyFile = key
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("KBS_SSH_KEY_PASSPHRASE", "")
	if _, err := dialer(cluster.KnownHosts).Dial(ctx(t), tg); err == nil || !strings.Contains(err.Error(), "KBS_SSH_KEY_PASSPHRASE") {
		t.Fatalf("encrypted key without a passphrase: %v", err)
	}
	t.Setenv("KBS_SSH_KEY_PASSPHRASE", "open sesame")
	d := dialer(cluster.KnownHosts)
	defer d.Close()
	c, err := d.Dial(ctx(t), tg)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, c, "hostname"); got != cluster.Nodes[0].Name {
		t.Fatalf("hostname %q", got)
	}
}

// With no key file at all, the keys of a running ssh-agent are used.
func TestSSHAgent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()
	// ssh-add needs the agent listening; the socket appears when it is.
	listening := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, nil
	})
	if listening != nil {
		t.Fatalf("ssh-agent made no socket at %s in 10s", sock)
	}
	add := exec.Command("ssh-add", cluster.ClientKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	d := dialer(cluster.KnownHosts)
	defer d.Close()
	tg := target(cluster.Nodes[1], "root")
	tg.KeyFile = ""
	c, err := d.Dial(ctx(t), tg)
	if err != nil {
		t.Fatalf("dial with the agent's key: %v", err)
	}
	if got := mustRun(t, c, "hostname"); got != cluster.Nodes[1].Name {
		t.Fatalf("hostname %q", got)
	}
}
