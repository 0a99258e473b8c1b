// Command benchcalico measures calico against flannel and `kubectl kbs
// clusters` on local nodes, in one run so that the ratios hold on a noisy
// machine (hack/bench-calico.sh runs it):
//
//   - `kubectl kbs init` of the notes' k8s shape (flannel) and hk8s shape
//     (calico), alternated, each from booted nodes to every node Ready,
//     with their phases; the ratio calico/flannel (goal ≤ 1.3);
//   - `kubectl kbs clusters` over six clusters of which two do not answer
//     (their API server accepts connections and never replies, their hosts
//     are not there): the survey's time against --timeout, and against the
//     four that answer surveyed alone (goal: bounded by the slowest
//     timeout, not the sum of two).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/test/benchinit"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

func main() {
	runs := flag.Int("runs", 1, "inits of each shape, alternated (the medians are compared)")
	timeout := flag.Duration("timeout", 5*time.Second, "clusters --timeout")
	flag.Parse()
	if err := run(*runs, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcalico:", err)
		os.Exit(1)
	}
}

func run(runs int, timeout time.Duration) error {
	ctx := context.Background()
	var flannel, calico []float64
	boot := func() (*nodes.Cluster, error) { return localcluster.Boot(ctx, false) }
	var last *benchinit.Run
	for i := range runs {
		f, err := benchinit.BringUp(ctx, "flannel (k8s)", boot, func(c *nodes.Cluster) (string, error) { return localcluster.Spec(c, "k8s") })
		if err != nil {
			return err
		}
		f.Cluster.Stop()
		flannel = append(flannel, f.Init.Seconds())
		c, err := benchinit.BringUp(ctx, "calico (hk8s)", boot, func(c *nodes.Cluster) (string, error) { return localcluster.CalicoSpec(c, "hk8s") })
		if err != nil {
			return err
		}
		calico = append(calico, c.Init.Seconds())
		if i < runs-1 {
			c.Cluster.Stop()
		} else {
			last = c
		}
	}
	defer last.Cluster.Stop()
	all, answering, err := survey(ctx, last, timeout)
	if err != nil {
		return err
	}
	f, c := benchinit.Median(flannel), benchinit.Median(calico)
	fmt.Printf("\ninit, booted nodes to all Ready (median of %d): flannel %.1fs %v, calico %.1fs %v, ratio %.2f (goal ≤ 1.3)\n", runs, f, flannel, c, calico, c/f)
	fmt.Printf("clusters: six (two not answering) %.1fs, the four answering alone %.1fs, --timeout %s: %.2f× the timeout (two timeouts in a row would be 2)\n",
		all.Seconds(), answering.Seconds(), timeout, all.Seconds()/timeout.Seconds())
	return nil
}

// survey times `kubectl kbs clusters` over the live calico cluster under
// four names (contexts and state directories that lead to it) and two that
// do not answer, then over the four alone.
func survey(ctx context.Context, b *benchinit.Run, timeout time.Duration) (all, answering time.Duration, err error) {
	hang, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks
	if err != nil {
		return 0, 0, err
	}
	defer hang.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := hang.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	specBytes, err := os.ReadFile(filepath.Join(b.Dir, "cluster.yaml"))
	if err != nil {
		return 0, 0, err
	}
	kubeconfig := filepath.Join(b.Dir, "kubeconfig")
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return 0, 0, err
	}
	gw := b.Cluster.Gateway.To4()
	var live, docs []string
	for i, name := range []string{"hk8s", "live-1", "live-2", "live-3", "down-1", "down-2"} {
		doc := strings.Replace(string(specBytes), "name: hk8s\n", "name: "+name+"\n", 1)
		if strings.HasPrefix(name, "down") {
			for j, n := range b.Cluster.Nodes {
				doc = strings.ReplaceAll(doc, "address: "+n.IP.String()+"}", fmt.Sprintf("address: %d.%d.%d.%d}", gw[0], gw[1], gw[2], 80+10*i+j))
			}
			cl := kc.Clusters["hk8s"].DeepCopy()
			cl.Server = "https://" + hang.Addr().String()
			kc.Clusters[name] = cl
		} else if name != "hk8s" {
			kc.Clusters[name] = kc.Clusters["hk8s"].DeepCopy()
			if err := os.Symlink(filepath.Join(b.Dir, "state", "hk8s"), filepath.Join(b.Dir, "state", name)); err != nil {
				return 0, 0, err
			}
		}
		if name != "hk8s" {
			cx := kc.Contexts["hk8s"].DeepCopy()
			cx.Cluster = name
			kc.Contexts[name] = cx
		}
		docs = append(docs, doc)
		if !strings.HasPrefix(name, "down") {
			live = append(live, doc)
		}
	}
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		return 0, 0, err
	}
	time1 := func(inventory []string) (time.Duration, error) {
		path := filepath.Join(b.Dir, "inventory.yaml")
		if err := os.WriteFile(path, []byte(strings.Join(inventory, "---\n")), 0o600); err != nil {
			return 0, err
		}
		var out bytes.Buffer
		start := time.Now()
		err := kbsrun.To(ctx, &out, os.Stderr, "clusters", "-f", path, "--state-root", filepath.Join(b.Dir, "state"), "--kubeconfig", kubeconfig,
			"--known-hosts", b.Cluster.KnownHosts, "--timeout", timeout.String())
		took := time.Since(start)
		fmt.Printf("%s", out.String())
		if err != nil && len(inventory) == len(live) {
			return 0, fmt.Errorf("the answering clusters report a problem: %w", err)
		}
		return took, nil
	}
	if all, err = time1(docs); err != nil {
		return 0, 0, err
	}
	answering, err = time1(live)
	return all, answering, err
}
