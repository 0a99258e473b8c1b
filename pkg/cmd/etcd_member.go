package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
)

func newCmdEtcdMember(o *EtcdOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Grow or shrink the external etcd, one member at a time",
		Run:   func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	var mo etcd.MemberOptions
	add := &cobra.Command{
		Use:   "add HOST -f cluster.yaml",
		Short: "Add the spec's etcd host HOST: certificates, learner first, promoted when caught up, API servers updated",
		Long: templates.LongDesc(`
			Add an etcd host of the spec to the running etcd. Its server and peer
			certificates are issued from the existing etcd CA; etcd is installed there to
			join the existing cluster as a learner (which does not count towards quorum)
			and promoted to a voting member once it has caught up with the leader. Then the
			API servers' --etcd-servers is updated through kube-system/kubeadm-config and
			each control plane's manifest, one control plane at a time (each API server
			restarts to take it). Re-running finishes an add that was interrupted.`),
		Example: templates.Examples(`
			# Grow etcd: first add etcd1 to the spec with role etcd, then
			kubectl kbs etcd member add etcd1 -f cluster.yaml`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.runMember(cmd, func() error { return etcd.AddMember(cmd.Context(), o.env, args[0], mo) }, "added "+args[0])
		},
	}
	remove := &cobra.Command{
		Use:   "remove HOST -f cluster.yaml",
		Short: "Remove member HOST: API servers off it first, leadership moved, member removed, etcd stopped there",
		Long: templates.LongDesc(`
			Remove a member from the running etcd. The API servers stop using it first
			(one control plane at a time), leadership moves to another member if HOST
			leads, HOST leaves the cluster, and etcd on HOST is stopped and disabled with
			its data directory moved aside (kept). Refused when another member is not
			healthy (quorum could be lost) unless --force, and for the last member.
			Afterwards remove HOST from the spec.`),
		Example: templates.Examples(`
			# Shrink etcd back
			kubectl kbs etcd member remove etcd2 -f cluster.yaml`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.runMember(cmd, func() error { return etcd.RemoveMember(cmd.Context(), o.env, args[0], mo) }, "removed "+args[0])
		},
	}
	for _, c := range []*cobra.Command{add, remove} {
		c.Flags().BoolVar(&mo.SkipAPIServers, "skip-apiservers", false, "Leave the API servers' --etcd-servers alone (changing it restarts each API server)")
	}
	remove.Flags().BoolVar(&mo.Force, "force", false, "Remove even though another member is not healthy")
	for _, c := range []*cobra.Command{add, remove} {
		addRefusedDryRun(c, "it changes the cluster step by step, each step depending on the last; kubectl kbs etcd status shows where it stands")
	}
	cmd.AddCommand(add, remove)
	return cmd
}

// runMember opens the spec and SSH, runs fn and reports done.
func (o *EtcdOptions) runMember(cmd *cobra.Command, fn func() error, done string) error {
	env, err := o.complete()
	if err != nil {
		return err
	}
	closeFn, err := o.withLockedSession(env)
	if err != nil {
		return err
	}
	defer closeFn()
	o.env = env
	if err := fn(); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "etcd member %s\n", done)
	return nil
}
