// Package cmd holds the cobra commands of kubectl-kbs. It is the only package
// that imports cobra: each command parses flags into an Options value and
// calls a capability package to do the work.
package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"
)

// NewCmdRoot builds the whole `kubectl kbs` command tree. Every command shares
// one ConfigFlags, so --kubeconfig, --context, -n and $KUBECONFIG mean the same
// thing everywhere, exactly as they do for kubectl.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kbs",
		Short: "Bootstrap, operate and debug self-managed kubeadm clusters",
		Long: templates.LongDesc(`
			kbs bootstraps kubeadm clusters with an external etcd over SSH, mints
			users with client certificates and least-privilege RBAC, inspects what
			kubeadm created, and collects diagnostics from sick nodes.`),
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the one error
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl kbs",
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	configFlags.AddFlags(root.PersistentFlags())

	root.AddCommand(
		NewCmdVersion(streams),
		NewCmdCompletion(streams),
		NewCmdInit(configFlags, streams),
		NewCmdJoin(configFlags, streams),
		NewCmdReset(configFlags, streams),
		NewCmdEtcd(configFlags, streams),
		NewCmdCerts(configFlags, streams),
		NewCmdDiag(configFlags, streams),
		NewCmdUser(configFlags, streams),
		NewCmdInspect(configFlags, streams),
		NewCmdClusters(configFlags, streams),
		NewCmdUpgrade(configFlags, streams),
	)
	return root
}
