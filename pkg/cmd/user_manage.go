package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/kubeconfig"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/users"
)

// UserManageOptions is shared by `user list`, `renew` and `delete`.
type UserManageOptions struct {
	Output        string
	TTL           time.Duration
	Timeout       time.Duration
	KubeconfigOut string

	flags  *genericclioptions.ConfigFlags
	client kubernetes.Interface
	genericiooptions.IOStreams
}

func (o *UserManageOptions) complete() (err error) {
	o.client, err = newClient(o.flags)
	return err
}

func newCmdUserList(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserManageOptions{flags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the users kbs issued certificates for",
		Long:  templates.LongDesc(`List the users in kbs's ledger (ConfigMaps in kube-system): groups, certificate expiry and time left, bindings.`),
		Example: templates.Examples(`
			# Who has a kbs-issued certificate, and until when
			kubectl kbs user list`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Output != "" && o.Output != "json" && o.Output != "yaml" {
				return fmt.Errorf("unknown output format %q: use -o json or -o yaml, or omit -o", o.Output)
			}
			if err := o.complete(); err != nil {
				return err
			}
			return o.list(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml (default: a table)")
	return cmd
}

func (o *UserManageOptions) list(ctx context.Context) error {
	recs, err := users.ListRecords(ctx, o.client)
	if err != nil {
		return err
	}
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(map[string]any{"users": recs}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.Out, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(map[string]any{"users": recs})
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
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

func newCmdUserDelete(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserManageOptions{flags: f, IOStreams: streams}
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
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(); err != nil {
				return err
			}
			return o.delete(cmd.Context(), args[0])
		},
	}
}

func (o *UserManageOptions) delete(ctx context.Context, name string) error {
	rec, err := users.GetRecord(ctx, o.client, name)
	if err != nil {
		return err
	}
	gone, err := users.DeleteObjects(ctx, o.client, name)
	for _, g := range gone {
		fmt.Fprintf(o.Out, "deleted %s %s\n", g.Kind, strings.TrimPrefix(g.Namespace+"/", "/")+g.Name)
	}
	if err != nil {
		return err
	}
	if k := rec.Kubeconfig; !k.Handout {
		if _, statErr := os.Stat(k.File); statErr == nil {
			if err := kubeconfig.Update(k.File, func(d *kubeconfig.Doc) error {
				d.Remove(kubeconfig.Users, k.Entry)
				d.Remove(kubeconfig.Contexts, k.Entry)
				if d.CurrentContext() == k.Entry {
					d.SetCurrentContext("")
				}
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "removed user and context %q from %s\n", k.Entry, k.File)
		}
	}
	if rec.ServiceAccount {
		fmt.Fprintf(o.Out, "the service account's tokens are revoked with it\n")
		return nil
	}
	for _, c := range rec.Certificates {
		if time.Now().Before(c.NotAfter) {
			fmt.Fprintf(o.Out, "note: certificate %s stays valid until %s (%s): Kubernetes cannot revoke client certificates; with its bindings gone it keeps only what other bindings grant user %q and groups %v\n",
				c.Serial, c.NotAfter.Format(time.RFC3339), left(c.NotAfter), rec.User, rec.Groups)
		}
	}
	return nil
}

func newCmdUserRenew(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserManageOptions{flags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "renew NAME",
		Short: "Issue a new key and certificate for a user, keeping its bindings",
		Long:  templates.LongDesc(`Issue a new key and certificate (through the CSR API) for a user in kbs's ledger, with the same groups and bindings, and update its kubeconfig entry atomically.`),
		Example: templates.Examples(`
			kubectl kbs user renew mikeadmin --ttl 720h`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.TTL < users.MinTTL {
				return fmt.Errorf("--ttl %s is below the minimum of %s", o.TTL, users.MinTTL)
			}
			if err := o.complete(); err != nil {
				return err
			}
			return o.renew(cmd.Context(), args[0])
		},
	}
	cmd.Flags().DurationVar(&o.TTL, "ttl", 24*time.Hour, "Lifetime of the new certificate")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", time.Minute, "How long to wait for the certificate")
	cmd.Flags().StringVar(&o.KubeconfigOut, "kubeconfig-out", "", "Write the renewed credentials to this new file instead of the recorded kubeconfig")
	return cmd
}

func (o *UserManageOptions) renew(ctx context.Context, name string) error {
	rec, err := users.GetRecord(ctx, o.client, name)
	if err != nil {
		return err
	}
	prev := rec.Current()
	if rec.ServiceAccount {
		return fmt.Errorf("%s is a service account: create a new token with kubectl kbs user create %s --service-account -n %s (same role flags)", name, name, rec.Namespace)
	}
	req := &users.Request{Name: rec.User, Groups: rec.Groups, TTL: o.TTL, KeyType: pki.KeyType(prev.KeyType), Signer: users.SignerAPI}
	cannot, err := users.Missing(ctx, o.client, users.ApprovalNeeds())
	if err != nil {
		return err
	}
	creds, err := users.SignWithAPI(ctx, o.client, req, o.Timeout, len(cannot) == 0, func(csr string) {
		fmt.Fprintf(o.ErrOut, "waiting up to %s for an approver (kubectl certificate approve %s)\n", o.Timeout, csr)
	})
	if err != nil {
		return err
	}
	ci, err := currentCluster(o.flags)
	if err != nil {
		return err
	}
	where := rec.Kubeconfig.File
	switch {
	case o.KubeconfigOut != "":
		where = o.KubeconfigOut
		err = users.Standalone(where, ci, rec.Kubeconfig.Entry, rec.Namespace, creds)
	default:
		if _, statErr := os.Stat(where); statErr != nil {
			return fmt.Errorf("the recorded kubeconfig %s is not on this machine: pass --kubeconfig-out FILE", where)
		}
		err = users.Merge(where, ci, rec.Kubeconfig.Entry, rec.Namespace, creds)
	}
	if err != nil {
		return err
	}
	cr, err := users.NewCertRecord(creds.CertPEM, users.SignerAPI, prev.KeyType, users.Requester(ctx, o.client), creds.CSRName)
	if err != nil {
		return err
	}
	rec.Certificates = append(rec.Certificates, cr)
	rec.Kubeconfig.File = where
	if err := users.SaveRecord(ctx, o.client, rec); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "user %s: new certificate %s valid until %s in %s; the previous one (%s) stays valid until %s\n",
		rec.User, cr.Serial, cr.NotAfter.Format(time.RFC3339), where, prev.Serial, prev.NotAfter.Format(time.RFC3339))
	return nil
}
