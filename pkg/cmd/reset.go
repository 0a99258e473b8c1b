package cmd

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/bootstrap"
)

// ResetOptions holds the flags of `kubectl kbs reset`.
type ResetOptions struct {
	InitOptions
	Reset bootstrap.ResetOptions
	Yes   bool
}

var resetExample = templates.Examples(`
	# Take worker-1 out of the cluster and back to a clean node (it can join again)
	kubectl kbs reset -f cluster.yaml worker-1

	# Tear the whole cluster down, etcd data included, without a prompt
	kubectl kbs reset -f cluster.yaml --etcd-data --yes`)

// NewCmdReset builds `kubectl kbs reset`.
func NewCmdReset(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ResetOptions{InitOptions: *newInitOptions(f, streams)}
	cmd := &cobra.Command{
		Use:   "reset -f cluster.yaml [HOST...]",
		Short: "Undo init on some or all hosts: kubeadm reset, pod network and iptables state, etcd",
		Long: templates.LongDesc(`
			Return hosts to the state before init, over SSH. Kubernetes nodes are deleted
			from the API first (while it answers), then kubeadm reset runs and the pod
			network's configuration, interfaces and iptables rules (kube-proxy's, flannel's,
			the CNI plugins'; nothing else) are removed. etcd hosts have etcd stopped; its
			data is deleted only with --etcd-data. The runtime stays installed, so a reset
			node can be joined again (kubectl kbs join) and a reset cluster initialized
			again, with the same CAs.`),
		Example: resetExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Reset.Hosts = args
			if err := o.Complete(); err != nil {
				return err
			}
			if _, err := bootstrap.ResetPlan(o.spec, o.Reset); err != nil {
				return err
			}
			if err := o.confirm(); err != nil {
				return err
			}
			s, closeFn, err := o.newSession()
			if err != nil {
				return err
			}
			defer closeFn()
			return bootstrap.Reset(cmd.Context(), s, o.Reset)
		},
	}
	o.addSpecFlags(cmd)
	cmd.Flags().BoolVar(&o.Reset.EtcdData, "etcd-data", false, "Also delete etcd's data directory on the etcd hosts (the cluster's state is lost)")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "Do not ask for confirmation")
	return cmd
}

// confirm shows what will be reset and asks, unless --yes or --dry-run.
func (o *ResetOptions) confirm() error {
	hosts, _ := bootstrap.ResetPlan(o.spec, o.Reset)
	var names []string
	for _, h := range hosts {
		names = append(names, h.Name+" ("+h.Role+")")
	}
	what := "reset " + strings.Join(names, ", ") + " of cluster " + o.spec.Metadata.Name
	if o.Reset.EtcdData {
		what += ", deleting etcd's data"
	}
	return askConfirm(o.IOStreams, o.Yes || o.DryRun, what)
}

// askConfirm asks "This will WHAT. Continue?" on the terminal, unless yes;
// without a terminal it refuses and says how to go on.
func askConfirm(s genericiooptions.IOStreams, yes bool, what string) error {
	if yes {
		return nil
	}
	if secretPrompt(s, "") == nil {
		return fmt.Errorf("refusing to %s without confirmation: add --yes (stdin is not a terminal)", what)
	}
	fmt.Fprintf(s.ErrOut, "This will %s. Continue? [y/N] ", what)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return fmt.Errorf("cancelled")
	}
	return nil
}
