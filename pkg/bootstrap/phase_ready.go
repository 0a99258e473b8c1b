package bootstrap

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// ReadyTimeout bounds how long wait-ready waits for all nodes.
const ReadyTimeout = 5 * time.Minute

func waitReadyPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name: "wait-ready",
		Verify: func(ctx context.Context, d InitData) error {
			cs, _, err := adminClient(d)
			if err != nil {
				return err
			}
			if _, err := WaitNodesReady(ctx, cs, hostNames(KubeletHosts(d.Cluster())), 5*time.Second); err != nil {
				return err
			}
			return waitClusterDNS(ctx, d, cs, 5*time.Second)
		},
		Short: "wait until every control-plane and worker host is a Ready node and cluster DNS (CoreDNS) is available, then show the nodes like kubectl get nodes -o wide",
		Run: func(ctx context.Context, d InitData) error {
			if d.DryRun() {
				d.Log("plan", "", "would wait up to %s for nodes %s to be Ready", ReadyTimeout, hostNames(KubeletHosts(d.Cluster())))
				return nil
			}
			cs, _, err := adminClient(d)
			if err != nil {
				return err
			}
			start := time.Now()
			nodes, err := WaitNodesReady(ctx, cs, hostNames(KubeletHosts(d.Cluster())), ReadyTimeout)
			d.Trace("cluster: nodes Ready", start)
			if nodes != nil {
				var b strings.Builder
				PrintNodes(&b, nodes)
				d.Log("wait-ready", "", "nodes:\n%s", strings.TrimRight(b.String(), "\n"))
			}
			if err != nil {
				return err
			}
			// Ready nodes are not yet a usable cluster: pods resolve names
			// only once CoreDNS (kubeadm's addon) has replicas available.
			start = time.Now()
			defer d.Trace("cluster: DNS available", start)
			return waitClusterDNS(ctx, d, cs, ReadyTimeout)
		},
	}
}

// waitClusterDNS waits until kubeadm's CoreDNS Deployment is Available (as
// kubectl wait --for=condition=Available does): one ready replica answers
// for the cluster's DNS Service. Waiting for every replica would wait out
// the others' readiness probes, every 10 s in kubeadm's manifest. A cluster
// without the Deployment (the addon skipped) has nothing to wait for.
func waitClusterDNS(ctx context.Context, d InitData, cs kubernetes.Interface, timeout time.Duration) error {
	var dep *appsv1.Deployment
	absent := false
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		dep, err = cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			absent = true
			return true, nil
		}
		if err != nil {
			return false, nil
		}
		return dep.Status.ObservedGeneration >= dep.Generation && deploymentAvailable(dep), nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("cluster DNS not available after %s (deployment kube-system/coredns): kubectl -n kube-system describe deployment coredns; kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide", timeout)
	case absent:
		d.Log("wait-ready", "", "no CoreDNS deployment (kubeadm's addon skipped?): not waiting for cluster DNS")
	default:
		d.Log("wait-ready", "", "cluster DNS available (coredns: %d of %d replicas)", dep.Status.AvailableReplicas, dep.Status.Replicas)
	}
	return nil
}

// deploymentAvailable says whether the Deployment's Available condition is
// True: at least replicas minus maxUnavailable are ready.
func deploymentAvailable(dep *appsv1.Deployment) bool {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitNodesReady waits until every named node (comma-separated) is Ready.
func WaitNodesReady(ctx context.Context, cs kubernetes.Interface, names string, timeout time.Duration) ([]corev1.Node, error) {
	want := strings.Split(names, ", ")
	var nodes []corev1.Node
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		nodes = list.Items
		byName := map[string]corev1.Node{}
		for _, n := range nodes {
			byName[n.Name] = n
		}
		missing = missing[:0]
		for _, w := range want {
			if n, ok := byName[w]; !ok || !NodeReady(n) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		return nodes, fmt.Errorf("nodes not Ready after %s: %s (kubectl describe node NAME; kubectl kbs diag node NAME)", timeout, strings.Join(missing, ", "))
	}
	return nodes, nil
}

// NodeReady says whether the node's Ready condition is True.
func NodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PrintNodes writes a table like `kubectl get nodes -o wide`.
func PrintNodes(w io.Writer, nodes []corev1.Node) {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tROLES\tAGE\tVERSION\tINTERNAL-IP\tOS-IMAGE\tKERNEL-VERSION\tCONTAINER-RUNTIME")
	for _, n := range nodes {
		status := "NotReady"
		if NodeReady(n) {
			status = "Ready"
		}
		if n.Spec.Unschedulable {
			status += ",SchedulingDisabled"
		}
		var roles []string
		for k := range n.Labels {
			if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok {
				roles = append(roles, r)
			}
		}
		sort.Strings(roles)
		role := strings.Join(roles, ",")
		if role == "" {
			role = "<none>"
		}
		ip := "<none>"
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		i := n.Status.NodeInfo
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, status, role,
			duration.HumanDuration(time.Since(n.CreationTimestamp.Time)), i.KubeletVersion, ip, i.OSImage, i.KernelVersion, i.ContainerRuntimeVersion)
	}
	tw.Flush()
}

// WaitWorkersReady waits for the given hosts to be Ready nodes and prints
// them as a table to out.
func WaitWorkersReady(ctx context.Context, d InitData, hosts []cluster.Host, out io.Writer) error {
	cs, _, err := adminClient(d)
	if err != nil {
		return err
	}
	nodes, err := WaitNodesReady(ctx, cs, hostNames(hosts), ReadyTimeout)
	if err != nil {
		return err
	}
	PrintNodes(out, nodes)
	return nil
}

// pollInterval is how often kbs asks the API server whether the cluster
// got where a phase waits for it to be: a quarter second costs the API
// server nothing and each wait at most that much beyond the moment.
const pollInterval = 250 * time.Millisecond
