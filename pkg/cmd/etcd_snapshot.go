package cmd

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
)

func newCmdEtcdSnapshot(o *EtcdOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save consistent snapshots of etcd to this machine",
		Run:   func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	var so etcd.SaveOptions
	save := &cobra.Command{
		Use:   "save -f cluster.yaml [--output FILE|DIR] [--keep N]",
		Short: "Stream a consistent snapshot from a healthy member to this machine, checksummed",
		Long: templates.LongDesc(`
			Take a consistent snapshot of etcd from a healthy member (a follower when
			there is one) and stream it straight to this machine over mutual TLS: nothing
			is staged on the host. The checksum etcd appends is verified before the file is
			put in place (0600: a snapshot holds every Secret of the cluster), and a
			FILE.sha256 is written beside it. Without --output the snapshot goes to the
			state directory's snapshots/; when --output is a directory the file is named
			CLUSTER-TIME-revREVISION.db (TIME in UTC) and --keep N keeps the newest N there.`),
		Example: templates.Examples(`
			# Into ~/.kube/kbs/<cluster>/snapshots/, keeping the last 7
			kubectl kbs etcd snapshot save -f cluster.yaml --keep 7

			# To a file of your choosing
			kubectl kbs etcd snapshot save -f cluster.yaml --output /backup/k8s.db`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if so.Keep < 0 {
				return fmt.Errorf("--keep must be 0 (keep all) or more, got %d", so.Keep)
			}
			if fi, err := os.Stat(so.Output); so.Keep > 0 && so.Output != "" && (err != nil || !fi.IsDir()) {
				return fmt.Errorf("--keep needs --output to be an existing directory (or no --output: the state directory's snapshots/), and %s is not one", so.Output)
			}
			env, err := o.complete()
			if err != nil {
				return err
			}
			s, err := etcd.Save(cmd.Context(), env, so)
			if err != nil {
				return err
			}
			mbps := float64(s.Size) / (1 << 20) / s.Duration.Seconds()
			fmt.Fprintf(o.Out, "%s\n", s.Path)
			fmt.Fprintf(o.ErrOut, "snapshot of %s at revision %d (etcd %s): %s in %s (%.0f MiB/s), sha256 %s\n",
				s.Member, s.Revision, s.Version, size(s.Size), s.Duration.Round(time.Millisecond), mbps, s.SHA256)
			for _, r := range s.Removed {
				fmt.Fprintf(o.ErrOut, "removed older snapshot %s (--keep %d)\n", r, so.Keep)
			}
			return nil
		},
	}
	save.Flags().StringVar(&so.Output, "output", "", "Where the snapshot goes: a file, or a directory (default: the state directory's snapshots/)")
	save.Flags().IntVar(&so.Keep, "keep", 0, "Keep only the newest N snapshots of this cluster in the directory (0: keep all)")
	cmd.AddCommand(save)
	return cmd
}
