package cmd

import (
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// specFlags choose the cluster a command works on: -f names a spec file,
// and --cluster-name one cluster of an inventory file (a file of several
// specs). --state-dir says where kbs keeps that cluster's state.
//
// --cluster is kubectl's own global flag (the kubeconfig cluster to use) and
// kbs leaves it that meaning. Earlier releases used it to pick a cluster
// from an inventory; for one release that spelling still works, with a
// warning, when the name is one of the inventory's clusters.
type specFlags struct {
	File        string
	ClusterName string
	StateDir    string

	config *genericclioptions.ConfigFlags
}

func (f *specFlags) addFlags(cmd *cobra.Command, required bool) {
	fs := cmd.PersistentFlags()
	help := "Cluster spec (a file with several clusters is an inventory; pick one with --cluster-name)"
	if !required {
		help = "Cluster spec: also read every host over SSH (a file with several clusters is an inventory; pick one with --cluster-name)"
	}
	fs.StringVarP(&f.File, "filename", "f", "", help)
	fs.StringVar(&f.ClusterName, "cluster-name", "", "Which cluster of an inventory file (its metadata.name)")
	fs.StringVar(&f.StateDir, "state-dir", "", "Where the cluster's PKI and journal live (default ~/.kube/kbs/CLUSTER)")
}

// load reads, defaults and validates the spec — nothing is contacted before
// the whole spec is known to be good — and fills in the state directory.
func (f *specFlags) load(errOut io.Writer) (*cluster.Cluster, error) {
	if f.File == "" {
		return nil, fmt.Errorf("a cluster spec is required: -f cluster.yaml (see examples/ for the format)")
	}
	if err := f.claimDeprecatedCluster(errOut); err != nil {
		return nil, err
	}
	spec, err := cluster.LoadOne(f.File, f.ClusterName)
	if err != nil {
		return nil, err
	}
	if f.StateDir == "" {
		f.StateDir = state.DefaultDir(spec.Metadata.Name)
	}
	return spec, nil
}

// claimDeprecatedCluster takes --cluster in its old meaning — one of the
// inventory's clusters — with a warning, and then leaves the kubeconfig
// alone as it did (the value is no kubeconfig cluster of the operator's).
// Commands that read the kubeconfig call it before they build a client.
func (f *specFlags) claimDeprecatedCluster(errOut io.Writer) error {
	old := ""
	if f.config != nil && f.config.ClusterName != nil {
		old = *f.config.ClusterName
	}
	if f.File == "" || f.ClusterName != "" || old == "" {
		return nil
	}
	clusters, err := cluster.Load(f.File)
	if err != nil {
		return err
	}
	if len(clusters) < 2 || !slices.ContainsFunc(clusters, func(c *cluster.Cluster) bool { return c.Metadata.Name == old }) {
		return nil // kubectl's --cluster, about the kubeconfig
	}
	fmt.Fprintf(errOut, "Flag --cluster to pick a cluster from an inventory is deprecated and will be removed in the next release: use --cluster-name %s (--cluster is kubectl's: the kubeconfig cluster)\n", old)
	f.ClusterName, *f.config.ClusterName = old, ""
	return nil
}

// sshFlags say how hosts are reached and how many at once.
type sshFlags struct {
	KnownHosts    []string
	AcceptNewKeys bool
	Parallel      int
}

func (f *sshFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.StringSliceVar(&f.KnownHosts, "known-hosts", []string{remote.DefaultKnownHosts()}, "known_hosts files to verify host keys against")
	fs.BoolVar(&f.AcceptNewKeys, "accept-new-host-keys", false, "Record the keys of hosts not yet in known_hosts (a changed key is always refused)")
	fs.IntVar(&f.Parallel, "parallel", remote.DefaultParallelism, "How many hosts to work on at once")
}

func (f *sshFlags) validate() error {
	if f.Parallel < 1 {
		return fmt.Errorf("--parallel must be at least 1, got %d", f.Parallel)
	}
	return nil
}

// dialer is the SSH dialer of a run (see newDialer).
func (f *sshFlags) dialer(s genericiooptions.IOStreams) *remote.Dialer {
	return newDialer(s, f.KnownHosts, f.AcceptNewKeys)
}

// addIgnoredDryRun keeps --dry-run working, with a deprecation message, on
// read verbs that once inherited it from init's options and ignored it:
// scripts may pass it. A verb that changes things registers its own.
func addIgnoredDryRun(cmd *cobra.Command, why string) {
	var ignored bool
	cmd.PersistentFlags().BoolVar(&ignored, "dry-run", false, "Ignored")
	_ = cmd.PersistentFlags().MarkDeprecated("dry-run", "it is ignored ("+why+") and will be removed in the next release")
}

// addRefusedDryRun gives a verb that cannot plan a --dry-run that says so
// instead of running for real.
func addRefusedDryRun(cmd *cobra.Command, why string) {
	var dry bool
	cmd.Flags().BoolVar(&dry, "dry-run", false, "Not supported: "+why)
	_ = cmd.Flags().MarkHidden("dry-run")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if dry {
			return fmt.Errorf("--dry-run is not supported by %s: %s", c.CommandPath(), why)
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}
