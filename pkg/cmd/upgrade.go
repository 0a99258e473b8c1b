package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/upgrade"
)

// NewCmdUpgrade is `kubectl kbs upgrade`.
func NewCmdUpgrade(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Carry the cluster to the Kubernetes and etcd versions its spec names",
		Long: templates.LongDesc(`
			Raise spec.kubernetesVersion (one minor release at a time) and/or
			spec.etcd.version in the cluster's spec, then ask for the plan: what runs on
			every host, what it would become, and every rule the upgrade must keep,
			checked against the live cluster before anything changes.`),
	}
	cmd.AddCommand(newCmdUpgradePlan(f, streams), newCmdUpgradeApply(f, streams))
	return cmd
}

// UpgradePlanOptions is `kubectl kbs upgrade plan`.
type UpgradePlanOptions struct {
	specFlags
	sshFlags
	Window time.Duration

	out  *outputFlags
	spec *cluster.Cluster
	genericiooptions.IOStreams
}

func newCmdUpgradePlan(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UpgradePlanOptions{specFlags: specFlags{config: f}, IOStreams: streams, out: newOutputFlags(), Window: 24 * time.Hour}
	cmd := &cobra.Command{
		Use:   "plan -f cluster.yaml",
		Short: "Every host's versions now and after the upgrade, and each check the upgrade must pass",
		Long: templates.LongDesc(`
			Read the running cluster — the API servers, controller managers and schedulers
			of the control planes' static pods, kubelets and kube-proxy from the API,
			kubeadm, kubelet, kubectl and etcd from the hosts over SSH, every etcd member
			over mutual TLS, CoreDNS — and compare it with the spec's kubernetesVersion and
			etcd.version. Each check is named, passed or failed with its reason:

			* kubernetes-one-minor-at-a-time and etcd-one-minor-at-a-time: no skipped
			  minor, no downgrade (a half-done upgrade counts its newest API server);
			* etcd-supported-by-target: the target's kubeadm minimum external etcd (etcd
			  is upgraded first, so the etcd of the spec is what the target meets);
			* kubelets-not-newer, kubelet-skew (three minors) and kubectl-skew (the kubectl
			  on this machine, within one minor): the version skew policy;
			* hosts-reachable, nodes-ready, etcd-healthy, control-plane-pods;
			* certificates: none on any host expiring within --window;
			* etcd-disk: each etcd host has twice its database free;
			* kubernetes-binaries and etcd-binaries: where the target comes from (the
			  target's bundle, the pkgs.k8s.io channel, spec.etcd.binary);
			* kubeadm-upgrade-plan: the target's kubeadm upgrade plan, run on the first
			  control plane (a bundle's kubeadm is staged under /var/lib/kbs/upgrade,
			  off the PATH, and removed after), passes its own health checks and plans
			  the API server to the target; skipped with packages, whose kubeadm comes
			  with apply.

			Exits non-zero when a check fails; says "nothing to upgrade" when the cluster
			already runs the spec.`),
		Example: templates.Examples(`
			# After raising spec.kubernetesVersion from v1.36.3 to v1.37.2
			kubectl kbs upgrade plan -f cluster.yaml

			# For a script: the failed checks' names
			kubectl kbs upgrade plan -f cluster.yaml -o jsonpath='{.checks[?(@.result=="failed")].name}'`),
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
	cmd.Flags().DurationVar(&o.Window, "window", o.Window, "How long every certificate must stay valid (the upgrade's duration, with margin)")
	o.out.addFlags(cmd)
	return cmd
}

// Complete validates the flags and the spec before any host is contacted.
func (o *UpgradePlanOptions) Complete() error {
	if err := o.out.validate(); err != nil {
		return err
	}
	if o.Window < 0 {
		return fmt.Errorf("--window must not be negative, got %s", o.Window)
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

// Run reads the cluster, prints the plan, and fails when a check does.
func (o *UpgradePlanOptions) Run(ctx context.Context) error {
	local, err := state.Open(o.StateDir, true)
	if err != nil {
		return err
	}
	cs, err := adminClientset(o.spec, local)
	if err != nil {
		return err
	}
	dialer := o.sshFlags.dialer(o.IOStreams)
	defer dialer.Close()
	s := &host.Session{Spec: o.spec, Local: local, SSH: dialer, Parallel: o.Parallel, Out: o.ErrOut}
	p, err := upgrade.MakePlan(ctx, s, cs, upgrade.Options{Window: o.Window})
	if err != nil {
		return err
	}
	if done, err := o.out.printObj(o.Out, "UpgradePlan", p); !done {
		printUpgradePlan(o.Out, p)
	} else if err != nil {
		return err
	}
	if bad := p.Failed(); len(bad) > 0 {
		return fmt.Errorf("the upgrade of %s may not start: %s failed (see the reasons above)", p.Cluster, strings.Join(bad, ", "))
	}
	if p.UpToDate() {
		fmt.Fprintf(o.ErrOut, "nothing to upgrade: %s runs Kubernetes %s and etcd %s, as its spec says\n", p.Cluster, p.Kubernetes.Target, p.Etcd.Target)
	}
	return nil
}

func printUpgradePlan(out io.Writer, p *upgrade.Plan) {
	fmt.Fprintf(out, "Cluster %s: Kubernetes %s → %s, etcd %s → %s\n\n", p.Cluster, dash(p.Kubernetes.Current), p.Kubernetes.Target, dash(p.Etcd.Current), p.Etcd.Target)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tROLE\tCOMPONENT\tCURRENT\tTARGET\t")
	for _, c := range p.Components {
		mark := ""
		if c.Target != "" && c.Current != c.Target {
			mark = "upgrade"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Host, c.Role, c.Name, dash(c.Current), dash(c.Target), mark)
	}
	w.Flush()
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHECK\tRESULT\tREASON")
	for _, c := range p.Checks {
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, c.Result, c.Reason)
	}
	w.Flush()
}

// adminClientset is a client with the admin kubeconfig kbs init kept in
// the cluster's state directory.
func adminClientset(spec *cluster.Cluster, local *state.State) (kubernetes.Interface, error) {
	admin := local.AdminKubeconfig()
	cfg, err := clientcmd.BuildConfigFromFlags("", admin)
	if err != nil {
		return nil, fmt.Errorf("no admin credentials for cluster %s in %s (%w): is --state-dir the one kbs init used?", spec.Metadata.Name, admin, err)
	}
	cfg.Timeout = 30 * time.Second
	return kubernetes.NewForConfig(cfg)
}
