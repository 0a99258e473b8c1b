package cmd

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/pkg/bootstrap"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// InitOptions holds the flags of `kubectl kbs init`.
type InitOptions struct {
	specFlags
	sshFlags
	DryRun       bool
	SkipPhases   []string
	Only         []string // set by `init phase NAME`
	IgnoreChecks []string
	Output       string
	Timings      bool

	spec  *cluster.Cluster
	flags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

var initExample = templates.Examples(`
	# Show what init would do, touching no host
	kubectl kbs init -f cluster.yaml --dry-run

	# Bring the cluster up to a healthy external etcd and a validated kubeadm configuration
	kubectl kbs init -f cluster.yaml

	# Run one phase alone
	kubectl kbs init phase etcd -f cluster.yaml`)

// NewCmdInit builds `init` and its `init phase NAME` subcommands.
func NewCmdInit(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := newInitOptions(f, streams)
	cmd := &cobra.Command{
		Use:   "init -f cluster.yaml",
		Short: "Bootstrap a cluster over SSH, phase by phase",
		Long: templates.LongDesc(`
			Bootstrap the cluster a spec describes, over SSH: preflight checks on every
			host; the etcd PKI (made locally, kept in ~/.kube/kbs/CLUSTER/); containerd,
			runc, CNI plugins, kubelet, kubeadm and kubectl on every node, from apt packages
			or an air-gapped bundle (its images imported; from a bundle, workers get neither
			kubectl nor the control plane's images); an external etcd under
			systemd with client- and peer-certificate auth; the API server's etcd client
			certificates; a kubeadm v1beta4 configuration validated by kubeadm; kubeadm init
			with kbs's own cluster CA; admin.conf merged into your kubeconfig as context
			CLUSTER (the spec's name); the pod network (flannel); the workers joined with a one-hour token
			and the CA hash pinned; and a wait until every node is Ready.

			The spec is validated before any host is contacted. Finished phases are
			journaled: a re-run verifies and skips them, and a killed run resumes.`),
		Example: initExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd)
	cmd.AddCommand(newCmdInitPhase(o))
	return cmd
}

// AddFlags registers the init flags.
func (o *InitOptions) AddFlags(cmd *cobra.Command) {
	o.addSpecFlags(cmd)
	f := cmd.PersistentFlags()
	f.StringSliceVar(&o.SkipPhases, "skip-phases", nil, "Phases to skip")
	f.StringVarP(&o.Output, "output", "o", "", "Progress format: text (default) or json (one event per line on stdout)")
	f.StringSliceVar(&o.IgnoreChecks, "ignore-preflight-checks", nil, "Preflight checks whose failure does not stop init (os, systemd, swap, ports)")
	f.BoolVar(&o.Timings, "timings", false, "At the end, print each phase's wall time and how much of the run was spent inside kubeadm, etcd start-up and image import (the rest is kbs's own)")
}

// newInitOptions are the options of a command that works from a spec over
// SSH (init, join, reset, certs).
func newInitOptions(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *InitOptions {
	return &InitOptions{IOStreams: streams, flags: f, specFlags: specFlags{config: f}}
}

// addSpecFlags registers what every command working from a spec over SSH
// needs (init, join, reset, certs renew): the spec, SSH and --dry-run.
func (o *InitOptions) addSpecFlags(cmd *cobra.Command) {
	o.specFlags.addFlags(cmd, true)
	o.sshFlags.addFlags(cmd)
	cmd.PersistentFlags().BoolVar(&o.DryRun, "dry-run", false, "Print the per-host plan and every file that would be written (keys elided); connect to nothing, change nothing")
}

// newSession opens the state directory and an SSH dialer for a run; close
// releases the connections.
func (o *InitOptions) newSession() (s *bootstrap.Init, closeFn func(), err error) {
	local, err := state.Open(o.StateDir, o.DryRun)
	if err != nil {
		return nil, nil, err
	}
	release := func() {}
	if !o.DryRun {
		if release, err = state.Lock(o.StateDir, commandLine()); err != nil {
			return nil, nil, err
		}
	}
	out := o.ErrOut // progress on stderr
	if o.DryRun || o.Output == "json" {
		out = o.Out // the plan, or the event stream, is the result
	}
	dialer := o.sshFlags.dialer(o.IOStreams)
	s = &bootstrap.Init{
		Session: &host.Session{Spec: o.spec, Local: local, SSH: dialer, Plan: o.DryRun, Parallel: o.Parallel, Out: out, JSON: o.Output == "json"},
		Ignore:  o.IgnoreChecks, Kubeconfig: kubeconfigPath(o.flags),
	}
	return s, func() { dialer.Close(); release() }, nil
}

// commandLine names this run for whoever finds the state directory locked.
func commandLine() string {
	return "kubectl kbs " + strings.Join(os.Args[1:], " ")
}

func newCmdInitPhase(o *InitOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "phase NAME -f cluster.yaml",
		Short: "Run one phase of init",
		Long:  templates.LongDesc(`Run one phase of init alone. Phases are idempotent, so running one again is safe.`),
	}
	for _, p := range bootstrap.InitPhases() {
		name := p.Name
		cmd.AddCommand(&cobra.Command{
			Use:   name,
			Short: p.Short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				o.Only = []string{name}
				if err := o.Complete(); err != nil {
					return err
				}
				if err := o.Validate(); err != nil {
					return err
				}
				return o.Run(cmd.Context())
			},
		})
	}
	return cmd
}

