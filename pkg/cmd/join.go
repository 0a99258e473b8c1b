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
	kubectl kbs join -f cluster.yaml worker-2`)

// NewCmdJoin builds `kubectl kbs join`.
func NewCmdJoin(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := newInitOptions(f, streams)
	cmd := &cobra.Command{
		Use:   "join -f cluster.yaml HOST...",
		Short: "Add workers that are in the spec but not in the cluster",
		Long: templates.LongDesc(`
			Join workers named in the spec to the running cluster: the runtime is installed
			(as init does), a bootstrap token valid for one hour is created for this run and
			deleted afterwards, kubeadm join pins the cluster CA's hash, and kbs waits until
			the new nodes are Ready. Hosts that are already nodes are left alone.`),
		Example: joinExample,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			workers, err := joinTargets(o.spec, args)
			if err != nil {
				return err
			}
			if _, err := bootstrap.CheckBundle(o.spec); err != nil {
				return err
			}
			return runJoin(cmd.Context(), o, workers)
		},
	}
	o.addSpecFlags(cmd)
	return cmd
}

// joinTargets resolves names to spec hosts; only workers can join.
func joinTargets(c *cluster.Cluster, names []string) ([]cluster.Host, error) {
	var out []cluster.Host
	for _, n := range names {
		i := slices.IndexFunc(c.Spec.Hosts, func(h cluster.Host) bool { return h.Name == n })
		switch {
		case i < 0:
			return nil, fmt.Errorf("host %q is not in the spec of cluster %s: add it under spec.hosts with role worker first", n, c.Metadata.Name)
		case c.Spec.Hosts[i].Role != cluster.RoleWorker:
			return nil, fmt.Errorf("host %q has role %s: kbs join adds workers only", n, c.Spec.Hosts[i].Role)
		}
		out = append(out, c.Spec.Hosts[i])
	}
	return out, nil
}

func runJoin(ctx context.Context, o *InitOptions, workers []cluster.Host) error {
	s, closeFn, err := o.newSession()
	if err != nil {
		return err
	}
	defer closeFn()
	return bootstrap.Join(ctx, s, workers, o.Out)
}
