package cmd

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/users"
)

// UserCreateOptions holds the flags of `user create`.
type UserCreateOptions struct {
	Request       users.Request
	KeyType       string
	ContextName   string
	KubeconfigOut string
	DryRun        bool
	Timeout       time.Duration
	VerifyMode    string

	userBase
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
	o := &UserCreateOptions{userBase: userBase{flags: f, IOStreams: streams}}
	cmd := &cobra.Command{
		Use:     "create NAME (--role R | --clusterrole R | --verb V... --resource R...)",
		Short:   "Create a user: client certificate, kubeconfig context, RBAC; verified",
		Long:    templates.LongDesc(`Create a user who authenticates with a client certificate, bind it to a role, add it to your kubeconfig (or a file of its own), and verify its access with SubjectAccessReviews.`),
		Example: userCreateExample,
		Args:    cobra.ExactArgs(1),
		RunE:    runVerb(o),
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

// Run creates the user and prints what was made and the access table.
func (o *UserCreateOptions) Run(ctx context.Context) error {
	in, err := o.input()
	if err != nil {
		return err
	}
	res, err := users.Create(ctx, in)
	if res == nil {
		return err
	}
	if res.DryRun {
		return o.printPlan(res, in.Cluster.Name)
	}
	o.printCreated(res)
	return err
}

// input connects to the cluster and gathers what Create needs from kubectl's
// flags.
func (o *UserCreateOptions) input() (users.CreateInput, error) {
	in := users.CreateInput{Request: o.Request, ContextName: o.ContextName, KubeconfigOut: o.KubeconfigOut,
		DryRun: o.DryRun, Timeout: o.Timeout, Log: o.logf}
	var err error
	if err = o.connect(); err != nil {
		return in, err
	}
	in.Client = o.client
	if in.Cluster, err = currentCluster(o.flags); err != nil {
		return in, err
	}
	in.Access = o.flags.ToRawKubeConfigLoader().ConfigAccess()
	if o.Request.NeedsDiscovery() {
		if in.Mapper, err = o.flags.ToRESTMapper(); err != nil {
			return in, err
		}
	}
	if o.VerifyMode == "live" {
		in.LiveConfig, err = o.flags.ToRESTConfig()
	}
	return in, err
}

func (o *UserCreateOptions) printCreated(res *users.CreateResult) {
	r, c := &o.Request, res.Record.Current()
	if r.ServiceAccount {
		fmt.Fprintf(o.Out, "service account %s/%s: token valid until %s (deleting the ServiceAccount revokes it)\n",
			r.Namespace, r.Name, res.Credentials.TokenExpires.Format(time.RFC3339))
	} else {
		fmt.Fprintf(o.Out, "user %s (groups %v): certificate serial %s, valid %s to %s (%s)\n", r.Name, r.Groups,
			c.Serial, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), c.NotAfter.Sub(c.NotBefore).Round(time.Minute))
	}
	fmt.Fprintf(o.Out, "kubeconfig: user and context %q in %s\n", res.Entry, res.Kubeconfig)
	if !res.Verified {
		return
	}
	o.printChecks(res.Checks)
	if res.Live {
		fmt.Fprintf(o.Out, "verified live: signed in as %s, and the API server gave the user the same answers\n", r.Username())
	}
}

func (o *UserCreateOptions) printChecks(checks []users.Check) {
	if len(checks) == 0 {
		fmt.Fprintln(o.ErrOut, "warning: the role grants no concrete permission to verify (it is empty, or only wildcards and named resources); check it with kubectl describe")
		return
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ACCESS\tEXPECTED\tACTUAL")
	word := map[bool]string{true: "allowed", false: "denied"}
	for _, c := range checks {
		mark := ""
		if !c.Matches() {
			mark = "  <- MISMATCH"
		}
		fmt.Fprintf(w, "%s\t%s\t%s%s\n", c.Permission, word[c.Want], word[c.Got], mark)
	}
	w.Flush()
}

func (o *UserCreateOptions) printPlan(res *users.CreateResult, cluster string) error {
	for _, obj := range res.Objects.List() {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "---\n%s", b)
	}
	fmt.Fprintf(o.Out, "# kubeconfig %s: would add user %q (client certificate and key, %s) and context %q (cluster %s, namespace %q)\n",
		res.Kubeconfig, res.Entry, o.Request.KeyType, res.Entry, cluster, o.Request.Namespace)
	return nil
}
