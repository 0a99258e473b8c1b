package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/diag"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// DiagOptions holds the flags of `kubectl kbs diag`.
type DiagOptions struct {
	File, ClusterName string
	KnownHosts        []string
	AcceptNewKeys     bool
	Via               string
	Filter            diag.Options
	Follow            bool
	Output, Report    string
	NoRedact          bool
	Parallel          int
	MaxSourceSize     int64
	PodImage, PodNS   string
	Role, Selector    string

	spec  *cluster.Cluster
	flags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

var diagExample = templates.Examples(`
	# Everything about a sick worker, over SSH, into a bundle and an HTML report
	kubectl kbs diag node worker-0 -f cluster.yaml

	# The last ten minutes of every control plane, errors only
	kubectl kbs diag cluster -f cluster.yaml --role control-plane --since "10 min ago" --grep 'E[0-9]{4}'

	# journalctl -f across nodes, each line prefixed with its node
	kubectl kbs diag node worker-0 worker-1 -f cluster.yaml --follow

	# Re-run the analyzers on a bundle someone sent you
	kubectl kbs diag analyze kbs-diag-k8s-20261125T0434Z.tar.gz`)

// NewCmdDiag builds `kubectl kbs diag`.
func NewCmdDiag(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiagOptions{flags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "diag",
		Short: "Collect logs, journald and node state into a redacted bundle, analyze it, report",
		Long: templates.LongDesc(`
			Collect what an operator reads on a sick node — the kubelet, containerd and etcd
			journals, kernel messages, the log files under /var/log (rotated and .gz too), unit
			status, the clock, listening ports, disk, memory and swap, CNI and kubelet
			configuration, certificate expiry (never keys) — plus what the API server knows
			(events first, the Node, its pods), into one tar.gz streamed to disk with secrets
			redacted; then run the analyzers, merge every node's lines into one UTC timeline
			with each node's clock corrected, and write an offline HTML report.

			Nodes are reached over SSH (a spec with -f gives addresses; etcd hosts that are no
			Kubernetes node are covered too), through the kubelet's node log query, or through a
			privileged debug pod; --via auto tries them in that order, so a node whose kubelet
			or API server is down still yields its logs. The bundle records which transport
			served each source. A node that cannot be read still leaves a bundle with
			everything else, and the command exits non-zero.`),
		Example: diagExample,
	}
	p := cmd.PersistentFlags()
	p.StringVarP(&o.File, "filename", "f", "", "Cluster spec: SSH addresses and roles, etcd hosts included")
	p.StringVar(&o.ClusterName, "cluster", "", "Cluster to use from an inventory file")
	p.StringSliceVar(&o.KnownHosts, "known-hosts", []string{remote.DefaultKnownHosts()}, "known_hosts files to verify host keys against")
	p.BoolVar(&o.AcceptNewKeys, "accept-new-host-keys", false, "Record the keys of hosts not yet in known_hosts")
	p.StringVar(&o.Via, "via", diag.ViaAuto, "Transport: auto, ssh, api (node log query) or pod (privileged debug pod)")
	p.StringVar(&o.Filter.Since, "since", "", `Only lines since this time ("10 min ago", "2026-11-25 04:00"), as journalctl --since`)
	p.StringVar(&o.Filter.Until, "until", "", "Only lines until this time, as journalctl --until")
	p.IntVar(&o.Filter.Tail, "tail", 0, "Only the last N lines of each log (0: all)")
	p.StringVar(&o.Filter.Grep, "grep", "", "Only log lines matching this extended regular expression")
	p.BoolVarP(&o.Filter.Reverse, "reverse", "r", false, "Newest lines first, as journalctl -r")
	p.DurationVar(&o.Filter.Timeout, "source-timeout", 2*time.Minute, "Timeout of each source")
	p.StringVar(&o.Filter.Compress, "compress", diag.CompressAuto, "Compress logs on the node on their way over SSH: auto (zstd -1 when the node has zstd) or none")
	p.BoolVar(&o.Follow, "follow", false, "Stream the nodes' journals and log files, each line prefixed with its node, until interrupted")
	p.StringVarP(&o.Output, "output", "o", "", "Bundle to write (default kbs-diag-<cluster>-<time>.tar.gz)")
	p.StringVar(&o.Report, "report", "", "HTML report to write (default: the bundle's name with .html)")
	p.BoolVar(&o.NoRedact, "no-redact", false, "Keep secrets in the bundle (keys, tokens, passwords are replaced by default)")
	p.IntVar(&o.Parallel, "parallel", remote.DefaultParallelism, "How many nodes to read at once")
	p.Int64Var(&o.MaxSourceSize, "max-source-size", 256<<20, "Cap on each source's bytes in the bundle (0: none)")
	p.StringVar(&o.PodImage, "pod-image", "docker.io/library/busybox:1.37", "Image of the debug pod (needs sh and chroot; use a local one on air-gapped clusters)")
	p.StringVar(&o.PodNS, "pod-namespace", "kube-system", "Namespace of the debug pod (must allow privileged pods)")
	cmd.AddCommand(o.cmdNode(), o.cmdCluster(), o.cmdAnalyze())
	return cmd
}

func (o *DiagOptions) cmdNode() *cobra.Command {
	return &cobra.Command{
		Use:   "node NODE...",
		Short: "Diagnose the named nodes (or spec hosts)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), func(ts []diag.Target) ([]diag.Target, error) { return pick(ts, args) })
		},
	}
}

