//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/diag"
)

// secrets of every kind the redactor knows, planted in a node's log file.
var planted = []string{
	"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkbs0planted0key0material0AAAAAAAAAAAAAAAAAAAAoAoGCCqGSM49\n-----END EC PRIVATE KEY-----",
	"Authorization: Bearer kbsplantedbearertoken0123456789abcdef",
	"token eyJhbGciOiJSUzI1NiIsImtpZCI6ImticyJ9.eyJzdWIiOiJrYnMtcGxhbnRlZCJ9.c2lnbmF0dXJlLXBsYW50ZWQta2Jz",
	"kubeadm join 10.0.0.20:6443 --token kbspln.0123456789kbspln",
	"https://admin:kbsplantedurlpassword@registry.example.com/v2/",
	"password: kbsplantedpassword",
	"GET https://s3.example.com/b/o?X-Amz-Signature=kbsplantedsignature0123 200",
	"echo kbsplantedpipedpassword | sudo -S true",
	"Authorization: Basic a2JzcGxhbnRlZGJhc2ljYXV0aA==",
	"  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmticGxhbnRlZA==",
	"-----BEGIN PGP PRIVATE KEY BLOCK-----\nkbsplantedpgpkey\n-----END PGP PRIVATE KEY BLOCK-----",
	"AKIAKBSPLANTED012345",
}

// diagArgs: diag SUBCOMMAND ARGS… against the test cluster; the debug pod
// uses an image the bundle imported (the nodes reach no registry).
func diagArgs(p paths, args ...string) []string {
	return append(append([]string{"diag"}, args...), "-f", p.spec, "--known-hosts", cluster.KnownHosts,
		"--kubeconfig", p.kubeconfig, "--pod-image", "kbs.local/flannel:v0.28.10")
}

