package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
)

func newCmdEtcdRestore(o *EtcdOptions) *cobra.Command {
	var ro etcd.RestoreOptions
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore -f cluster.yaml --from FILE",
		Short: "Restore every etcd member from a snapshot, with the API servers stopped meanwhile",
		Long: templates.LongDesc(`
			Restore the cluster's etcd from a snapshot: the API servers are stopped (their
			static pod manifests parked), the snapshot is checked and uploaded to every
			etcd host, each member's data directory is moved aside (kept, never deleted)
			and restored with etcdutl under a new cluster token, with the revision bumped
			so that every watcher relists; then etcd is started, its health verified, and
			the API servers brought back.

			The plan is shown and must be confirmed (or --yes). A healthy etcd is refused
			unless --force: a restore loses everything written since the snapshot.`),
		Example: templates.Examples(`
			# Restore after losing etcd's data
			kubectl kbs etcd restore -f cluster.yaml --from ~/.kube/kbs/k8s/snapshots/k8s-20261201T101500.000Z-rev4711.db

			# Roll a healthy cluster back to a snapshot, without a prompt
			kubectl kbs etcd restore -f cluster.yaml --from backup.db --force --yes`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := o.complete()
			if err != nil {
				return err
			}
			plan, err := etcd.RestorePlan(cmd.Context(), env, ro)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.ErrOut, "Restore of cluster %s from %s:\n", o.spec.Metadata.Name, ro.From)
			for i, step := range plan {
				fmt.Fprintf(o.ErrOut, "  %d. %s\n", i+1, step)
			}
			if o.DryRun {
				return nil
			}
			if err := o.confirm(yes, "restore etcd of cluster "+o.spec.Metadata.Name+" from "+ro.From); err != nil {
				return err
			}
			closeFn, err := o.withLockedSession(env)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := etcd.Restore(cmd.Context(), env, ro); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "etcd of cluster %s restored from %s\n", o.spec.Metadata.Name, ro.From)
			return nil
		},
	}
	cmd.Flags().StringVar(&ro.From, "from", "", "The snapshot file to restore")
	cmd.Flags().BoolVar(&ro.Force, "force", false, "Restore even though etcd is healthy (everything written since the snapshot is lost)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Do not ask for confirmation")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the restore's plan and stop")
	return cmd
}

// confirm asks before a destructive step, unless yes; without a terminal
// it refuses.
func (o *EtcdOptions) confirm(yes bool, what string) error {
	return askConfirm(o.IOStreams, yes, what)
}
