package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// EtcdOptions holds what every `kubectl kbs etcd` verb shares: the spec,
// the state directory with the etcd PKI, and SSH settings. Verbs that
// print take -o (outputFlags); --dry-run exists only on the verb that can
// plan (restore).
type EtcdOptions struct {
	specFlags
	sshFlags
	DryRun bool

	spec *cluster.Cluster
	env  *etcd.Env
	genericiooptions.IOStreams
}

// NewCmdEtcd builds the `etcd` group; the parent only prints help.
func NewCmdEtcd(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &EtcdOptions{IOStreams: streams, specFlags: specFlags{config: f}}
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Operate the external etcd kbs created: status, snapshots, restore, members, certificates",
		Long: templates.LongDesc(`
			Day-2 operations on the external etcd that kbs init created. kubeadm leaves an
			external etcd to the operator; kbs keeps its CA and certificates in the state
			directory (~/.kube/kbs/CLUSTER/) and talks to every member over mutual TLS
			from this machine, and to the hosts over SSH.`),
		Run: func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	o.specFlags.addFlags(cmd, true)
	o.sshFlags.addFlags(cmd)
	addIgnoredDryRun(cmd, "status, snapshot save and certs check only read")
	cmd.AddCommand(newCmdEtcdStatus(o), newCmdEtcdSnapshot(o), newCmdEtcdRestore(o), newCmdEtcdMember(o), newCmdEtcdCerts(o))
	return cmd
}

// complete loads the spec and opens the state directory read-only in the
// sense that matters: no CA is ever created by an etcd verb.
func (o *EtcdOptions) complete() (*etcd.Env, error) {
	spec, err := o.specFlags.load(o.ErrOut)
	if err != nil {
		return nil, err
	}
	o.spec = spec
	if err := o.sshFlags.validate(); err != nil {
		return nil, err
	}
	// Not a dry-run state: member add and rotate write certificates.
	local, err := state.Open(o.StateDir, false)
	if err != nil {
		return nil, err
	}
	return &etcd.Env{Spec: o.spec, State: local}, nil
}

// withSession adds SSH to env for the verbs that work on hosts.
func (o *EtcdOptions) withSession(env *etcd.Env) (func(), error) {
	return o.session(env, false)
}

// withLockedSession is withSession for a verb that changes the cluster: it
// holds the state directory's lock for the run.
func (o *EtcdOptions) withLockedSession(env *etcd.Env) (func(), error) {
	return o.session(env, true)
}

func (o *EtcdOptions) session(env *etcd.Env, lock bool) (func(), error) {
	release := func() {}
	if lock && !o.DryRun {
		var err error
		if release, err = state.Lock(o.StateDir, commandLine()); err != nil {
			return nil, err
		}
	}
	dialer := o.sshFlags.dialer(o.IOStreams)
	out := o.ErrOut
	if o.DryRun {
		out = o.Out
	}
	env.Session = &host.Session{Spec: env.Spec, Local: env.State, SSH: dialer, Plan: o.DryRun, Parallel: o.Parallel, Out: out}
	return func() { dialer.Close(); release() }, nil
}

// addOutputFlag gives a read verb -o.
func (o *EtcdOptions) addOutputFlag(cmd *cobra.Command) *outputFlags {
	out := newOutputFlags()
	out.addFlags(cmd)
	return out
}
