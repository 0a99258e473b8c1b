package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// EtcdOptions holds what every `kubectl kbs etcd` verb shares: the spec,
// the state directory with the etcd PKI, SSH settings, and -o.
type EtcdOptions struct {
	InitOptions
	Output string

	env *etcd.Env
}

// NewCmdEtcd builds the `etcd` group; the parent only prints help.
func NewCmdEtcd(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &EtcdOptions{InitOptions: InitOptions{IOStreams: streams, flags: f}}
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Operate the external etcd kbs created: status, snapshots, restore, members, certificates",
		Long: templates.LongDesc(`
			Day-2 operations on the external etcd that kbs init created. kubeadm leaves an
			external etcd to the operator; kbs keeps its CA and certificates in the state
			directory (~/.kube/kbs/<cluster>/) and talks to every member over mutual TLS
			from this machine, and to the hosts over SSH.`),
		Run: func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	o.addSpecFlags(cmd)
	cmd.AddCommand(newCmdEtcdStatus(o), newCmdEtcdSnapshot(o), newCmdEtcdRestore(o), newCmdEtcdMember(o), newCmdEtcdCerts(o))
	return cmd
}

// complete loads the spec and opens the state directory read-only in the
// sense that matters: no CA is ever created by an etcd verb.
func (o *EtcdOptions) complete() (*etcd.Env, error) {
	if err := o.InitOptions.Complete(); err != nil {
		return nil, err
	}
	if o.Output != "" && o.Output != "table" && o.Output != "json" && o.Output != "yaml" {
		return nil, fmt.Errorf("unknown --output %q: use table, json or yaml", o.Output)
	}
	if o.Parallel < 1 {
		return nil, fmt.Errorf("--parallel must be at least 1, got %d", o.Parallel)
	}
	// Not a dry-run state: member add and rotate write certificates.
	state, err := state.Open(o.StateDir, false)
	if err != nil {
		return nil, err
	}
	return &etcd.Env{Spec: o.spec, State: state}, nil
}

// withSession adds SSH to env for the verbs that work on hosts.
func (o *EtcdOptions) withSession(env *etcd.Env) (func(), error) {
	s, closeFn, err := o.newSession()
	if err != nil {
		return nil, err
	}
	s.Local = env.State
	env.Session = s.Session
	return closeFn, nil
}

// addOutputFlag gives a read verb -o.
func (o *EtcdOptions) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: table (default), json or yaml")
}

// structured prints v as JSON or YAML when -o asks for it.
func (o *EtcdOptions) structured(v any) (bool, error) { return printStructured(o.Out, o.Output, v) }
