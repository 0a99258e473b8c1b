package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/upgrade"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// UpgradeApplyOptions is `kubectl kbs upgrade apply`.
type UpgradeApplyOptions struct {
	specFlags
	sshFlags
	DryRun         bool
	MaxUnavailable int
	DrainTimeout   time.Duration
	NodeTimeout    time.Duration
	Window         time.Duration
	Output         string
	Timings        bool

	spec *cluster.Cluster
	genericiooptions.IOStreams
}

func newCmdUpgradeApply(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UpgradeApplyOptions{specFlags: specFlags{config: f}, IOStreams: streams, MaxUnavailable: 1,
		DrainTimeout: 5 * time.Minute, NodeTimeout: 5 * time.Minute, Window: 24 * time.Hour}
	cmd := &cobra.Command{
		Use:   "apply -f cluster.yaml",
		Short: "Upgrade etcd, then the control planes, then the workers one batch at a time, to the spec's versions",
		Long: templates.LongDesc(`
			Carry the cluster to the spec's kubernetesVersion and etcd.version, in the
			order the version skew policy needs, as one journaled operation:

			1. preflight: every check of ` + "`upgrade plan`" + ` must pass;
			2. an etcd snapshot saved into the state directory (its path is printed);
			3. etcd member by member, followers first and the leader last: the target
			   binary (spec.etcd.binary), a restart, healthy at the target and caught up
			   to the raft index of before (kubeadm never touches an external etcd);
			4. the target's images on every node (bundle clusters);
			5. the first control plane: the target kubeadm, ` + "`kubeadm upgrade apply`" + `,
			   drained, the target kubelet and kubectl, restarted, Ready with its static
			   pods at the target, uncordoned; the other control planes the same with
			   ` + "`kubeadm upgrade node`" + `, one at a time;
			6. the workers, --max-unavailable at a time: drained (PodDisruptionBudgets
			   honoured, within --drain-timeout; what blocks is named),
			   ` + "`kubeadm upgrade node`" + `, kubelet and kubectl, restarted, Ready at the
			   target, uncordoned.

			Interrupted, the same command resumes at the host where it stopped; a node
			left drained stays cordoned and the error says so. --dry-run prints every
			step and changes nothing.`),
		Example: templates.Examples(`
			# See what would happen
			kubectl kbs upgrade apply -f cluster.yaml --dry-run

			# Two workers at a time
			kubectl kbs upgrade apply -f cluster.yaml --max-unavailable 2`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.specFlags.addFlags(cmd, true)
	o.sshFlags.addFlags(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&o.DryRun, "dry-run", false, "Print every step of the upgrade; connect to nothing, change nothing")
	fs.IntVar(&o.MaxUnavailable, "max-unavailable", o.MaxUnavailable, "How many workers are drained and upgraded at once")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", o.DrainTimeout, "How long one node's drain may take (PodDisruptionBudgets can hold it)")
	fs.DurationVar(&o.NodeTimeout, "node-timeout", o.NodeTimeout, "How long a node or etcd member may take to come back at the target")
	fs.DurationVar(&o.Window, "window", o.Window, "How long every certificate must stay valid (the preflight's check)")
	fs.StringVarP(&o.Output, "output", "o", "text", "Progress as text, or json: one event per phase and host on stdout, as init writes them")
	fs.BoolVar(&o.Timings, "timings", false, "At the end, print each phase's wall time and how much of it was spent inside kubeadm, drains, kubelet restarts and image imports (the rest is kbs's own)")
	return cmd
}

// Complete validates the flags and the spec before anything is contacted.
func (o *UpgradeApplyOptions) Complete() error {
	switch {
	case o.MaxUnavailable < 1:
		return fmt.Errorf("--max-unavailable must be at least 1, got %d", o.MaxUnavailable)
	case o.DrainTimeout <= 0 || o.NodeTimeout <= 0:
		return fmt.Errorf("--drain-timeout and --node-timeout must be positive")
	case o.Window < 0:
		return fmt.Errorf("--window must not be negative, got %s", o.Window)
	case o.Output != "text" && o.Output != "json":
		return fmt.Errorf("unknown --output %q: use text or json", o.Output)
	}
	if err := o.sshFlags.validate(); err != nil {
		return err
	}
	spec, err := o.specFlags.load(o.ErrOut)
	if err != nil {
		return err
	}
	o.spec = spec
	return nil
}

// Run holds the state directory's lock and runs the upgrade.
func (o *UpgradeApplyOptions) Run(ctx context.Context) error {
	local, err := state.Open(o.StateDir, o.DryRun)
	if err != nil {
		return err
	}
	out := o.ErrOut
	if o.DryRun || o.Output == "json" {
		out = o.Out // the plan, or the event stream, is the result
	}
	if !o.DryRun {
		release, err := state.Lock(o.StateDir, commandLine())
		if err != nil {
			return err
		}
		defer release()
	}
	cs, err := adminClientset(o.spec, local)
	if err != nil {
		return err
	}
	dialer := o.sshFlags.dialer(o.IOStreams)
	defer dialer.Close()
	s := &host.Session{Spec: o.spec, Local: local, SSH: dialer, Plan: o.DryRun, Parallel: o.Parallel, Out: out, JSON: o.Output == "json"}
	start := time.Now()
	if o.Timings {
		s.Timings = &workflow.Timings{}
		defer func() { s.Timings.Print(o.ErrOut, time.Since(start)) }()
	}
	snapshot := func(ctx context.Context) (string, error) {
		snap, err := etcd.Save(ctx, &etcd.Env{Spec: o.spec, State: local}, etcd.SaveOptions{})
		if err != nil {
			return "", err
		}
		return snap.Path, nil
	}
	return upgrade.Apply(ctx, s, cs, upgrade.ApplyOptions{
		MaxUnavailable: o.MaxUnavailable, DrainTimeout: o.DrainTimeout, NodeTimeout: o.NodeTimeout,
		Window: o.Window, Snapshot: snapshot,
	})
}
