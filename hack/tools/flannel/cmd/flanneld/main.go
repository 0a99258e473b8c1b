// Command flanneld is a minimal flannel daemon for the kbs test clusters: the
// Kubernetes subnet manager, the vxlan backend and iptables rules only. The
// upstream main also links a cloud backend whose SDK the module proxy here
// does not serve, so the test environment builds this one over flannel's
// packages instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flannel-io/flannel/pkg/backend"
	_ "github.com/flannel-io/flannel/pkg/backend/vxlan" // registers "vxlan"
	"github.com/flannel-io/flannel/pkg/ip"
	"github.com/flannel-io/flannel/pkg/ipmatch"
	"github.com/flannel-io/flannel/pkg/subnet"
	"github.com/flannel-io/flannel/pkg/subnet/kube"
	"github.com/flannel-io/flannel/pkg/trafficmngr/iptables"
	"k8s.io/klog/v2"
)

type options struct {
	iface, kubeconfig, netConf, subnetFile, healthz string
	ipMasq                                          bool
	resync                                          int
}

func main() {
	var o options
	fs := flag.NewFlagSet("flanneld", flag.ExitOnError)
	fs.StringVar(&o.iface, "iface", "", "interface (name or IP) for node-to-node traffic; default: the one with the default route")
	fs.StringVar(&o.kubeconfig, "kubeconfig-file", "", "kubeconfig; empty inside a pod")
	fs.StringVar(&o.netConf, "net-config-path", "/etc/kube-flannel/net-conf.json", "network configuration")
	fs.StringVar(&o.subnetFile, "subnet-file", "/run/flannel/subnet.env", "where the node's subnet is written for the CNI plugin")
	healthIP := fs.String("healthz-ip", "0.0.0.0", "address of the /healthz and /readyz server")
	healthPort := fs.Int("healthz-port", 0, "port of the /healthz and /readyz server (0: off)")
	fs.BoolVar(&o.ipMasq, "ip-masq", true, "masquerade traffic leaving the pod network")
	fs.IntVar(&o.resync, "iptables-resync", 5, "seconds between iptables rule checks")
	// Accepted for manifest compatibility; this daemon always uses the API.
	fs.Bool("kube-subnet-mgr", true, "use the Kubernetes API for subnets (always on)")
	klog.InitFlags(fs)
	_ = fs.Parse(os.Args[1:])
	if *healthPort > 0 {
		o.healthz = net.JoinHostPort(*healthIP, strconv.Itoa(*healthPort))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil && !errors.Is(err, context.Canceled) {
		klog.ErrorS(err, "flanneld failed")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	var ready atomic.Bool
	if o.healthz != "" {
		go serveHealth(o.healthz, &ready)
	}
	sm, err := kube.NewSubnetManager(ctx, "", o.kubeconfig, "flannel.alpha.coreos.com", o.netConf, false)
	if err != nil {
		return fmt.Errorf("subnet manager: %w", err)
	}
	cfg, err := networkConfig(ctx, sm)
	if err != nil {
		return err
	}
	stack, err := ipmatch.GetIPFamily(cfg.EnableIPv4, cfg.EnableIPv6)
	if err != nil {
		return err
	}
	ext, err := ipmatch.LookupExtIface(o.iface, "", "", stack, ipmatch.PublicIPOpts{})
	if err != nil {
		return fmt.Errorf("no interface for node traffic: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	be, err := backend.NewManager(ctx, sm, ext).GetBackend(cfg.BackendType)
	if err != nil {
		return fmt.Errorf("backend %q: %w", cfg.BackendType, err)
	}
	bn, err := be.RegisterNetwork(ctx, &wg, cfg)
	if err != nil {
		return fmt.Errorf("register network: %w", err)
	}
	tm := &iptables.IPTablesManager{}
	if err := tm.Init(ctx); err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	lease := bn.Lease()
	if o.ipMasq {
		// Zero "previous" networks: rules of an earlier lease, if any, are
		// replaced by the resync loop rather than looked up in an old file.
		if err := tm.SetupAndEnsureMasqRules(ctx, cfg.Network, ip.IP4Net{}, ip.IP4Net{}, cfg.IPv6Network, ip.IP6Net{}, ip.IP6Net{}, lease, o.resync, false); err != nil {
			return fmt.Errorf("masquerade rules: %w", err)
		}
	}
	tm.SetupAndEnsureForwardRules(ctx, cfg.Network, cfg.IPv6Network, o.resync)
	if err := sm.HandleSubnetFile(o.subnetFile, cfg, o.ipMasq, lease.Subnet, lease.IPv6Subnet, bn.MTU()); err != nil {
		return fmt.Errorf("write %s: %w", o.subnetFile, err)
	}
	ready.Store(true)
	klog.InfoS("flannel is ready", "subnet", lease.Subnet.String(), "iface", ext.Iface.Name)
	wg.Add(1)
	go func() { defer wg.Done(); bn.Run(ctx) }()
	// The Kubernetes subnet manager's CompleteLease returns at once; the
	// daemon lives until it is told to stop.
	if err := sm.CompleteLease(ctx, lease, &wg); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	<-ctx.Done()
	return ctx.Err()
}

// networkConfig waits for the network configuration, which the subnet
// manager reads from the node's annotations and the mounted config.
func networkConfig(ctx context.Context, sm subnet.Manager) (*subnet.Config, error) {
	for {
		cfg, err := sm.GetNetworkConfig(ctx)
		if err == nil && cfg != nil {
			return cfg, nil
		}
		klog.InfoS("waiting for the network configuration", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func serveHealth(addr string, ready *atomic.Bool) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	klog.ErrorS(http.ListenAndServe(addr, mux), "health server stopped")
}
