package cmd

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/pki"
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

// UserCreateOptions holds the flags of `user create`.
type UserCreateOptions struct {
	Request       users.Request
	KeyType       string
	ContextName   string
	KubeconfigOut string
	DryRun        bool
	Timeout       time.Duration
	VerifyMode    string

	flags       *genericclioptions.ConfigFlags
	client      kubernetes.Interface
	selfApprove bool
	genericiooptions.IOStreams
}

var userCreateExample = templates.Examples(`
	# The notes' mikeadmin: get, list, watch and create deployments and pods in prod
	kubectl kbs user create mikeadmin --group robotnik.io -n prod --verb get,list,watch,create --resource deployments,pods

	# A read-only user in dev, with a kubeconfig file to hand over
	kubectl kbs user create ana -n dev --clusterrole view --ttl 720h --kubeconfig-out ana.kubeconfig

	# Show what would be created, changing nothing
	kubectl kbs user create ops -n prod --clusterrole edit --dry-run`)

// NewCmdUserCreate builds `user create`.
func NewCmdUserCreate(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UserCreateOptions{flags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "create NAME (--role R | --clusterrole R | --verb V... --resource R...)",
		Short:   "Create a user: client certificate, kubeconfig context, RBAC; verified",
		Long:    templates.LongDesc(`Create a user who authenticates with a client certificate, bind it to a role, add it to your kubeconfig (or a file of its own), and verify its access with SubjectAccessReviews.`),
		Example: userCreateExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	r := &o.Request
	fl.StringSliceVar(&r.Groups, "group", nil, "Groups (certificate O=) the user belongs to")
	fl.StringVar(&r.Role, "role", "", "Existing Role in the namespace to bind")
	fl.StringVar(&r.ClusterRole, "clusterrole", "", "ClusterRole to bind (view, edit, admin, …)")
	fl.StringSliceVar(&r.Verbs, "verb", nil, "Verbs of a Role made for the user")
	fl.StringSliceVar(&r.Resources, "resource", nil, "Resources of a Role made for the user")
	fl.StringSliceVar(&r.APIGroups, "api-group", nil, "API group of --resource (default: found by discovery)")
	fl.BoolVar(&r.ClusterWide, "cluster-wide", false, "Bind cluster-wide (ClusterRoleBinding) instead of in the namespace")
	fl.BoolVar(&r.CreateNamespace, "create-namespace", false, "Create the namespace if it does not exist")
	fl.BoolVar(&r.ServiceAccount, "service-account", false, "Make a ServiceAccount in the namespace and give it a TokenRequest token of --ttl, instead of a client certificate")
	fl.DurationVar(&r.TTL, "ttl", 24*time.Hour, "Certificate lifetime (at least 10m; the signer may shorten it)")
	fl.StringVar(&o.KeyType, "key-type", string(pki.ECDSAP256), "Key type: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	fl.StringVar(&r.Signer, "signer", users.SignerAPI, "Who signs: api (the cluster's CSR API) or ca (a local CA, with --ca-cert and --ca-key)")
	fl.StringVar(&r.CACert, "ca-cert", "", "CA certificate for --signer ca")
	fl.StringVar(&r.CAKey, "ca-key", "", "CA key for --signer ca")
	fl.StringVar(&o.ContextName, "context-name", "", "Name of the kubeconfig user and context (default NAME@CLUSTER)")
	fl.StringVar(&o.KubeconfigOut, "kubeconfig-out", "", "Write a standalone kubeconfig for the user to this new file (0600) instead of merging into yours")
	fl.BoolVar(&o.DryRun, "dry-run", false, "Print the RBAC objects and the kubeconfig change; create nothing")
	fl.DurationVar(&o.Timeout, "timeout", time.Minute, "How long to wait for the certificate to be issued")
	fl.StringVar(&o.VerifyMode, "verify", "review", "How to verify access: review (SubjectAccessReviews for the user) or live (also sign in with the new credentials and ask as the user)")
	return cmd
}

// Complete fills the request from arguments and kubectl's flags.
func (o *UserCreateOptions) Complete(args []string) error {
	o.Request.Name = args[0]
	o.Request.KeyType = pki.KeyType(o.KeyType)
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	if !o.Request.ClusterWide {
		o.Request.Namespace = ns
	}
	return nil
}

// Validate checks everything that needs no cluster.
func (o *UserCreateOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.VerifyMode != "review" && o.VerifyMode != "live" {
		return fmt.Errorf("unknown --verify %q: use review or live", o.VerifyMode)
	}
	return o.Request.Validate()
}

// Run creates the user.
func (o *UserCreateOptions) Run(ctx context.Context) error {
	var err error
	if o.client == nil {
		if o.client, err = newClient(o.flags); err != nil {
			return err
		}
	}
	ci, err := currentCluster(o.flags)
	if err != nil {
		return err
	}
	entry := o.ContextName
	if entry == "" {
		entry = o.Request.Name + "@" + ci.Name
	}
	var mapper meta.RESTMapper
	if len(o.Request.Verbs) > 0 && len(o.Request.APIGroups) == 0 {
		if mapper, err = o.flags.ToRESTMapper(); err != nil { // discovery, only when needed
			return err
		}
	}
	return o.create(ctx, ci, entry, mapper)
}

func (o *UserCreateOptions) create(ctx context.Context, ci users.ClusterInfo, entry string, mapper meta.RESTMapper) error {
	r := &o.Request
	var rules []rbacv1.PolicyRule
	if len(r.Verbs) > 0 {
		var err error
		if rules, err = r.Rules(mapper); err != nil {
			return err
		}
	}
	objects := r.Build(rules)
	// The role to bind must exist before anything is created.
	granted, err := users.RulesOf(ctx, o.client, r, rules)
	if err != nil {
		return err
	}
	missing, err := users.Missing(ctx, o.client, r.CallerNeeds())
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		var names []string
		for _, p := range missing {
			names = append(names, p.String())
		}
		return fmt.Errorf("you may not: %s; nothing was created (ask a cluster admin, or use --signer ca for the certificate part)", strings.Join(names, "; "))
	}
	if r.Signer == users.SignerAPI && !r.ServiceAccount {
		cannot, err := users.Missing(ctx, o.client, users.ApprovalNeeds())
		if err != nil {
			return err
		}
		o.selfApprove = len(cannot) == 0
	}
	if o.DryRun {
		return o.printPlan(objects, ci, entry)
	}
	return o.apply(ctx, objects, granted, ci, entry)
}

func (o *UserCreateOptions) apply(ctx context.Context, objects users.Objects, granted []rbacv1.PolicyRule, ci users.ClusterInfo, entry string) error {
	r := &o.Request
	if r.CreateNamespace {
		if err := users.EnsureNamespace(ctx, o.client, r.Namespace); err != nil {
			return err
		}
	}
	var creds *users.Credentials
	var err error
	switch {
	case r.ServiceAccount:
		creds, err = users.ServiceAccountToken(ctx, o.client, r)
	case r.Signer == users.SignerCA:
		creds, err = users.SignWithCA(ctx, o.client, r)
	default:
		creds, err = users.SignWithAPI(ctx, o.client, r, o.Timeout, o.selfApprove, func(csr string) {
			fmt.Fprintf(o.ErrOut, "you may not approve certificate requests: waiting up to %s for an approver (kubectl certificate approve %s)\n", o.Timeout, csr)
		})
	}
	if err != nil {
		return err
	}
	if err := objects.Apply(ctx, o.client); err != nil {
		return err
	}
	where := o.KubeconfigOut
	if where != "" {
		err = users.Standalone(where, ci, entry, r.Namespace, creds)
	} else {
		where = users.KubeconfigFile(o.flags.ToRawKubeConfigLoader().ConfigAccess(), entry)
		err = users.Merge(where, ci, entry, r.Namespace, creds)
	}
	if err != nil {
		return err
	}
	if err := o.record(ctx, creds, objects, entry, where); err != nil {
		return err
	}
	return o.report(ctx, creds, granted, entry, where)
}

// record writes the user to kbs's in-cluster ledger.
func (o *UserCreateOptions) record(ctx context.Context, creds *users.Credentials, objects users.Objects, entry, where string) error {
	r := &o.Request
	requester := users.Requester(ctx, o.client)
	cr := users.NewTokenRecord(creds, requester)
	if !r.ServiceAccount {
		var err error
		if cr, err = users.NewCertRecord(creds.CertPEM, r.Signer, string(r.KeyType), requester, creds.CSRName); err != nil {
			return err
		}
	}
	bindings, roles := objects.Refs()
	ref := "ClusterRole/" + r.ClusterRole
	if r.Role != "" {
		ref = "Role/" + r.Role
	} else if len(roles) > 0 {
		ref = roles[0].Kind + "/" + roles[0].Name
	}
	return users.SaveRecord(ctx, o.client, &users.Record{
		User: r.Name, Groups: r.Groups, Certificates: []users.CertRecord{cr}, Bindings: bindings, Roles: roles,
		Kubeconfig: users.KubeconfigRef{File: where, Entry: entry, Handout: o.KubeconfigOut != ""},
		Namespace:  r.Namespace, ClusterWide: r.ClusterWide, RoleRef: ref, ServiceAccount: r.ServiceAccount,
	})
}

func (o *UserCreateOptions) report(ctx context.Context, creds *users.Credentials, granted []rbacv1.PolicyRule, entry, where string) error {
	r := &o.Request
	if r.ServiceAccount {
		fmt.Fprintf(o.Out, "service account %s/%s: token valid until %s (deleting the ServiceAccount revokes it)\n",
			r.Namespace, r.Name, creds.TokenExpires.Format(time.RFC3339))
	} else {
		cert, err := pki.ParseCertPEM(creds.CertPEM)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "user %s (groups %v): certificate serial %s, valid %s to %s (%s)\n", r.Name, r.Groups,
			cert.SerialNumber.Text(16), cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), cert.NotAfter.Sub(cert.NotBefore).Round(time.Minute))
	}
	fmt.Fprintf(o.Out, "kubeconfig: user and context %q in %s\n", entry, where)
	checks, err := users.Verify(ctx, o.client, r, granted)
	if err != nil {
		return err
	}
	if err := o.printChecks(checks); err != nil {
		return err
	}
	if o.VerifyMode != "live" {
		return nil
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	if err := users.VerifyLive(ctx, cfg, r, creds, checks); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "verified live: signed in as %s, and the API server gave the user the same answers\n", r.Username())
	return nil
}

