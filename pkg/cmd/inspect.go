package cmd

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/inspect"
)

// InspectOptions is shared by the inspect views. Inspect only reads.
type InspectOptions struct {
	ShowSecrets bool
	WarnWithin  string
	// -f: also read each host's PKI over SSH.
	specFlags
	sshFlags

	out *outputFlags

	flags  *genericclioptions.ConfigFlags
	client kubernetes.Interface
	anon   kubernetes.Interface
	genericiooptions.IOStreams
}

// NewCmdInspect is the `inspect` command group.
func NewCmdInspect(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &InspectOptions{flags: f, IOStreams: streams, WarnWithin: "30d", out: newOutputFlags(), specFlags: specFlags{config: f}}
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show what kubeadm created in a live cluster",
		Long: templates.LongDesc(`
			Read what kubeadm created — the stored configuration, the control-plane static
			pods, bootstrap tokens and their signatures, kubeadm's RBAC, certificates — and
			where the running cluster drifted from its configuration. Without a view, a
			one-screen summary of all of them. Inspect never changes the cluster.`),
		Example: templates.Examples(`
			# Everything at a glance
			kubectl kbs inspect`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(); err != nil {
				return err
			}
			return o.summary(cmd.Context())
		},
	}
	cmd.AddCommand(
		newInspectView(f, streams, "kubeadm-config", "The stored kubeadm ClusterConfiguration, with kubelet and kube-proxy summaries",
			`kubectl kbs inspect kubeadm-config -o yaml`, (*InspectOptions).kubeadmConfig),
		newInspectView(f, streams, "tokens", "Bootstrap tokens matched against cluster-info's signatures",
			`kubectl kbs inspect tokens --show-secrets`, (*InspectOptions).tokens),
		newInspectView(f, streams, "static-pods", "The control-plane static pods: image, state, flags, probes, mounts",
			`kubectl kbs inspect static-pods -o json`, (*InspectOptions).staticPods),
		newInspectView(f, streams, "drift", "Where the running control plane differs from its kubeadm-config",
			`kubectl kbs inspect drift`, (*InspectOptions).drift),
		newInspectView(f, streams, "rbac", "kubeadm's RBAC objects (present, missing, changed) and who holds cluster-admin",
			`kubectl kbs inspect rbac`, (*InspectOptions).rbac),
		newInspectView(f, streams, "certs", "Certificates the cluster depends on, soonest expiry first; exits non-zero when one expires within --warn-within",
			`kubectl kbs inspect certs --warn-within 30d`, (*InspectOptions).certs),
	)
	return cmd
}

func newInspectView(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, name, short, example string, run func(*InspectOptions, context.Context) error) *cobra.Command {
	o := &InspectOptions{flags: f, IOStreams: streams, out: newOutputFlags(), specFlags: specFlags{config: f}}
	cmd := &cobra.Command{
		Use:     name,
		Short:   short,
		Long:    templates.LongDesc(short + ". A table by default; -o json, yaml, jsonpath or go-template with stable field names for scripts."),
		Example: templates.Examples("\n" + example),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(); err != nil {
				return err
			}
			return run(o, cmd.Context())
		},
	}
	o.out.addFlags(cmd)
	switch name {
	case "tokens":
		cmd.Flags().BoolVar(&o.ShowSecrets, "show-secrets", false, "Show token secrets (otherwise masked)")
	case "certs":
		cmd.Flags().StringVar(&o.WarnWithin, "warn-within", "30d", "Fail when a certificate expires within this window (30d, 720h)")
		o.specFlags.addFlags(cmd, false)
		o.sshFlags.addFlags(cmd)
	}
	return cmd
}

