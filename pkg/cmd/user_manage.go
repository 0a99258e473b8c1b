package cmd

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/users"
)

// UserListOptions holds the flags of `user list`.
type UserListOptions struct {
	out *outputFlags

	userBase
}

func newCmdUserList(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserListOptions{userBase: userBase{flags: f, IOStreams: streams}, out: newOutputFlags()}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the users kbs issued certificates for",
		Long:  templates.LongDesc(`List the users in kbs's ledger (ConfigMaps in kube-system): groups, certificate expiry and time left, bindings.`),
		Example: templates.Examples(`
			# Who has a kbs-issued certificate, and until when
			kubectl kbs user list`),
		Args: cobra.NoArgs,
		RunE: runVerb(o),
	}
	o.out.addFlags(cmd)
	return cmd
}

// Complete has nothing to fill: list takes no arguments.
func (o *UserListOptions) Complete([]string) error { return nil }

// Validate checks the output format.
func (o *UserListOptions) Validate() error { return o.out.validate() }

// Run prints the ledger.
func (o *UserListOptions) Run(ctx context.Context) error {
	if err := o.connect(); err != nil {
		return err
	}
	recs, err := users.ListRecords(ctx, o.client)
	if err != nil {
		return err
	}
	if done, err := o.out.printObj(o.Out, "UserList", map[string]any{"users": recs}); done {
		return err
	}
	return o.printTable(recs)
}

func (o *UserListOptions) printTable(recs []*users.Record) error {
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tGROUPS\tEXPIRES\tLEFT\tBINDS\tBINDINGS")
	for _, r := range recs {
		c := r.Current()
		var b []string
		for _, ref := range r.Bindings {
			b = append(b, strings.TrimPrefix(ref.Namespace+"/", "/")+ref.Name)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.User, strings.Join(r.Groups, ","), c.NotAfter.Format(time.RFC3339),
			left(c.NotAfter), r.RoleRef, strings.Join(b, ","))
	}
	return w.Flush()
}

func left(t time.Time) string {
	d := time.Until(t)
	if d <= 0 {
		return "expired"
	}
	return d.Round(time.Minute).String()
}

// UserDeleteOptions holds the argument of `user delete`.
type UserDeleteOptions struct {
	Name string

	userBase
}

func newCmdUserDelete(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserDeleteOptions{userBase: userBase{flags: f, IOStreams: streams}}
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a user's bindings, kbs-made roles, kubeconfig entries and ledger record",
		Long: templates.LongDesc(`
			Remove everything kbs made for a user: its RoleBindings and ClusterRoleBindings,
			the roles kbs created for it, its kubeconfig user and context, and its ledger
			record. Kubernetes cannot revoke client certificates: the certificate stays valid
			until it expires, but with the bindings gone it grants only what other bindings
			give its user name and groups.`),
		Example: templates.Examples(`
			kubectl kbs user delete mikeadmin`),
		Args: cobra.ExactArgs(1),
		RunE: runVerb(o),
	}
}

// Complete takes the user name.
func (o *UserDeleteOptions) Complete(args []string) error { o.Name = args[0]; return nil }

// Validate has nothing to check: the ledger knows the user or says it does not.
func (o *UserDeleteOptions) Validate() error { return nil }

// Run deletes the user and prints what went, and what stays valid.
func (o *UserDeleteOptions) Run(ctx context.Context) error {
	if err := o.connect(); err != nil {
		return err
	}
	res, err := users.Delete(ctx, o.client, o.Name, users.KubeconfigFiles(o.flags.ToRawKubeConfigLoader().ConfigAccess()))
	if res == nil {
		return err
	}
	for _, g := range res.Deleted {
		fmt.Fprintf(o.Out, "deleted %s %s\n", g.Kind, strings.TrimPrefix(g.Namespace+"/", "/")+g.Name)
	}
	if res.SkippedKubeconfig != "" {
		fmt.Fprintf(o.ErrOut, "warning: the record names kubeconfig %s, which this kubectl does not read: its entry %q is left there (remove it yourself if it is yours)\n", res.SkippedKubeconfig, res.Record.Kubeconfig.Entry)
	}
	if res.KubeconfigFile != "" {
		fmt.Fprintf(o.Out, "removed user and context %q from %s\n", res.Record.Kubeconfig.Entry, res.KubeconfigFile)
	}
	if err != nil {
		return err
	}
	rec := res.Record
	if rec.ServiceAccount {
		fmt.Fprintf(o.Out, "the service account's tokens are revoked with it\n")
		return nil
	}
	for _, c := range res.StillValid {
		fmt.Fprintf(o.Out, "note: certificate %s stays valid until %s (%s): Kubernetes cannot revoke client certificates; with its bindings gone it keeps only what other bindings grant user %q and groups %v\n",
			c.Serial, c.NotAfter.Format(time.RFC3339), left(c.NotAfter), rec.User, rec.Groups)
	}
	return nil
}

// UserRenewOptions holds the flags of `user renew`.
type UserRenewOptions struct {
	Name          string
	TTL           time.Duration
	Timeout       time.Duration
	KubeconfigOut string

	userBase
}

func newCmdUserRenew(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserRenewOptions{userBase: userBase{flags: f, IOStreams: streams}}
	cmd := &cobra.Command{
		Use:   "renew NAME",
		Short: "Issue a new key and certificate for a user, keeping its bindings",
		Long:  templates.LongDesc(`Issue a new key and certificate (through the CSR API) for a user in kbs's ledger, with the same groups and bindings, and update its kubeconfig entry atomically.`),
		Example: templates.Examples(`
			kubectl kbs user renew mikeadmin --ttl 720h`),
		Args: cobra.ExactArgs(1),
		RunE: runVerb(o),
	}
	cmd.Flags().DurationVar(&o.TTL, "ttl", 24*time.Hour, "Lifetime of the new certificate")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", time.Minute, "How long to wait for the certificate")
	cmd.Flags().StringVar(&o.KubeconfigOut, "kubeconfig-out", "", "Write the renewed credentials to this new file instead of the recorded kubeconfig")
	return cmd
}

// Complete takes the user name.
func (o *UserRenewOptions) Complete(args []string) error { o.Name = args[0]; return nil }

// Validate checks the lifetime before anything is sent.
func (o *UserRenewOptions) Validate() error {
	if o.TTL < users.MinTTL {
		return fmt.Errorf("--ttl %s is below the minimum of %s", o.TTL, users.MinTTL)
	}
	return nil
}

// Run renews the user's certificate.
func (o *UserRenewOptions) Run(ctx context.Context) error {
	if err := o.connect(); err != nil {
		return err
	}
	ci, err := currentCluster(o.flags)
	if err != nil {
		return err
	}
	res, err := users.Renew(ctx, users.RenewInput{Client: o.client, User: o.Name, TTL: o.TTL, Timeout: o.Timeout,
		Cluster: ci, KubeconfigOut: o.KubeconfigOut, Log: o.logf,
		Kubeconfigs: users.KubeconfigFiles(o.flags.ToRawKubeConfigLoader().ConfigAccess())})
	if err != nil {
		return err
	}
	prev, cr := res.Previous, res.Issued
	fmt.Fprintf(o.Out, "user %s: new certificate %s valid until %s in %s; the previous one (%s) stays valid until %s\n",
		res.Record.User, cr.Serial, cr.NotAfter.Format(time.RFC3339), res.Kubeconfig, prev.Serial, prev.NotAfter.Format(time.RFC3339))
	return nil
}