func (o *DiagOptions) cmdCluster() *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Diagnose every node of the cluster (and the spec's etcd hosts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Role != "" && !slices.Contains([]string{cluster.RoleControlPlane, cluster.RoleWorker, cluster.RoleEtcd}, o.Role) {
				return fmt.Errorf("unknown --role %q: use control-plane, worker or etcd", o.Role)
			}
			return o.run(cmd.Context(), func(ts []diag.Target) ([]diag.Target, error) {
				var out []diag.Target
				for _, t := range ts {
					if o.Role == "" || t.Role == o.Role {
						out = append(out, t)
					}
				}
				return out, nil
			})
		},
	}
	c.Flags().StringVar(&o.Role, "role", "", "Only nodes of this role: control-plane, worker or etcd")
	c.Flags().StringVarP(&o.Selector, "selector", "l", "", "Only API nodes matching this label selector")
	return c
}

func (o *DiagOptions) cmdAnalyze() *cobra.Command {
	return &cobra.Command{
		Use:   "analyze BUNDLE",
		Short: "Run the analyzers on an existing bundle and write its report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := diag.Analyze(args[0])
			if err != nil {
				return err
			}
			return o.finish(args[0], a)
		},
	}
}

func pick(ts []diag.Target, names []string) ([]diag.Target, error) {
	var out []diag.Target
	for _, n := range names {
		i := slices.IndexFunc(ts, func(t diag.Target) bool { return t.Name == n })
		if i < 0 {
			var known []string
			for _, t := range ts {
				known = append(known, t.Name)
			}
			return nil, fmt.Errorf("no node or spec host named %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, ts[i])
	}
	return out, nil
}

func (o *DiagOptions) validate() error {
	switch o.Via {
	case diag.ViaAuto, diag.ViaSSH, diag.ViaAPI, diag.ViaPod:
	default:
		return fmt.Errorf("unknown --via %q: use auto, ssh, api or pod", o.Via)
	}
	if err := diag.ValidCompress(o.Filter.Compress); err != nil {
		return err
	}
	if o.Filter.Tail < 0 || o.Parallel < 1 || o.MaxSourceSize < 0 {
		return fmt.Errorf("--tail and --max-source-size must not be negative, --parallel at least 1")
	}
	if o.Output != "" {
		if _, err := os.Stat(o.Output); err == nil {
			return fmt.Errorf("--output %s exists: kbs does not overwrite a bundle; choose another name", o.Output)
		}
	}
	if o.File != "" {
		spec, err := cluster.LoadOne(o.File, o.ClusterName)
		if err != nil {
			return err
		}
		o.spec = spec
	}
	return nil
}

// client returns an API client, or nil with a warning when the API server
// does not answer: diag must work when it is down.
func (o *DiagOptions) client(ctx context.Context) (kubernetes.Interface, *rest.Config) {
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		fmt.Fprintf(o.ErrOut, "[diag] no usable kubeconfig (%v): API sources skipped\n", err)
		return nil, nil
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().RESTClient().Get().AbsPath("/version").Do(pctx).Raw(); err != nil {
		fmt.Fprintf(o.ErrOut, "[diag] the API server does not answer (%v): collecting over SSH only\n", err)
		return nil, nil
	}
	return cs, cfg
}

// targets merges the spec's hosts (with SSH) and the API's nodes.
func (o *DiagOptions) targets(ctx context.Context, cs kubernetes.Interface) ([]diag.Target, error) {
	var ts []diag.Target
	if o.spec != nil {
		for _, h := range o.spec.Spec.Hosts {
			t := host.TargetFor(o.spec, h)
			ts = append(ts, diag.Target{Name: h.Name, Role: h.Role, Address: h.Address, SSH: &t})
		}
	}
	if cs != nil {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: o.Selector})
		if err != nil {
			return nil, fmt.Errorf("listing nodes: %w", err)
		}
		for _, n := range diag.TargetsFromNodes(list.Items) {
			if i := slices.IndexFunc(ts, func(t diag.Target) bool { return t.Name == n.Name }); i >= 0 {
				ts[i].InAPI = true
				continue
			}
			ts = append(ts, n)
		}
		if o.Selector != "" {
			var keep []diag.Target
			for _, t := range ts {
				if t.InAPI {
					keep = append(keep, t)
				}
			}
			ts = keep
		}
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no nodes to diagnose: give a spec with -f, or a kubeconfig for a reachable API server")
	}
	return ts, nil
}

