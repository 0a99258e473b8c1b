package cmd

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/bootstrap"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

var joinExample = templates.Examples(`
	# Add worker-2, already in the spec, to the running cluster
	kubectl kbs join -f cluster.yaml worker-2

	# Bring back a control plane that was reset (or add one new to the spec)
	kubectl kbs join -f cluster.yaml master-1`)

// NewCmdJoin builds `kubectl kbs join`.
func NewCmdJoin(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := newInitOptions(f, streams)
	cmd := &cobra.Command{
		Use:   "join -f cluster.yaml HOST...",
		Short: "Add workers or control planes that are in the spec but not in the cluster",
		Long: templates.LongDesc(`
			Join hosts named in the spec to the running cluster: the runtime is installed
			(as init does), a bootstrap token valid for one hour is created for this run and
			deleted afterwards, kubeadm join pins the cluster CA's hash, and kbs waits until
			the new nodes are Ready. Hosts that are already nodes are left alone.

			A control plane gets kbs's CAs, service account key and etcd client certificate
			over SSH (nothing is uploaded into the cluster), joins with --control-plane
			through the endpoint, and, with spec.loadBalancer, runs haproxy and keepalived
			and is added to every control plane's haproxy. Control planes join one at a
			time, each API server ready before the next.`),
		Example: joinExample,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			hosts, err := joinTargets(o.spec, args)
			if err != nil {
				return err
			}
			if _, err := bootstrap.CheckBundle(o.spec); err != nil {
				return err
			}
			return runJoin(cmd.Context(), o, hosts)
		},
	}
	o.addSpecFlags(cmd)
	return cmd
}

// joinTargets resolves names to spec hosts; workers and control planes can
// join (etcd members are added with kubectl kbs etcd member add).
func joinTargets(c *cluster.Cluster, names []string) ([]cluster.Host, error) {
	var out []cluster.Host
	for _, n := range names {
		i := slices.IndexFunc(c.Spec.Hosts, func(h cluster.Host) bool { return h.Name == n })
		switch {
		case i < 0:
			return nil, fmt.Errorf("host %q is not in the spec of cluster %s: add it under spec.hosts with role worker first", n, c.Metadata.Name)
		case c.Spec.Hosts[i].Role == cluster.RoleEtcd:
			return nil, fmt.Errorf("host %q has role etcd: add etcd members with `kubectl kbs etcd member add`", n)
		}
		out = append(out, c.Spec.Hosts[i])
	}
	return out, nil
}

func runJoin(ctx context.Context, o *InitOptions, hosts []cluster.Host) error {
	s, closeFn, err := o.newSession()
	if err != nil {
		return err
	}
	defer closeFn()
	return bootstrap.Join(ctx, s, hosts, o.Out)
}
