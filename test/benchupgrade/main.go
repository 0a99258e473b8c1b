// Command benchupgrade measures `kubectl kbs upgrade apply` on local nodes
// (hack/bench-upgrade.sh runs it): the notes' k8s shape brought up at the
// previous release, a two-replica Deployment with a PodDisruptionBudget
// probed every 200 ms, then the upgrade to the current release with
// --timings — its wall time per phase and per host, the time inside
// kubeadm, drains, restarts and image imports (the floor kbs only drives),
// kbs's own share of the total (goal ≤ 15 %) and the prober's failed
// requests (goal ≤ 1 %).
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/test/benchinit"
	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
	"github.com/kubectl-kbs/kbs/test/workload"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "benchupgrade:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if err := env.UseTestKubectl(); err != nil {
		return err
	}
	boot := func() (*nodes.Cluster, error) { return localcluster.Boot(ctx, false) }
	r, err := benchinit.BringUp(ctx, "k8s at "+localcluster.PreviousKubernetes, boot, func(c *nodes.Cluster) (string, error) {
		return localcluster.PreviousSpec(c, "k8s")
	})
	if err != nil {
		return err
	}
	defer r.Cluster.Stop()
	defer os.RemoveAll(r.Dir)
	cfg, err := clientcmd.BuildConfigFromFlags("", r.Kubeconfig())
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var ips []string
	for _, n := range []string{"master-0", "worker-0", "worker-1"} {
		ips = append(ips, r.Cluster.Node(n).IP.String())
	}
	stop, err := workload.Probed(ctx, cs, "bench", "kbs.local/coredns:v1.14.2", ips)
	if err != nil {
		return err
	}
	target := filepath.Join(r.Dir, "target.yaml")
	if err := localcluster.WriteSpec(r.Cluster, "k8s", target); err != nil {
		return err
	}
	var progress bytes.Buffer
	start := time.Now()
	log := &timeline{start: start}
	err = kbsrun.To(ctx, os.Stderr, io.MultiWriter(&progress, log), "upgrade", "apply", "-f", target, "--state-dir", filepath.Join(r.Dir, "state", "k8s"),
		"--known-hosts", r.Cluster.KnownHosts, "--kubeconfig", r.Kubeconfig(), "--timings")
	took := time.Since(start)
	res := stop()
	if err != nil {
		return fmt.Errorf("upgrade apply: %w\n%s", err, progress.String())
	}
	out := progress.String()
	fmt.Printf("== kubectl kbs upgrade apply %s → v1.37.2: %.1fs\n", localcluster.PreviousKubernetes, took.Seconds())
	// The whole progress, each line at the time it was written: where the
	// time between the traced steps goes.
	for _, l := range log.lines {
		if strings.HasPrefix(l.text, "PHASE") {
			break
		}
		fmt.Printf("+%6.1fs %s\n", l.at.Sub(start).Seconds(), l.text)
	}
	fmt.Println(out[strings.Index(out, "PHASE"):])
	fmt.Printf("prober: %d of %d requests failed (%.2f %%; goal ≤ 1 %%), longest run of failures %s\n",
		res.Failed, res.Total, 100*res.Rate(), res.Longest.Round(10*time.Millisecond))
	for _, at := range res.FailedAt {
		fmt.Printf("  failed at +%.1fs, after: %s\n", at.Sub(start).Seconds(), log.before(at))
	}
	return nil
}

// timeline keeps when each progress line of the upgrade was written, so
// that each failed request can be told the step it followed.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	lines []stampedLine
}

type stampedLine struct {
	at   time.Time
	text string
}

func (t *timeline) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		t.lines = append(t.lines, stampedLine{now, l})
	}
	return len(p), nil
}

// before is the last line written before at, with its own time.
func (t *timeline) before(at time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := "(nothing yet)"
	for _, l := range t.lines {
		if l.at.After(at) {
			break
		}
		last = fmt.Sprintf("+%.1fs %s", l.at.Sub(t.start).Seconds(), l.text)
	}
	return last
}