// bundleFiles reads a bundle whole (test-sized) and its manifest.
func bundleFiles(t *testing.T, path string) (map[string]string, diag.Manifest) {
	t.Helper()
	files := map[string]string{}
	err := diag.WalkBundle(path, func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		files[name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var m diag.Manifest
	if err := json.Unmarshal([]byte(files["manifest.json"]), &m); err != nil {
		t.Fatal(err)
	}
	return files, m
}

func hasFinding(a *diag.Analysis, id, node string) bool {
	for _, f := range a.Findings {
		if f.ID == id && f.Node == node {
			return true
		}
	}
	return false
}

func testDiag(t *testing.T, p paths) {
	dir := t.TempDir()

	t.Run("planted secrets never reach the bundle", func(t *testing.T) {
		onNode(t, "worker-0", "sh", "-c", "printf '%s\\n' \"$@\" >> /var/log/kubelet.log", "sh", strings.Join(planted, "\n"))
		bundle := filepath.Join(dir, "w0.tar.gz")
		out, _ := mustKbs(t, diagArgs(p, "node", "worker-0", "--bundle", bundle)...)
		files, m := bundleFiles(t, bundle)
		all := strings.Join(func() []string {
			var s []string
			for _, v := range files {
				s = append(s, v)
			}
			return s
		}(), "\n")
		for _, secret := range []string{"kbsplanted", "planted0key0material", "0123456789kbspln", "AKIAKBSPLANTED", "a2JzcGxhbnRlZGJhc2ljYXV0aA", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmticGxhbnRlZA"} {
			if strings.Contains(all, secret) {
				t.Errorf("the bundle holds planted secret %q", secret)
			}
		}
		red := map[string]int{}
		for _, s := range m.Sources {
			for k, v := range s.Redactions {
				red[k] += v
			}
			if s.Node == "worker-0" && s.Transport != "ssh" && s.Transport != "api" {
				t.Errorf("%s came via %s", s.Path, s.Transport)
			}
		}
		for _, rule := range []string{"private-key", "bearer-token", "jwt", "bootstrap-token", "url-password", "password-field", "aws-access-key"} {
			if red[rule] == 0 {
				t.Errorf("no %s redaction counted: %v", rule, red)
			}
		}
		if files["worker-0/api/node.json"] == "" || files["worker-0/files/kubelet.log"] == "" || files["worker-0/journal/kubelet.log"] == "" {
			t.Errorf("bundle lacks sources; has %d files", len(files))
		}
		if !strings.Contains(out, "report: ") {
			t.Errorf("no summary: %s", out)
		}
	})

	t.Run("kubelet stopped: found, with its port", func(t *testing.T) {
		onNode(t, "worker-0", "systemctl", "stop", "kubelet")
		defer onNode(t, "worker-0", "systemctl", "start", "kubelet")
		bundle := filepath.Join(dir, "stopped.tar.gz")
		// -o PATH, the bundle's flag before --bundle: deprecated, still taken.
		mustKbs(t, diagArgs(p, "node", "worker-0", "-o", bundle, "--via", "ssh")...)
		a, err := diag.Analyze(bundle)
		if err != nil {
			t.Fatal(err)
		}
		if !hasFinding(a, "kubelet-down", "worker-0") || !hasFinding(a, "ports-closed", "worker-0") {
			t.Fatalf("findings: %+v", a.Findings)
		}
	})

	t.Run("SSH refused: auto falls back to the debug pod, which is removed", func(t *testing.T) {
		onNode(t, "worker-1", "sh", "-c", "systemctl stop ssh.socket ssh.service 2>/dev/null; true")
		defer onNode(t, "worker-1", "systemctl", "start", "ssh.service")
		bundle := filepath.Join(dir, "fallback.tar.gz")
		out, _ := mustKbs(t, diagArgs(p, "node", "worker-1", "--bundle", bundle)...)
		files, m := bundleFiles(t, bundle)
		info := m.Nodes["worker-1"]
		if info.Transport != "pod" || !strings.Contains(info.Fallback, "ssh") {
			t.Fatalf("worker-1 served by %q (fallback %q):\n%s", info.Transport, info.Fallback, out)
		}
		if !strings.Contains(files["worker-1/journal/kubelet.log"], "kubelet") {
			t.Fatal("the pod transport brought no kubelet journal")
		}
		pods := client(t, p).CoreV1().Pods("kube-system")
		list, err := pods.List(t.Context(), metav1ListDiag())
		if err != nil || len(list.Items) != 0 {
			t.Fatalf("debug pods left behind: %v %v", list, err)
		}
	})

	t.Run("the HTML report shows findings and filters the timeline in a real browser", func(t *testing.T) {
		bundle := filepath.Join(dir, "stopped.tar.gz")
		report := filepath.Join(dir, "report.html")
		mustKbs(t, "diag", "analyze", bundle, "--report", report)
		dom := chromiumDOM(t, "file://"+report+"#node=worker-0&level=error")
		for _, want := range []string{`data-id="kubelet-down" data-node="worker-0"`, `id="node-worker-0"`, "what to try"} {
			if !strings.Contains(dom, want) {
				t.Errorf("report lacks %q", want)
			}
		}
		shown := between(dom, `id="shown">`, "<")
		if !strings.Contains(shown, " of ") || strings.HasPrefix(shown, "0 of") {
			t.Errorf("timeline filter shows %q", shown)
		}
		all := between(chromiumDOM(t, "file://"+report), `id="shown">`, "<")
		if shown == all {
			t.Errorf("the node/level filter hid nothing: %q vs %q", shown, all)
		}
		if strings.Contains(dom, "<link ") || strings.Contains(dom, "src=\"http") {
			t.Error("the report loads external assets")
		}
	})
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if j := strings.Index(s, b); j >= 0 {
		return s[:j]
	}
	return s
}

// chromiumDOM loads a page in Debian's headless chromium and returns the DOM
// after its scripts ran.
func chromiumDOM(t *testing.T, url string) string {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+profile, "--dump-dom", url)
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v (install it: hack/install-deps.sh)", err)
	}
	return string(out)
}

func metav1ListDiag() metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kbs,kbs.kubectl-kbs.io/diag"}
}

