package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/bootstrap"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/inspect"
)

// NewCmdCerts builds `kubectl kbs certs check|renew`: the kubeadm PKI of
// every node, like kubeadm certs check-expiration and renew, for all
// control planes at once over SSH. The parent only prints help.
func NewCmdCerts(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check and renew the kubeadm certificates on every node",
		Run:   func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	cmd.AddCommand(newCmdCertsCheck(f, streams), newCmdCertsRenew(f, streams))
	return cmd
}

// CertsCheckOptions are the flags of `certs check`.
type CertsCheckOptions struct {
	specFlags
	sshFlags
	WarnWithin string

	out  *outputFlags
	warn time.Duration
	genericiooptions.IOStreams
}

func newCmdCertsCheck(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertsCheckOptions{IOStreams: streams, WarnWithin: "30d", out: newOutputFlags(), specFlags: specFlags{config: f}}
	cmd := &cobra.Command{
		Use:   "check -f cluster.yaml [--warn-within 30d]",
		Short: "Expiry of every kubeadm certificate and kubeconfig client certificate on every node, read over SSH",
		Long: templates.LongDesc(`
			Read the kubeadm PKI (/etc/kubernetes/pki), kbs's etcd PKI, the client
			certificates inside kubeadm's kubeconfigs and the kubelet's client certificate
			on every host of the spec over SSH, in parallel, like kubeadm certs
			check-expiration on each of them. Only certificates leave a host, never keys; it
			works while the API server is down. Exits non-zero when one expires within
			--warn-within.`),
		Example: templates.Examples(`
			kubectl kbs certs check -f cluster.yaml --warn-within 60d`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.specFlags.addFlags(cmd, true)
	o.sshFlags.addFlags(cmd)
	o.out.addFlags(cmd)
	addIgnoredDryRun(cmd, "certs check only reads")
	cmd.Flags().StringVar(&o.WarnWithin, "warn-within", o.WarnWithin, "Flag certificates expiring within this window (e.g. 30d, 720h) and exit non-zero")
	return cmd
}

// Validate checks the flags before any host is contacted.
func (o *CertsCheckOptions) Validate() error {
	warn, err := inspect.ParseWindow(o.WarnWithin)
	if err != nil {
		return err
	}
	o.warn = warn
	if err := o.out.validate(); err != nil {
		return err
	}
	return o.sshFlags.validate()
}

// Run reads every host's certificates and prints them.
func (o *CertsCheckOptions) Run(ctx context.Context) error {
	spec, err := o.specFlags.load(o.ErrOut)
	if err != nil {
		return err
	}
	d := o.sshFlags.dialer(o.IOStreams)
	defer d.Close()
	nodes, err := inspect.NodeCerts(ctx, d, spec, o.Parallel, o.warn, time.Now())
	if err != nil {
		return err
	}
	done, err := o.out.printObj(o.Out, "NodeCertificates", map[string]any{"nodeCertificates": nodes})
	if err != nil {
		return err
	}
	if !done {
		printNodeCerts(o.Out, nodes, o.WarnWithin)
	}
	if n := inspect.Expiring(nil, nodes); n > 0 {
		return fmt.Errorf("%d certificates expire within %s: kubectl kbs certs renew (kubeadm's), kubectl kbs etcd certs rotate (etcd's)", n, o.WarnWithin)
	}
	return nil
}

// CertsRenewOptions are the flags of `certs renew`.
type CertsRenewOptions struct {
	*InitOptions
	Yes bool
}

func newCmdCertsRenew(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CertsRenewOptions{InitOptions: newInitOptions(f, streams)}
	cmd := &cobra.Command{
		Use:   "renew -f cluster.yaml",
		Short: "kubeadm certs renew all on each control plane, static pods restarted one at a time, admin.conf refreshed",
		Long: templates.LongDesc(`
			Renew the kubeadm certificates on every control-plane host, one host at a time:
			kubeadm certs renew all, then kube-apiserver, kube-controller-manager and
			kube-scheduler restarted one at a time (each waited for; the API server until it
			answers /readyz), and finally the renewed admin.conf fetched and merged into
			your kubeconfig as context CLUSTER (the spec's name). The CAs do not change.
			With an external etcd kubeadm leaves the etcd certificates alone: kubectl kbs
			etcd certs rotate renews those. With a single control plane the API server is
			unavailable while it restarts. An interrupted renewal resumes at the control
			plane where it stopped.`),
		Example: templates.Examples(`
			kubectl kbs certs renew -f cluster.yaml --yes`),
		Args: cobra.NoArgs,
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
	o.addSpecFlags(cmd)
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

// Validate refuses a spec without a control plane, then asks.
func (o *CertsRenewOptions) Validate() error {
	if len(o.spec.HostsWithRole(cluster.RoleControlPlane)) == 0 {
		return fmt.Errorf("the spec has no control-plane host")
	}
	if err := o.sshFlags.validate(); err != nil {
		return err
	}
	return askConfirm(o.IOStreams, o.Yes || o.DryRun, "renew the kubeadm certificates and restart the control plane of cluster "+o.spec.Metadata.Name)
}

// Run renews the certificates, one control plane at a time.
func (o *CertsRenewOptions) Run(ctx context.Context) error {
	s, closeFn, err := o.newSession()
	if err != nil {
		return err
	}
	defer closeFn()
	start := time.Now()
	if err := bootstrap.RenewCerts(ctx, s); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "kubeadm certificates of cluster %s renewed in %s\n", o.spec.Metadata.Name, time.Since(start).Round(time.Second))
	return nil
}
