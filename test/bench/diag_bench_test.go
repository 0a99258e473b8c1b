//go:build integration

package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-kbs/kbs/test/env"
)

var (
	kbsOnce sync.Once
	kbsPath string
	kbsErr  error
)

// kbsBinary builds the real binary once: diag is measured as operators run
// it, peak RSS included.
func kbsBinary(b *testing.B) string {
	b.Helper()
	kbsOnce.Do(func() {
		root, err := env.RepoRoot()
		if err != nil {
			kbsErr = err
			return
		}
		kbsPath = filepath.Join(os.TempDir(), fmt.Sprintf("kubectl-kbs-bench-%d", os.Getpid()))
		// As `make build` and the release build it: static, stripped.
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", kbsPath, "./cmd/kubectl-kbs")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			kbsErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if kbsErr != nil {
		b.Fatal(kbsErr)
	}
	return kbsPath
}

// diagSpec writes a spec naming each address as a host of role.
func diagSpec(b *testing.B, role string, addrs []string) string {
	var hosts strings.Builder
	for i, a := range addrs {
		fmt.Fprintf(&hosts, "  - {name: h%d, role: %s, address: %s}\n", i, role, a)
	}
	spec := fmt.Sprintf(`apiVersion: kbs.kubectl-kbs.io/v1alpha1
kind: Cluster
metadata: {name: bench}
spec:
  kubernetesVersion: v1.37.2
  ssh: {user: root, keyFile: %s}
  hosts:
  - {name: cp, role: control-plane, address: 192.0.2.1}
  - {name: e, role: etcd, address: 192.0.2.2}
%s`, cluster.ClientKey, hosts.String())
	path := filepath.Join(b.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// runDiag runs `kubectl kbs diag node NAMES…` with the binary kbs (SSH
// only: no kubeconfig) and returns its peak RSS in MiB.
func runDiag(b *testing.B, kbs, spec, known string, names []string, parallel int) float64 {
	return runDiagMayFail(b, kbs, spec, known, names, parallel, false)
}

// runDiagMayFail is runDiag for a collection that fails some nodes (they
// are down): its exit status is then expected to say so.
func runDiagMayFail(b *testing.B, kbs, spec, known string, names []string, parallel int, mayFail bool) float64 {
	b.Helper()
	out := filepath.Join(b.TempDir(), fmt.Sprintf("b-%d.tar.gz", time.Now().UnixNano()))
	args := append([]string{"diag", "node"}, names...)
	args = append(args, "-f", spec, "--known-hosts", known, "--bundle", out, "--via", "ssh", "--kubeconfig", "/nonexistent",
		"--parallel", fmt.Sprint(parallel), "--max-source-size", "0")
	cmd := exec.Command(kbs, args...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := followPeakRSS(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil && !mayFail {
		b.Fatalf("diag: %v\n%s", err, msg.Bytes())
	} else if err == nil && mayFail {
		b.Fatalf("diag succeeded with nodes down:\n%s", msg.Bytes())
	}
	os.Remove(out)
	return float64(<-peak) / 1024
}

// followPeakRSS reports the process's VmHWM (KiB) as last seen before it
// exited, read every 10 ms. The child's own rusage will not do: Go starts
// children with vfork, and Linux carries the parent's (this benchmark's)
// high-water mark into the child's ru_maxrss at exec.
func followPeakRSS(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil || bytes.Contains(data, []byte("State:\tZ")) {
				out <- peak
				return
			}
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
						peak = max(peak, kb)
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return out
}

// BenchmarkDiagLargeLog collects a node with a 1 GiB kubelet log, against
// `ssh host cat` of the same file in the same run: once a log of one
// repeated line (it compresses a thousandfold), once a log that varies line
// by line as real ones do (about 4x). The node has zstd, as Debian and
// Ubuntu servers do (initramfs-tools wants it), so kbs's default
// --compress auto is measured.
func BenchmarkDiagLargeLog(b *testing.B) {
	needNodes(b)
	n := cluster.Nodes[0]
	const size = 1 << 30
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gen, err := os.ReadFile("testdata/kubelet-log.awk")
	if err != nil {
		b.Fatal(err)
	}
	line := `I1125 04:34:16.627685     712 kubelet.go:2468] "SyncLoop (PLEG): event for pod" pod="kube-system/kube-proxy-x8k2p" event={"ID":"0f9a","Type":"ContainerStarted"}`
	logs := []struct{ name, script string }{
		{"repeated", fmt.Sprintf("yes '%s' | head -c %d > /var/log/kubelet.log", line, size)},
		// 64 MiB of generated lines, 16 times: the repeats are 64 MiB apart,
		// beyond what gzip (32 KiB) or zstd -1 (512 KiB) can see.
		{"varied", fmt.Sprintf("cat > /tmp/gen.awk <<'EOF'\n%s\nEOF\nawk -v size=%d -f /tmp/gen.awk </dev/null > /tmp/part.log && for i in $(seq 16); do cat /tmp/part.log; done | head -c %d > /var/log/kubelet.log; rm -f /tmp/part.log", gen, size/16, size)},
	}
	spec := diagSpec(b, "worker", []string{n.IP.String()})
	kbs := kbsBinary(b)
	for _, l := range logs {
		if out, err := n.Exec(ctx, "sh", "-c", l.script); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		b.Run(l.name+"/kbs", func(b *testing.B) {
			b.SetBytes(size)
			var rss float64
			for b.Loop() {
				rss = max(rss, runDiag(b, kbs, spec, cluster.KnownHosts, []string{"h0"}, 1))
			}
			b.ReportMetric(rss, "peak-RSS-MiB")
		})
		b.Run(l.name+"/ssh-cat", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				cmd := openssh("cat /var/log/kubelet.log")
				cmd.Stdout = nil
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	_, _ = n.Exec(ctx, "rm", "-f", "/var/log/kubelet.log")
}

// BenchmarkDiagCluster collects 100 SSH endpoints, each with a 20 MiB log.
func BenchmarkDiagCluster(b *testing.B) {
	needNodes(b)
	n := cluster.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := n.Exec(ctx, "sh", "-c", "yes 'etcd {\"level\":\"info\",\"ts\":\"2026-11-25T04:41:02.560724Z\",\"msg\":\"applied a request\"}' | head -c 20971520 > /var/log/etcd.log"); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	spec := diagSpec(b, "etcd", fanout)
	var names []string
	for i := range fanout {
		names = append(names, fmt.Sprintf("h%d", i))
	}
	b.SetBytes(int64(len(fanout)) * 20 << 20)
	kbs := kbsBinary(b)
	var rss float64
	for b.Loop() {
		rss = max(rss, runDiag(b, kbs, spec, fanoutKeys, names, 16))
	}
	b.ReportMetric(rss, "peak-RSS-MiB")
	_, _ = n.Exec(ctx, "rm", "-f", "/var/log/etcd.log")
}

// BenchmarkDiagClusterSomeDown collects 20 nodes of which 5 are down (their
// addresses answer nothing: each dial waits out its timeout), against the
// 15 live ones alone in the same run. Dials are parallel, so the dead ones
// cost one dial timeout, not five, and hold up no live node.
func BenchmarkDiagClusterSomeDown(b *testing.B) {
	needNodes(b)
	n := cluster.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := n.Exec(ctx, "sh", "-c", "yes 'I1125 04:41:02.560724 812 kubelet.go:2400] \"SyncLoop (PLEG)\"' | head -c 1048576 > /var/log/kubelet.log"); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	live := fanout[:15]
	base := n.IP.To4()
	var dead []string
	for i := range 5 {
		dead = append(dead, net.IPv4(base[0], base[1], base[2], byte(230+i)).String())
	}
	names := func(k int) []string {
		var out []string
		for i := range k {
			out = append(out, fmt.Sprintf("h%d", i))
		}
		return out
	}
	kbs := kbsBinary(b)
	// Workers: an etcd role would want an odd number of etcd hosts.
	liveSpec, allSpec := diagSpec(b, "worker", live), diagSpec(b, "worker", append(append([]string{}, live...), dead...))
	var liveT, allT time.Duration
	for b.Loop() {
		start := time.Now()
		runDiag(b, kbs, liveSpec, fanoutKeys, names(15), 20)
		liveT += time.Since(start)
		start = time.Now()
		runDiagMayFail(b, kbs, allSpec, fanoutKeys, names(20), 20, true)
		allT += time.Since(start)
	}
	b.ReportMetric(liveT.Seconds()/float64(b.N), "live15-s")
	b.ReportMetric(allT.Seconds()/float64(b.N), "20with5down-s")
	_, _ = n.Exec(ctx, "rm", "-f", "/var/log/kubelet.log")
}