func (o *InspectOptions) complete() error {
	if err := o.out.validate(); err != nil {
		return err
	}
	if err := o.specFlags.claimDeprecatedCluster(o.ErrOut); err != nil {
		return err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	if o.client, err = newClient(o.flags); err != nil {
		return err
	}
	o.anon, err = kubernetes.NewForConfig(rest.AnonymousClientConfig(cfg))
	return err
}

func (o *InspectOptions) kubeadmConfig(ctx context.Context) error {
	c, err := inspect.ReadKubeadmConfig(ctx, o.client)
	if err != nil {
		return err
	}
	if done, err := o.out.printObj(o.Out, "KubeadmConfig", c); done {
		return err
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s\t%s\n", k, v) }
	row("apiVersion", c.APIVersion)
	if c.Outdated != "" {
		row("WARNING", c.Outdated)
	}
	row("kubernetesVersion", c.KubernetesVersion)
	row("controlPlaneEndpoint", c.ControlPlaneEndpoint)
	row("etcd", etcdLine(c.Etcd))
	writeMap(w, "networking.", c.Networking)
	row("apiServer.certSANs", strings.Join(c.CertSANs, ", "))
	for _, comp := range sortedKeys(c.ExtraArgs) {
		row(comp+".extraArgs", strings.Join(c.ExtraArgs[comp], " "))
	}
	writeMap(w, "kubelet.", c.Kubelet)
	writeMap(w, "kubeProxy.", c.KubeProxy)
	return w.Flush()
}

func etcdLine(e inspect.EtcdConfig) string {
	if e.Mode == "external" {
		return fmt.Sprintf("external %s (ca %s, cert %s, key %s)", strings.Join(e.Endpoints, ","), e.CAFile, e.CertFile, e.KeyFile)
	}
	return "local (stacked) " + e.DataDir
}

func writeMap(w io.Writer, prefix string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(w, "%s%s\t%s\n", prefix, k, m[k])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (o *InspectOptions) tokens(ctx context.Context) error {
	t, err := inspect.ReadTokens(ctx, o.client, o.anon, o.ShowSecrets, time.Now())
	if err != nil {
		return err
	}
	if done, err := o.out.printObj(o.Out, "BootstrapTokens", t); done {
		return err
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOKEN\tTTL\tUSAGES\tEXTRA GROUPS\tSIGNED\tPROBLEMS")
	for _, tk := range t.Tokens {
		fmt.Fprintf(w, "%s.%s\t%s\t%s\t%s\t%v\t%s\n", tk.ID, tk.Secret, tk.TTL, strings.Join(tk.Usages, ","),
			strings.Join(tk.ExtraGroups, ","), tk.Signed, strings.Join(tk.Problems, "; "))
	}
	w.Flush()
	fmt.Fprintf(o.Out, "cluster-info: %s\n", t.ClusterInfo)
	for _, id := range t.OrphanSignatures {
		fmt.Fprintf(o.Out, "orphan signature: cluster-info is signed for token %s, which no longer exists\n", id)
	}
	return nil
}

func (o *InspectOptions) staticPods(ctx context.Context) error {
	cfg, _ := inspect.ReadKubeadmConfig(ctx, o.client) // optional: marks extraArgs
	pods, err := inspect.ReadStaticPods(ctx, o.client, cfg)
	if err != nil {
		return err
	}
	if done, err := o.out.printObj(o.Out, "StaticPods", map[string]any{"staticPods": pods}); done {
		return err
	}
	if len(pods) == 0 {
		fmt.Fprintln(o.Out, "no control-plane pods (kube-system, tier=control-plane): is this a kubeadm cluster whose kubelets run?")
		return nil
	}
	for _, p := range pods {
		fmt.Fprintf(o.Out, "%s on %s: %s, %s, %d restarts, hostNetwork=%v, priorityClass=%s, requests %v\n",
			p.Component, p.Node, p.Image, p.Phase, p.Restarts, p.HostNetwork, p.PriorityClass, p.Requests)
		for _, pr := range p.Probes {
			fmt.Fprintf(o.Out, "  probe %s: %s://%s:%s%s every %ds (timeout %ds, %d failures)\n", pr.Kind, strings.ToLower(pr.Scheme), pr.Host, pr.Port, pr.Path, pr.PeriodSeconds, pr.TimeoutSeconds, pr.FailureThreshold)
		}
		for _, m := range p.Mounts {
			ro := "rw"
			if m.ReadOnly {
				ro = "ro"
			}
			fmt.Fprintf(o.Out, "  mount %s -> %s (%s)\n", m.HostPath, m.MountPath, ro)
		}
		for _, f := range p.Flags {
			mark := ""
			if f.FromConfig {
				mark = "   (extraArgs)"
			}
			fmt.Fprintf(o.Out, "  --%s=%s%s\n", f.Name, f.Value, mark)
		}
	}
	return nil
}

func (o *InspectOptions) drift(ctx context.Context) error {
	cfg, err := inspect.ReadKubeadmConfig(ctx, o.client)
	if err != nil {
		return err
	}
	pods, err := inspect.ReadStaticPods(ctx, o.client, cfg)
	if err != nil {
		return err
	}
	drift := inspect.FindDrift(cfg, pods)
	if done, err := o.out.printObj(o.Out, "Drift", map[string]any{"drift": drift}); done || err != nil {
		if err == nil && len(drift) > 0 {
			err = fmt.Errorf("%d differences between kubeadm-config and the running control plane", len(drift))
		}
		return err
	}
	if len(drift) == 0 {
		fmt.Fprintf(o.Out, "no drift: %d control-plane pods run what kubeadm-config says\n", len(pods))
		return nil
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tCOMPONENT\tSETTING\tKUBEADM-CONFIG\tLIVE")
	for _, d := range drift {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.Node, d.Component, d.Setting, d.Config, d.Live)
	}
	w.Flush()
	return fmt.Errorf("%d differences between kubeadm-config and the running control plane", len(drift))
}

// readNodeCerts reads the PKI of every host of the spec over SSH.
func (o *InspectOptions) rbac(ctx context.Context) error {
	rep, err := inspect.ReadRBAC(ctx, o.client)
	if err != nil {
		return err
	}
	if done, err := o.out.printObj(o.Out, "KubeadmRBAC", rep); done {
		return err
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KUBEADM OBJECT\tSTATUS\tPURPOSE")
	for _, e := range rep.Expected {
		name := e.Kind + "/" + strings.TrimPrefix(e.Namespace+"/", "/") + e.Name
		status := e.Status
		if e.Detail != "" {
			status += " (" + e.Detail + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", name, status, e.Purpose)
	}
	fmt.Fprintln(w, "\nCLUSTER-ADMIN\tVIA\t")
	for _, a := range rep.Admins {
		fmt.Fprintf(w, "%s\t%s\t\n", a.Subject, a.Via)
	}
	w.Flush()
	fmt.Fprintln(o.Out, "system:masters:", rep.Masters)
	return nil
}

// summary is one line or so per view; problems first-class, details behind
// the views' own commands.
