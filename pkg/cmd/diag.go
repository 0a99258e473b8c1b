package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/diag"
)

// DiagOptions holds the flags of `kubectl kbs diag`.
type DiagOptions struct {
	specFlags
	sshFlags
	Via    string
	Filter diag.Options
	Follow bool
	// Output is -o, the summary's format. A path there is the old
	// spelling of Bundle, still taken for one release (see Complete).
	Output          string
	Bundle, Report  string
	NoRedact        bool
	MaxSourceSize   int64
	PodImage, PodNS string
	Role, Selector  string

	names []string // diag node NAME...
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

	# Re-run the analyzers on a bundle someone sent you, the summary as JSON
	kubectl kbs diag analyze kbs-diag-k8s-20261125T0434Z.tar.gz -o json`)

// NewCmdDiag builds `kubectl kbs diag`.
func NewCmdDiag(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiagOptions{flags: f, IOStreams: streams, specFlags: specFlags{config: f}}
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
			everything else, and the command exits non-zero.

			The summary is text by default; -o json or -o yaml prints it for scripts: the
			bundle and report paths, the manifest and the findings.`),
		Example: diagExample,
	}
	p := cmd.PersistentFlags()
	p.StringVarP(&o.File, "filename", "f", "", "Cluster spec: SSH addresses and roles, etcd hosts included (an inventory: pick one with --cluster-name)")
	p.StringVar(&o.ClusterName, "cluster-name", "", "Which cluster of an inventory file (its metadata.name)")
	o.sshFlags.addFlags(cmd)
	p.StringVar(&o.Via, "via", diag.ViaAuto, "Transport: auto, ssh, api (node log query) or pod (privileged debug pod)")
	p.StringVar(&o.Filter.Since, "since", "", `Only lines since this time ("10 min ago", "2026-11-25 04:00"), as journalctl --since`)
	p.StringVar(&o.Filter.Until, "until", "", "Only lines until this time, as journalctl --until")
	p.IntVar(&o.Filter.Tail, "tail", 0, "Only the last N lines of each log (0: all)")
	p.StringVar(&o.Filter.Grep, "grep", "", "Only log lines matching this extended regular expression")
	p.BoolVarP(&o.Filter.Reverse, "reverse", "r", false, "Newest lines first, as journalctl -r")
	p.DurationVar(&o.Filter.Timeout, "source-timeout", 2*time.Minute, "Timeout of each source")
	p.StringVar(&o.Filter.Compress, "compress", diag.CompressAuto, "Compress logs on the node on their way over SSH: auto (zstd -1 when the node has zstd) or none")
	p.BoolVar(&o.Follow, "follow", false, "Stream the nodes' journals and log files, each line prefixed with its node, until interrupted")
	p.StringVar(&o.Bundle, "bundle", "", "Bundle to write (default kbs-diag-CLUSTER-TIME.tar.gz)")
	p.StringVarP(&o.Output, "output", "o", "", "Summary format: json or yaml (default: text); a path here is the deprecated spelling of --bundle")
	p.StringVar(&o.Report, "report", "", "HTML report to write (default: the bundle's name with .html)")
	p.BoolVar(&o.NoRedact, "no-redact", false, "Keep secrets in the bundle (keys, tokens, passwords are replaced by default)")
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
		Long: templates.LongDesc(`
			Diagnose the named nodes. Each NODE is a host of the spec given with -f (etcd
			hosts included) or a node the API server knows; a name both know is one target
			that keeps the spec's SSH address. The bundle goes to --bundle (default
			kbs-diag-CLUSTER-TIME.tar.gz here), the report beside it.`),
		Args: cobra.MinimumNArgs(1),
		RunE: o.run,
	}
}

func (o *DiagOptions) cmdCluster() *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Diagnose every node of the cluster (and the spec's etcd hosts)",
		Long: templates.LongDesc(`
			Diagnose every host of the spec given with -f and every node the API server
			knows, merged by name. --role keeps one role; -l keeps the nodes whose labels
			match, and so leaves out spec hosts the API server does not list, such as
			etcd hosts.`),
		Args: cobra.NoArgs,
		RunE: o.run,
	}
	c.Flags().StringVar(&o.Role, "role", "", "Only nodes of this role: control-plane, worker or etcd")
	c.Flags().StringVarP(&o.Selector, "selector", "l", "", "Only API nodes matching this label selector")
	return c
}