func (o *UserCreateOptions) printChecks(checks []users.Check) error {
	if len(checks) == 0 {
		fmt.Fprintln(o.ErrOut, "warning: the role grants no concrete permission to verify (it is empty, or only wildcards and named resources); check it with kubectl describe")
		return nil
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ACCESS\tEXPECTED\tACTUAL")
	bad := 0
	word := map[bool]string{true: "allowed", false: "denied"}
	for _, c := range checks {
		mark := ""
		if c.Want != c.Got {
			mark, bad = "  <- MISMATCH", bad+1
		}
		fmt.Fprintf(w, "%s\t%s\t%s%s\n", c.Permission, word[c.Want], word[c.Got], mark)
	}
	w.Flush()
	if bad > 0 {
		return fmt.Errorf("%d access checks differ from what was asked: review the bindings above (another binding may grant more)", bad)
	}
	return nil
}

func (o *UserCreateOptions) printPlan(objects users.Objects, ci users.ClusterInfo, entry string) error {
	for _, obj := range objects.List() {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "---\n%s", b)
	}
	target := o.KubeconfigOut
	if target == "" {
		target = users.KubeconfigFile(o.flags.ToRawKubeConfigLoader().ConfigAccess(), entry)
	}
	fmt.Fprintf(o.Out, "# kubeconfig %s: would add user %q (client certificate and key, %s) and context %q (cluster %s, namespace %q)\n",
		target, entry, o.Request.KeyType, entry, ci.Name, o.Request.Namespace)
	return nil
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