// crashLoopWithoutRuntime runs the real kubelet on the reset worker-1 with
// a configuration but no container runtime: it exits and systemd restarts
// it, over and over. diag must find that, the missing runtime and that
// worker-1 is in the spec but not a node, from real journald output.
func crashLoopWithoutRuntime(t *testing.T, p paths) {
	onNode(t, "worker-1", "sh", "-c", `systemctl stop containerd
mkdir -p /var/lib/kubelet
printf 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\nfailCgroupV1: false\n' > /var/lib/kubelet/config.yaml
systemctl reset-failed kubelet 2>/dev/null; systemctl start kubelet`)
	defer onNode(t, "worker-1", "sh", "-c", "systemctl stop kubelet; rm -f /var/lib/kubelet/config.yaml; systemctl start containerd")
	deadline := time.Now().Add(90 * time.Second)
	for {
		n := onNode(t, "worker-1", "systemctl", "show", "-p", "NRestarts", "--value", "kubelet")
		if k, _ := strconv.Atoi(n); k >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kubelet restarted only %s times", n)
		}
		time.Sleep(2 * time.Second)
	}
	bundle := filepath.Join(t.TempDir(), "crash.tar.gz")
	out, _, err := kbs(t.Context(), nil, diagArgs(p, "node", "worker-1", "--bundle", bundle, "--via", "ssh")...)
	if err != nil {
		t.Fatalf("diag: %v\n%s", err, out)
	}
	a, err := diag.Analyze(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"kubelet-crashloop", "runtime-down", "never-joined"} {
		if !hasFinding(a, id, "worker-1") {
			t.Errorf("no %s finding for worker-1; summary:\n%s", id, out)
		}
	}
}

// poweredOffMidCollection: worker-1 goes down while diag reads its large
// log. The bundle keeps every other node and what arrived from worker-1,
// marks worker-1's broken sources failed, and diag exits non-zero.
func poweredOffMidCollection(t *testing.T, p paths) {
	onNode(t, "worker-1", "sh", "-c", "yes 'I1125 04:34:16.627685 1 kubelet.go:1] a line of a long kubelet log' | head -c 400000000 > /var/log/kubelet.log")
	bundle := filepath.Join(t.TempDir(), "poweroff.tar.gz")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := false
	reading := make(chan error, 1)
	_, progress, err := kbs(ctx, func(line string) {
		if !started && strings.Contains(line, "[diag] redacting") {
			started = true
			go func() {
				// Power off once diag is provably reading the 400 MB
				// files/kubelet.log: a process on worker-1 has it open.
				reading <- wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
					out, _ := node("worker-1").Exec(ctx, "sh", "-c", "ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c ' /var/log/kubelet.log$' || true")
					return strings.TrimSpace(string(out)) != "0", nil
				})
				_, _ = node("worker-1").Exec(context.Background(), "systemctl", "poweroff", "--force", "--force")
			}()
		}
	}, diagArgs(p, "cluster", "--bundle", bundle, "--via", "ssh", "--source-timeout", "30s", "--max-source-size", "0")...)
	if !started {
		t.Fatalf("diag never started redacting:\n%s", progress)
	}
	if werr := <-reading; werr != nil {
		t.Fatalf("worker-1 was powered off without diag ever reading its kubelet.log (%v): the test did not test a mid-collection power-off", werr)
	}
	if err == nil {
		t.Fatalf("diag succeeded although worker-1 went down mid-way:\n%s", progress)
	}
	files, m := bundleFiles(t, bundle)
	for _, n := range []string{"master-0", "worker-0", "etcd0"} {
		if files[n+"/timedatectl.txt"] == "" {
			t.Errorf("%s lost sources because worker-1 went down", n)
		}
	}
	var failed, kept []string
	for _, s := range m.Sources {
		switch {
		case s.Status != "ok":
			failed = append(failed, s.Path)
			if s.Node != "worker-1" {
				t.Errorf("%s failed: %s", s.Path, s.Error)
			}
		case s.Node == "worker-1":
			kept = append(kept, s.Path)
		}
	}
	// Mid-collection: some of worker-1 arrived before it went down, some not.
	if len(failed) == 0 || len(kept) == 0 {
		t.Fatalf("want worker-1 sources both kept and failed; kept %v, failed %v:\n%s", kept, failed, progress)
	}
	t.Logf("worker-1 powered off mid-collection: kept %v; failed %v", kept, failed)
}
