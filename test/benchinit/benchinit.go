// Package benchinit is what the init benchmarks share: boot a cluster
// shape, run `kubectl kbs init --timings` on it from booted nodes to every
// node Ready, print its phases, and compare medians.
package benchinit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

// Run is one init: the nodes (the caller stops them), the directory with
// cluster.yaml, kubeconfig and state/NAME, and the init's wall time.
type Run struct {
	Cluster *nodes.Cluster
	Dir     string
	Init    time.Duration
}

// Kubeconfig is where init merged the admin context.
func (r *Run) Kubeconfig() string { return filepath.Join(r.Dir, "kubeconfig") }

// BringUp boots a shape and runs kbs init on it with --timings, printing
// the phases under the heading what.
func BringUp(ctx context.Context, what string, boot func() (*nodes.Cluster, error), spec func(*nodes.Cluster) (string, error)) (*Run, error) {
	c, err := boot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kbs-bench-init-")
	if err != nil {
		c.Stop()
		return nil, err
	}
	s, err := spec(c)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(s), 0o600)
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	var progress bytes.Buffer
	start := time.Now()
	err = kbsrun.To(ctx, os.Stderr, &progress, "init", "-f", filepath.Join(dir, "cluster.yaml"), "--state-dir", filepath.Join(dir, "state", nameOf(s)),
		"--known-hosts", c.KnownHosts, "--kubeconfig", filepath.Join(dir, "kubeconfig"), "--timings")
	took := time.Since(start)
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("init (%s): %w\n%s", what, err, progress.String())
	}
	out := progress.String()
	fmt.Printf("== %s: kubectl kbs init %.1fs\n%s\n", what, took.Seconds(), out[strings.Index(out, "PHASE"):])
	return &Run{Cluster: c, Dir: dir, Init: took}, nil
}

func nameOf(spec string) string {
	_, rest, _ := strings.Cut(spec, "metadata:\n  name: ")
	name, _, _ := strings.Cut(rest, "\n")
	return name
}

// Median of xs.
func Median(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	if len(ys)%2 == 0 {
		return (ys[len(ys)/2-1] + ys[len(ys)/2]) / 2
	}
	return ys[len(ys)/2]
}
