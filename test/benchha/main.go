// Command benchha measures the HA control planes on local nodes, in one run
// so that the ratio holds on a noisy machine (hack/bench-ha.sh runs it):
//
//   - `kubectl kbs init` of the single-control-plane k8s shape and of the HA
//     shape (three etcd, two control planes behind a VIP, one worker), each
//     from booted nodes to every node Ready, with their phases; the ratio
//     HA/single (goal ≤ 1.6);
//   - failover: seconds from cutting the power of the control plane that
//     holds the VIP until the API answers through the endpoint again (goal
//     ≤ 10 s), several times: the node is powered on again, rejoins by
//     itself, and the next trial takes out whichever holds the VIP then.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/test/benchinit"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

func main() {
	trials := flag.Int("failovers", 3, "failover trials")
	runs := flag.Int("runs", 1, "inits of each shape, alternated (the medians are compared)")
	flag.Parse()
	if err := run(*runs, *trials); err != nil {
		fmt.Fprintln(os.Stderr, "benchha:", err)
		os.Exit(1)
	}
}

func run(runs, trials int) error {
	ctx := context.Background()
	var singles, has []float64
	var ha *run1
	for i := range runs {
		single, err := bringUp(ctx, "single control plane (etcd0, master-0, worker-0, worker-1)",
			func() (*nodes.Cluster, error) { return localcluster.Boot(ctx, false) },
			func(c *nodes.Cluster) (string, error) { return localcluster.Spec(c, "k8s") })
		if err != nil {
			return err
		}
		single.cluster.Stop()
		singles = append(singles, single.init.Seconds())
		ha, err = bringUp(ctx, "HA (etcd0-2, master-0 and master-1 behind a VIP, worker-0)",
			func() (*nodes.Cluster, error) { return localcluster.BootHA(ctx, false) },
			func(c *nodes.Cluster) (string, error) { return localcluster.HASpec(c, "k8s") })
		if err != nil {
			return err
		}
		has = append(has, ha.init.Seconds())
		if i < runs-1 {
			ha.cluster.Stop()
		}
	}
	defer ha.cluster.Stop()
	var secs []float64
	for i := range trials {
		s, holder, err := failover(ctx, ha)
		if err != nil {
			return err
		}
		fmt.Printf("failover %d: the API answered through the endpoint %.1fs after %s lost power\n", i+1, s, holder)
		secs = append(secs, s)
	}
	s, h := benchinit.Median(singles), benchinit.Median(has)
	fmt.Printf("\ninit, booted nodes to all Ready (median of %d): single %.1fs %v, HA %.1fs %v, ratio %.2f (goal ≤ 1.6)\n",
		runs, s, singles, h, has, h/s)
	if len(secs) > 0 {
		slices.Sort(secs)
		fmt.Printf("failover: median %.1fs, worst %.1fs of %d (goal ≤ 10 s)\n", secs[len(secs)/2], secs[len(secs)-1], len(secs))
	}
	return nil
}

type run1 struct {
	cluster *nodes.Cluster
	init    time.Duration
	cfg     *rest.Config
}

func bringUp(ctx context.Context, what string, boot func() (*nodes.Cluster, error), spec func(*nodes.Cluster) (string, error)) (*run1, error) {
	r, err := benchinit.BringUp(ctx, what, boot, spec)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", r.Kubeconfig())
	if err != nil {
		r.Cluster.Stop()
		return nil, err
	}
	return &run1{cluster: r.Cluster, init: r.Init, cfg: cfg}, nil
}

// failover powers off the VIP's holder, times the endpoint's return, then
// powers it on and waits until both control planes serve again.
func failover(ctx context.Context, r *run1) (float64, string, error) {
	holder, err := holderOf(ctx, r.cluster)
	if err != nil {
		return 0, "", err
	}
	endpoint := localcluster.VIP(r.cluster) + ":8443"
	start := time.Now()
	r.cluster.PowerOff(r.cluster.Node(holder))
	if err := poll(ctx, time.Minute, func(ctx context.Context) error { return readyz(ctx, r.cfg, endpoint) }); err != nil {
		return 0, "", fmt.Errorf("the endpoint did not answer within a minute of %s's power-off: %w", holder, err)
	}
	secs := time.Since(start).Seconds()
	if err := r.cluster.PowerOn(ctx, r.cluster.Node(holder)); err != nil {
		return 0, "", err
	}
	addr := r.cluster.Node(holder).IP.String() + ":6443"
	if err := poll(ctx, 3*time.Minute, func(ctx context.Context) error { return readyz(ctx, r.cfg, addr) }); err != nil {
		return 0, "", fmt.Errorf("%s did not serve again after power-on: %w", holder, err)
	}
	return secs, holder, nil
}

func holderOf(ctx context.Context, c *nodes.Cluster) (string, error) {
	for _, n := range []string{"master-0", "master-1"} {
		out, err := c.Node(n).Exec(ctx, "ip", "-o", "-4", "addr", "show", "to", localcluster.VIP(c)+"/32")
		if err == nil && strings.TrimSpace(string(out)) != "" {
			return n, nil
		}
	}
	return "", fmt.Errorf("no control plane holds the VIP")
}

func readyz(ctx context.Context, cfg *rest.Config, hostport string) error {
	c := rest.CopyConfig(cfg)
	c.Host, c.Timeout = "https://"+hostport, time.Second
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	_, err = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

func poll(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		return last == nil, nil
	})
	if err != nil {
		return last
	}
	return nil
}