func (o *DiagOptions) run(ctx context.Context, choose func([]diag.Target) ([]diag.Target, error)) error {
	// Collection streams; what it holds is short-lived garbage (x/crypto/ssh
	// allocates every packet, but logs travel zstd-compressed, so there are
	// few). A tighter GC keeps diag's footprint small on the sick node's
	// neighbours.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	if err := o.validate(); err != nil {
		return err
	}
	cs, cfg := o.client(ctx)
	all, err := o.targets(ctx, cs)
	if err != nil {
		return err
	}
	targets, err := choose(all)
	if err != nil {
		return err
	}
	dialer := newDialer(o.IOStreams, o.KnownHosts, o.AcceptNewKeys)
	defer dialer.Close()
	if o.Follow {
		return diag.Follow(ctx, dialer, targets, o.Filter, !o.NoRedact, o.Out)
	}
	path := o.Output
	if path == "" {
		name := "cluster"
		if o.spec != nil {
			name = o.spec.Metadata.Name
		}
		path = fmt.Sprintf("kbs-diag-%s-%s.tar.gz", name, time.Now().UTC().Format("20060102T150405Z"))
	}
	b, err := diag.NewBundle(path, !o.NoRedact, o.MaxSourceSize)
	if err != nil {
		return err
	}
	an := diag.NewAnalyzer()
	b.Analyze(an)
	c := &diag.Collector{SSH: dialer, Client: cs, Via: o.Via, Options: o.Filter, Parallel: o.Parallel,
		Progress: func(node, f string, a ...any) { fmt.Fprintf(o.ErrOut, "[diag] "+node+": "+f+"\n", a...) }}
	if cs != nil {
		c.Pod = &diag.PodTransport{Client: cs, Config: cfg, Namespace: o.PodNS, Image: o.PodImage}
	}
	if !o.NoRedact {
		fmt.Fprintf(o.ErrOut, "[diag] redacting %s\n", strings.Join(diag.RuleNames(), ", "))
	}
	collectErr := c.Run(ctx, targets, b)
	if err := b.Close(); err != nil {
		return fmt.Errorf("finishing bundle %s: %w", path, err)
	}
	a, err := an.Finish(b.Manifest())
	if err != nil {
		return fmt.Errorf("bundle %s written, but analyzing it failed: %w", path, err)
	}
	if err := o.finish(path, a); err != nil {
		return err
	}
	if collectErr != nil {
		return fmt.Errorf("bundle %s written, but some sources failed (see manifest.json and the report):\n%w", path, collectErr)
	}
	return nil
}

// finish writes the report and prints the summary.
func (o *DiagOptions) finish(bundle string, a *diag.Analysis) error {
	report := o.Report
	if report == "" {
		report = strings.TrimSuffix(strings.TrimSuffix(bundle, ".gz"), ".tar") + ".html"
	}
	if err := diag.WriteReport(report, filepath.Base(bundle), a); err != nil {
		return err
	}
	diag.WriteSummary(o.Out, a)
	fmt.Fprintf(o.Out, "bundle: %s\nreport: %s\n", bundle, report)
	return nil
}
