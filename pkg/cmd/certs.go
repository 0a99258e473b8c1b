package cmd

import (
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
// control planes at once over SSH.
func NewCmdCerts(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &InitOptions{IOStreams: streams, flags: f}
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check and renew the kubeadm certificates on every node",
		Run:   func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	o.addSpecFlags(cmd)
	warnWithin, output := "30d", ""
	check := &cobra.Command{
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
			warn, err := inspect.ParseWindow(warnWithin)
			if err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			insp := &InspectOptions{IOStreams: o.IOStreams, SpecFile: o.File, ClusterName: o.ClusterName, KnownHosts: o.KnownHosts, Parallel: o.Parallel, Output: output, WarnWithin: warnWithin}
			nodes, err := insp.readNodeCerts(cmd.Context(), warn)
			if err != nil {
				return err
			}
			done, err := insp.structured(map[string]any{"nodeCertificates": nodes})
			if err != nil {
				return err
			}
			if !done {
				insp.printNodeCerts(nodes)
			}
			n := 0
			for _, c := range nodes {
				if c.Expiring {
					n++
				}
			}
			if n > 0 {
				return fmt.Errorf("%d certificates expire within %s: kubectl kbs certs renew (kubeadm's), kubectl kbs etcd certs rotate (etcd's)", n, warnWithin)
			}
			return nil
		},
	}
	check.Flags().StringVar(&warnWithin, "warn-within", warnWithin, "Flag certificates expiring within this window (e.g. 30d, 720h) and exit non-zero")
	check.Flags().StringVarP(&output, "output", "o", "", "Output format: table (default), json or yaml")
	var yes bool
	renew := &cobra.Command{
		Use:   "renew -f cluster.yaml",
		Short: "kubeadm certs renew all on each control plane, static pods restarted one at a time, admin.conf refreshed",
		Long: templates.LongDesc(`
			Renew the kubeadm certificates on every control-plane host, one host at a time:
			kubeadm certs renew all, then kube-apiserver, kube-controller-manager and
			kube-scheduler restarted one at a time (each waited for; the API server until it
			answers /readyz), and finally the renewed admin.conf fetched and merged into
			your kubeconfig as context <cluster>. The CAs do not change. With an external
			etcd kubeadm leaves the etcd certificates alone: kubectl kbs etcd certs rotate
			renews those. With a single control plane the API server is unavailable while
			it restarts.`),
		Example: templates.Examples(`
			kubectl kbs certs renew -f cluster.yaml --yes`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if len(o.spec.HostsWithRole(cluster.RoleControlPlane)) == 0 {
				return fmt.Errorf("the spec has no control-plane host")
			}
			if err := askConfirm(o.IOStreams, yes || o.DryRun, "renew the kubeadm certificates and restart the control plane of cluster "+o.spec.Metadata.Name); err != nil {
				return err
			}
			s, closeFn, err := o.newSession()
			if err != nil {
				return err
			}
			defer closeFn()
			start := time.Now()
			if err := bootstrap.RenewCerts(cmd.Context(), s); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "kubeadm certificates of cluster %s renewed in %s\n", o.spec.Metadata.Name, time.Since(start).Round(time.Second))
			return nil
		},
	}
	renew.Flags().BoolVarP(&yes, "yes", "y", false, "Do not ask for confirmation")
	cmd.AddCommand(check, renew)
	return cmd
}
