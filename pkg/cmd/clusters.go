package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/fleet"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// ClustersOptions is `kubectl kbs clusters`: the inventory, live.
type ClustersOptions struct {
	File      string
	StateRoot string
	Timeout   time.Duration
	sshFlags

	out    *outputFlags
	flags  *genericclioptions.ConfigFlags
	specs  []*cluster.Cluster
	raw    clientcmdapi.Config
	dialer *remote.Dialer
	genericiooptions.IOStreams
}

// NewCmdClusters is the `clusters` command.
func NewCmdClusters(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClustersOptions{flags: f, IOStreams: streams, out: newOutputFlags(), Timeout: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "clusters -f inventory.yaml",
		Short: "Every cluster of an inventory, live: members, pod network, versions, and what is wrong",
		Long: templates.LongDesc(`
			Survey every cluster of an inventory (a file of several cluster specs) side by
			side, each within --timeout: its members by role as the spec has them and as
			the cluster has them (etcd members healthy, control planes and workers Ready),
			the pod network actually running, the Kubernetes and etcd versions, whether the
			API server answers, and a description of what is wrong — a worker in the spec
			that never joined, an unhealthy etcd member, a cluster not built yet.

			The API server is reached through the kubeconfig context kbs init merged (the
			cluster's name), or the admin kubeconfig in its state directory; etcd with the
			client certificate there; where the API server does not answer, the control
			planes over SSH. Exits non-zero when any cluster has a problem, for cron.`),
		Example: templates.Examples(`
			# The notes' table, live
			kubectl kbs clusters -f examples/inventory.yaml

			# For a script or a monitor
			kubectl kbs clusters -f examples/inventory.yaml -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "Inventory: a file of one or more cluster specs")
	cmd.Flags().StringVar(&o.StateRoot, "state-root", "", "Where each cluster's state directory is, as ROOT/NAME (default ~/.kube/kbs)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long each cluster may take to answer (clusters are asked side by side)")
	o.sshFlags.addFlags(cmd)
	o.out.addFlags(cmd)
	return cmd
}

// Complete validates the flags and reads the inventory and the kubeconfig
// before any cluster is contacted.
func (o *ClustersOptions) Complete() error {
	if err := o.out.validate(); err != nil {
		return err
	}
	if o.File == "" {
		return fmt.Errorf("an inventory is required: -f inventory.yaml (see examples/inventory.yaml)")
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s", o.Timeout)
	}
	if err := o.sshFlags.validate(); err != nil {
		return err
	}
	specs, err := cluster.Load(o.File)
	if err != nil {
		return err
	}
	o.specs = specs
	if o.StateRoot == "" {
		o.StateRoot = filepath.Dir(state.DefaultDir("x"))
	}
	raw, err := o.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	o.raw = raw
	o.dialer = o.sshFlags.dialer(o.IOStreams)
	return nil
}

// Run surveys every cluster and prints the table or the object.
func (o *ClustersOptions) Run(ctx context.Context) error {
	defer o.dialer.Close()
	start := time.Now()
	rows := fleet.Survey(ctx, o.specs, fleet.Probes{Kube: o.kube, Etcd: o.etcd, SSH: o.ssh}, fleet.Options{Timeout: o.Timeout})
	fmt.Fprintf(o.ErrOut, "surveyed %d clusters in %s\n", len(rows), time.Since(start).Round(time.Millisecond))
	if done, err := o.out.printObj(o.Out, "ClusterInventory", map[string]any{"clusters": rows}); !done {
		printClusters(o.Out, rows)
	} else if err != nil {
		return err
	}
	if bad := fleet.Problems(rows); len(bad) > 0 {
		return fmt.Errorf("clusters with problems: %s (see the description column)", strings.Join(bad, ", "))
	}
	return nil
}

func (o *ClustersOptions) stateDir(c *cluster.Cluster) string {
	return filepath.Join(o.StateRoot, c.Metadata.Name)
}

// kube is a client through the context init merged (the cluster's name),
// else through the admin kubeconfig in the state directory.
func (o *ClustersOptions) kube(c *cluster.Cluster) (kubernetes.Interface, string, error) {
	var cfg *rest.Config
	var err error
	name := c.Metadata.Name
	admin := filepath.Join(o.stateDir(c), "admin.conf")
	switch {
	case o.raw.Contexts[name] != nil:
		cfg, err = clientcmd.NewDefaultClientConfig(o.raw, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
	case fileExists(admin):
		cfg, err = clientcmd.BuildConfigFromFlags("", admin)
	default:
		return nil, "", fleet.ErrNotBuilt
	}
	if err != nil {
		return nil, "", fmt.Errorf("the kubeconfig of %s: %w", name, err)
	}
	cfg.Timeout = o.Timeout
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg.Host, err
}

// etcd asks the members with the client certificate in the state
// directory; a cluster without one (its etcd not kbs's) is not asked.
func (o *ClustersOptions) etcd(ctx context.Context, c *cluster.Cluster) ([]fleet.EtcdMember, error) {
	st, err := state.Open(o.stateDir(c), true)
	if err != nil {
		return nil, err
	}
	if !st.HasEtcdCA() {
		return nil, fmt.Errorf("no etcd CA in %s to ask the members with", st.Dir)
	}
	rows, err := etcd.Status(ctx, &etcd.Env{Spec: c, State: st})
	if err != nil {
		return nil, err
	}
	out := make([]fleet.EtcdMember, len(rows))
	for i, r := range rows {
		out[i] = fleet.EtcdMember{Name: r.Name, Healthy: r.Healthy, InSpec: r.InSpec, Version: r.Version, Error: r.Error}
	}
	return out, nil
}

// ssh asks a host what its kubelet is doing.
func (o *ClustersOptions) ssh(ctx context.Context, c *cluster.Cluster, h cluster.Host) (string, error) {
	conn, err := o.dialer.Dial(ctx, host.TargetFor(c, h))
	if err != nil {
		return "", err
	}
	out, err := conn.Run(ctx, "systemctl is-active kubelet || true")
	if err != nil {
		return "", err
	}
	return "kubelet " + strings.TrimSpace(string(out)), nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func printClusters(out io.Writer, rows []fleet.Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTER\tMEMBERS\tREADY\tCNI\tKUBERNETES\tETCD\tAPI\tDESCRIPTION")
	for _, r := range rows {
		ready := "-"
		if r.Live != nil {
			ready = fmt.Sprintf("%d/%d etcd, %d/%d master, %d/%d worker", r.Live.Etcd, r.Spec.Etcd,
				r.Live.ControlPlanes, r.Spec.ControlPlanes, r.Live.Workers, r.Spec.Workers)
		}
		cni := r.CNI
		if r.CNIRunning != "" {
			cni = r.CNIRunning
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, members(r.Spec), ready, dash(cni),
			dash(r.KubernetesVersion), dash(r.EtcdVersion), r.API, dash(r.Description()))
	}
	w.Flush()
}

// members is the notes' spelling: "1 etcd, 1 master, 2 worker".
func members(m fleet.Members) string {
	return fmt.Sprintf("%d etcd, %d master, %d worker", m.Etcd, m.ControlPlanes, m.Workers)
}