// Complete loads, defaults and validates the spec: nothing is contacted
// before the whole spec is known to be good.
func (o *InitOptions) Complete() error {
	spec, err := o.specFlags.load(o.ErrOut)
	if err != nil {
		return err
	}
	o.spec = spec
	return nil
}

// Validate checks flags against the phases.
func (o *InitOptions) Validate() error {
	if o.Output != "" && o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("unknown --output %q: use text or json", o.Output)
	}
	if err := o.sshFlags.validate(); err != nil {
		return err
	}
	if err := bootstrap.InitWorkflow().CheckNames(o.SkipPhases); err != nil {
		return err
	}
	if _, err := bootstrap.CheckBundle(o.spec); err != nil {
		return err
	}
	// Found now, not after etcd and kubeadm ran: calico's manifest (the
	// bundle's, or downloaded) must be the pinned release.
	cniRuns := !slices.Contains(o.SkipPhases, "cni") && (len(o.Only) == 0 || slices.Contains(o.Only, "cni"))
	if o.spec.Spec.CNI.Plugin == cluster.CNICalico && cniRuns {
		if _, err := bootstrap.CNIObjects(context.Background(), o.spec); err != nil {
			return err
		}
	}
	return nil
}

// kubeconfigPath is the file the admin context goes to: --kubeconfig, else
// the first file of $KUBECONFIG, else ~/.kube/config.
func kubeconfigPath(f *genericclioptions.ConfigFlags) string {
	if f != nil && f.KubeConfig != nil && *f.KubeConfig != "" {
		return *f.KubeConfig
	}
	return clientcmd.NewDefaultPathOptions().GetDefaultFilename()
}

// Run runs the phases.
func (o *InitOptions) Run(ctx context.Context) error {
	session, closeFn, err := o.newSession()
	if err != nil {
		return err
	}
	defer closeFn()
	local := session.Local
	start := time.Now()
	if o.Timings {
		session.Timings = &workflow.Timings{}
	}
	var journal *workflow.Journal
	if !o.DryRun {
		if journal, err = workflow.OpenJournal(o.StateDir, state.SpecHash(o.spec)); err != nil {
			return err
		}
	}
	runner := bootstrap.InitWorkflow()
	runner.Journal, runner.Timings = journal, session.Timings
	runner.Log = func(phase, f string, a ...any) { session.Log(phase, "", f, a...) }
	if err := runner.RunAll(ctx, session, o.SkipPhases, o.Only); err != nil {
		return err
	}
	if !o.DryRun {
		if err := local.SaveSpec(o.spec); err != nil {
			return err
		}
	}
	session.Log("done", "", "cluster %s: %s done", o.spec.Metadata.Name, map[bool]string{true: "dry run", false: "init"}[o.DryRun])
	if session.Timings != nil {
		session.Timings.Print(o.ErrOut, time.Since(start))
	}
	return nil
}

// secretPrompt reads a secret from the terminal, or returns nil when stdin
// is not one (then only the environment can supply it).
func secretPrompt(s genericiooptions.IOStreams, format string) func(string) ([]byte, error) {
	f, ok := s.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(what string) ([]byte, error) {
		fmt.Fprintf(s.ErrOut, format, what)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.ErrOut)
		return b, err
	}
}