func (o *DiagOptions) cmdAnalyze() *cobra.Command {
	return &cobra.Command{
		Use:   "analyze BUNDLE",
		Short: "Run the analyzers on an existing bundle and write its report",
		Long: templates.LongDesc(`
			Run the analyzers on a bundle written earlier, here or on another machine,
			write its HTML report (--report, default beside the bundle) and print the
			summary. The bundle is only read.`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Output != "" && !diag.IsOutputFormat(o.Output) {
				// -o PATH named the bundle to write; analyze writes none and
				// ignored it before --bundle existed, so it still does.
				fmt.Fprintf(o.ErrOut, "Warning: diag analyze writes no bundle: -o %s is ignored (-o takes json or yaml)\n", o.Output)
				o.Output = ""
			}
			return o.print(diag.Reanalyze(args[0], o.Report))
		},
	}
}

// run is the body of node and cluster: Complete, Validate, Run.
func (o *DiagOptions) run(cmd *cobra.Command, args []string) error {
	if err := o.Complete(args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return o.Run(cmd.Context())
}

// Complete takes node names from args and reads -o: a value that is no
// summary format is a bundle path, as -o meant before --bundle existed.
func (o *DiagOptions) Complete(args []string) error {
	o.names = args
	if err := o.specFlags.claimDeprecatedCluster(o.ErrOut); err != nil {
		return err
	}
	if o.Output != "" && !diag.IsOutputFormat(o.Output) {
		if o.Bundle != "" {
			return fmt.Errorf("-o %s and --bundle %s both name the bundle: keep --bundle, and give -o only json or yaml", o.Output, o.Bundle)
		}
		fmt.Fprintln(o.ErrOut, "Warning: -o PATH for the bundle is deprecated; use --bundle PATH")
		o.Bundle, o.Output = o.Output, ""
	}
	return nil
}

// Validate checks the flags and loads the spec before any host is contacted.
func (o *DiagOptions) Validate() error {
	switch o.Via {
	case diag.ViaAuto, diag.ViaSSH, diag.ViaAPI, diag.ViaPod:
	default:
		return fmt.Errorf("unknown --via %q: use auto, ssh, api or pod", o.Via)
	}
	if err := diag.ValidCompress(o.Filter.Compress); err != nil {
		return err
	}
	if err := o.selection().Validate(); err != nil {
		return err
	}
	if o.Filter.Tail < 0 || o.Parallel < 1 || o.MaxSourceSize < 0 {
		return fmt.Errorf("--tail and --max-source-size must not be negative, --parallel at least 1")
	}
	if o.Follow && o.Output != "" {
		return fmt.Errorf("-o %s formats the summary of a bundle, and --follow writes none: drop -o", o.Output)
	}
	if _, err := os.Stat(o.Bundle); o.Bundle != "" && err == nil {
		return fmt.Errorf("--bundle %s exists: kbs does not overwrite a bundle; choose another name", o.Bundle)
	}
	if o.File != "" {
		spec, err := o.specFlags.load(o.ErrOut)
		if err != nil {
			return err
		}
		o.spec = spec
	}
	return nil
}

func (o *DiagOptions) selection() diag.Selection {
	return diag.Selection{Names: o.names, Role: o.Role, Selector: o.Selector}
}

// Run collects (or follows) the selected nodes.
func (o *DiagOptions) Run(ctx context.Context) error {
	// Collection streams; what it holds is short-lived garbage (x/crypto/ssh
	// allocates every packet, but logs travel zstd-compressed, so there are
	// few). A tighter GC keeps diag's footprint small on the sick node's
	// neighbours.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	dialer := o.sshFlags.dialer(o.IOStreams)
	defer dialer.Close()
	return o.print(diag.Diagnose(ctx, diag.Request{
		Spec: o.spec, Kube: o.flags, SSH: dialer, Select: o.selection(),
		Via: o.Via, Options: o.Filter, Follow: o.Follow,
		Bundle: o.Bundle, Report: o.Report,
		Redact: !o.NoRedact, MaxSourceSize: o.MaxSourceSize, Parallel: o.Parallel,
		PodImage: o.PodImage, PodNamespace: o.PodNS,
		Out: o.Out, ErrOut: o.ErrOut,
	}))
}

// print prints the summary of a run as -o asks (s nil: there is none, as
// with --follow) and passes on the run's error, which comes after it: a
// bundle with failed sources still has findings worth reading.
func (o *DiagOptions) print(s *diag.Summary, err error) error {
	if s == nil {
		return err
	}
	return errors.Join(diag.PrintSummary(o.Out, o.Output, *s), err)
}
