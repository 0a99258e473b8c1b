package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/users"
)

// NewCmdUser is the `user` command group.
func NewCmdUser(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create users with client certificates, kubeconfig contexts and least-privilege RBAC",
		Long: templates.LongDesc(`
			Manage users who authenticate with client certificates: a key made on this
			machine, a certificate from the cluster's CSR API (or a CA the API server trusts),
			RBAC bound server-side, a kubeconfig context, and a check that the user can do
			exactly what was asked.`),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdUserCreate(f, streams), newCmdUserList(f, streams), newCmdUserRenew(f, streams), newCmdUserDelete(f, streams))
	return cmd
}

// userBase is what every user verb shares: kubectl's flags, the streams, and
// a client made when the command runs.
type userBase struct {
	flags  *genericclioptions.ConfigFlags
	client kubernetes.Interface
	genericiooptions.IOStreams
}

func (b *userBase) connect() (err error) {
	if b.client == nil {
		b.client, err = newClient(b.flags)
	}
	return err
}

// logf writes progress to stderr, so stdout holds only results.
func (b *userBase) logf(format string, args ...any) {
	fmt.Fprintf(b.ErrOut, format+"\n", args...)
}

// userVerb is the shape of every user command, so each RunE is the same
// three steps.
type userVerb interface {
	Complete(args []string) error
	Validate() error
	Run(ctx context.Context) error
}

func runVerb(o userVerb) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// newClient is a clientset for kubectl's flags. Commands here send a few
// dozen small requests (access reviews); client-go's default of 5 per second
// would make them take seconds.
func newClient(f *genericclioptions.ConfigFlags) (kubernetes.Interface, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 100
	return kubernetes.NewForConfig(cfg)
}

// currentCluster is the cluster of the context kubectl's flags select.
func currentCluster(f *genericclioptions.ConfigFlags) (users.ClusterInfo, error) {
	raw, err := f.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return users.ClusterInfo{}, err
	}
	return users.CurrentCluster(raw, stringValue(f.Context))
}

func stringValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
