// Command demo boots the local nodes `make demo` runs kbs against and writes
// what kbs needs to reach them; `demo down` removes them.
//
//	go run ./test/demo up DIR    # boot, write DIR/cluster.yaml and DIR/known_hosts
//	go run ./test/demo down DIR  # stop the nodes, remove bridge, cgroups and DIR
//
// The nodes outlive this process (they are a kept run); DIR/run names the
// run directory so `down` can find it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/localcluster"
	"github.com/kubectl-kbs/kbs/test/nodes"
)

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: demo up|down DIR")
		os.Exit(2)
	}
	dir := os.Args[2]
	var err error
	if os.Args[1] == "up" {
		err = up(dir)
	} else {
		err = down(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func up(dir string) error {
	if b, err := os.ReadFile(filepath.Join(dir, "run")); err == nil {
		if _, err := os.Stat(strings.TrimSpace(string(b))); err == nil {
			return fmt.Errorf("a demo cluster is already up (%s): run `make demo-down` first", strings.TrimSpace(string(b)))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	// KBS_DEMO_SPARES=1 also boots etcd1 and etcd2, outside the spec, to
	// try kubectl kbs etcd member add on (DIR/cluster-3.yaml lists them).
	var spares []string
	if os.Getenv("KBS_DEMO_SPARES") != "" {
		spares = localcluster.Spares
	}
	// KBS_DEMO_HA=1 boots the HA shape instead (make demo-ha): three etcd,
	// two control planes behind a VIP, one worker.
	ha := os.Getenv("KBS_DEMO_HA") != ""
	boot := func() (*nodes.Cluster, error) { return localcluster.Boot(ctx, true, spares...) }
	if ha {
		boot = func() (*nodes.Cluster, error) { return localcluster.BootHA(ctx, true) }
	}
	c, err := boot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "run"), []byte(c.Run.Path+"\n"), 0o600); err != nil {
		return err
	}
	kh, err := os.ReadFile(c.KnownHosts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), kh, 0o600); err != nil {
		return err
	}
	if ha {
		s, err := localcluster.HASpec(c, "k8s")
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(s), 0o600)
		}
		if err != nil {
			return err
		}
	} else if err := localcluster.WriteSpec(c, "k8s", filepath.Join(dir, "cluster.yaml")); err != nil {
		return err
	}
	if len(spares) > 0 {
		if err := localcluster.WriteSpec(c, "k8s", filepath.Join(dir, "cluster-3.yaml"), spares...); err != nil {
			return err
		}
	}
	for _, n := range c.Nodes {
		fmt.Fprintf(os.Stderr, "[demo] %-9s %s\n", n.Name, n.IP)
	}
	fmt.Fprintf(os.Stderr, "[demo] %d nodes up in %s; spec %s\n", len(c.Nodes), time.Since(start).Round(100*time.Millisecond), filepath.Join(dir, "cluster.yaml"))
	return nil
}

func down(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "run"))
	if err != nil {
		if os.IsNotExist(err) {
			fmt.Fprintln(os.Stderr, "[demo] no demo cluster is up")
			return os.RemoveAll(dir)
		}
		return err
	}
	run := strings.TrimSpace(string(b))
	env.Reap(run)
	if _, err := os.Stat(run); err == nil {
		return fmt.Errorf("could not remove %s: remove it by hand", run)
	}
	fmt.Fprintf(os.Stderr, "[demo] nodes, bridge and cgroups removed\n")
	return os.RemoveAll(dir)
}
