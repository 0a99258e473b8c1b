//go:build integration

package bootstrap_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kbscluster "github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/test/env"
)

var (
	kbsBinOnce sync.Once
	kbsBinPath string
	kbsBinErr  error
)

// kbsBinary is the real kubectl-kbs, built once: a process that can be
// SIGKILLed, which an in-process run cannot.
func kbsBinary(t *testing.T) string {
	kbsBinOnce.Do(func() {
		root, err := env.RepoRoot()
		if err != nil {
			kbsBinErr = err
			return
		}
		kbsBinPath = filepath.Join(os.TempDir(), "kbs-kills-"+strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""), "kubectl-kbs")
		build := exec.Command("go", "build", "-o", kbsBinPath, "./cmd/kubectl-kbs")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			kbsBinErr = err
			kbsBinPath = string(out)
		}
	})
	if kbsBinErr != nil {
		t.Fatalf("building kubectl-kbs: %v\n%s", kbsBinErr, kbsBinPath)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(kbsBinPath)) })
	return kbsBinPath
}

// kbs is SIGKILLed at ten random moments of init — each run with real work
// to do (the journal gone, etcd's binary, certificates and unit and the
// kubeadm configuration removed from the hosts) — and run again each time.
// After every kill no real path holds a half-written file (uploads land by
// rename, after the host checked them); at the end an init without a kill
// converges, with the CA it started with, and no temporary file is left.
func TestKilledAtRandomMomentsConverges(t *testing.T) {
	path := spec(t, "kills", map[int]string{0: kbscluster.RoleEtcd, 1: kbscluster.RoleControlPlane, 2: kbscluster.RoleWorker})
	state := filepath.Join(t.TempDir(), "state")
	mustKbs(t, initArgs(path, state)...)
	caBefore, err := os.ReadFile(filepath.Join(state, "pki", "etcd", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	bin := kbsBinary(t)
	etcdNode, cpNode := cluster.Nodes[0], cluster.Nodes[1]
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 42))
	t.Logf("kill moments seeded with %d", seed)
	// A killed run can leave etcd restarting, and preflight's probe of a
	// port that flaps is not what this test is about.
	args := initArgs(path, state, "--ignore-preflight-checks", "reachability")
	perturb := func() {
		// Work for the next run: nothing it may skip.
		os.Remove(filepath.Join(state, "journal.json"))
		onNode(t, etcdNode, "sh", "-c", "rm -f /usr/local/bin/etcd /etc/etcd/pki/*.crt /etc/systemd/system/etcd.service")
		onNode(t, cpNode, "sh", "-c", "rm -f /etc/kbs/kubeadm.yaml /etc/kubernetes/pki/apiserver-etcd-client.crt")
	}
	// How long such a run takes here, so that the kills fall inside runs.
	perturb()
	start := time.Now()
	mustKbs(t, args...)
	span := time.Since(start)
	injected := 0
	for i := range 10 {
		perturb()
		at := span/20 + time.Duration(rng.Int64N(int64(span*9/10)))
		cmd := exec.Command(bin, args...)
		start := time.Now()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill := time.AfterFunc(at, func() { cmd.Process.Signal(syscall.SIGKILL) })
		t.Logf("run %d: SIGKILL after %s of a run that takes about %s", i, at.Round(time.Millisecond), span.Round(time.Millisecond))
		err := cmd.Wait()
		kill.Stop()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			injected++
		} else if err == nil {
			// A whole run is the measure: the first one can be slowed by
			// what else the machine starts then (make test's compiles),
			// and kills drawn from too long a span miss the runs after.
			span = min(span, time.Since(start))
		} else {
			t.Fatalf("run %d failed without being killed: %v\n%s", i, err, out.String())
		}
		assertWholeFiles(t, state)
	}
	mustKbs(t, args...)
	// An upload cut off by the kill can leave its temporary file behind
	// (never at the real path, which holds the old file or the new one);
	// the next write of that file removes it, so a converged run leaves none.
	for _, n := range cluster.Nodes[:2] {
		if left := onNode(t, n, "sh", "-c", "find /usr/local/bin /etc/etcd /etc/kbs /etc/kubernetes /etc/systemd/system -name '.kbs-tmp.*' 2>/dev/null || true"); left != "" {
			t.Errorf("%s keeps temporary files after the converged run:\n%s", n.Name, left)
		}
	}
	if err := etcdHealth(state, etcdNode, true); err != nil {
		t.Fatalf("etcd after the last run: %v", err)
	}
	if caAfter, _ := os.ReadFile(filepath.Join(state, "pki", "etcd", "ca.crt")); !bytes.Equal(caAfter, caBefore) {
		t.Fatal("the etcd CA changed")
	}
	assertWholeFiles(t, state)
	t.Logf("faults injected: %d SIGKILLs of kbs init (of 10 runs; the others finished first), all survived", injected)
	if injected < 5 {
		t.Errorf("only %d of 10 runs were killed: the kills did not test much", injected)
	}
}

// assertWholeFiles checks that every etcd file on the etcd host is
// absent or exactly what the state directory holds: never a part of it.
func assertWholeFiles(t *testing.T, state string) {
	t.Helper()
	etcdNode := cluster.Nodes[0]
	for local, remote := range map[string]string{"ca.crt": "/etc/etcd/pki/ca.crt", etcdNode.Name + "-server.crt": "/etc/etcd/pki/server.crt", etcdNode.Name + "-peer.crt": "/etc/etcd/pki/peer.crt"} {
		want, err := os.ReadFile(filepath.Join(state, "pki", "etcd", local))
		if err != nil {
			t.Fatal(err)
		}
		got := onNode(t, etcdNode, "sh", "-c", "cat "+remote+" 2>/dev/null || true")
		if got != "" && got != strings.TrimSpace(string(want)) {
			t.Fatalf("%s on %s is neither absent nor the state's", remote, etcdNode.Name)
		}
	}
}
