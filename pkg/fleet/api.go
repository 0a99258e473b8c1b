package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// apiView is what the API server says of a cluster.
type apiView struct {
	err                   error
	version               string
	readyCP, readyWorkers int
	cni                   string
	problems              []string
}

// cniDaemonSets are where each plugin kbs installs runs its node agent.
var cniDaemonSets = []struct{ plugin, namespace, name string }{
	{cluster.CNIFlannel, "kube-flannel", "kube-flannel-ds"},
	{cluster.CNICalico, "kube-system", "calico-node"},
}

func readAPI(ctx context.Context, cs kubernetes.Interface, c *cluster.Cluster) apiView {
	var v apiView
	info, err := cs.Discovery().ServerVersion()
	if err != nil {
		v.err = err
		return v
	}
	v.version = info.GitVersion
	if want := c.Spec.KubernetesVersion; want != "" && want != v.version {
		v.problems = append(v.problems, fmt.Sprintf("API server at %s, the spec says %s", v.version, want))
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		v.err = fmt.Errorf("listing nodes: %w", err)
		return v
	}
	v.judgeNodes(c, nodes.Items)
	v.judgeCNI(ctx, cs, c)
	return v
}

// judgeNodes compares the spec's control planes and workers with the
// nodes: missing, not Ready, on another kubelet version, or unknown to the
// spec.
func (v *apiView) judgeNodes(c *cluster.Cluster, nodes []corev1.Node) {
	byName := map[string]*corev1.Node{}
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	inSpec := map[string]bool{}
	for _, role := range []string{cluster.RoleControlPlane, cluster.RoleWorker} {
		for _, h := range c.HostsWithRole(role) {
			inSpec[h.Name] = true
			n := byName[h.Name]
			if n == nil {
				v.problems = append(v.problems, fmt.Sprintf("missing %s: %s is in the spec, not in the cluster", roleNoun(role), h.Name))
				continue
			}
			if ok, why := ready(n); !ok {
				v.problems = append(v.problems, fmt.Sprintf("%s %s not Ready: %s", roleNoun(role), h.Name, why))
			} else if role == cluster.RoleControlPlane {
				v.readyCP++
			} else {
				v.readyWorkers++
			}
			if kv := n.Status.NodeInfo.KubeletVersion; c.Spec.KubernetesVersion != "" && kv != c.Spec.KubernetesVersion {
				v.problems = append(v.problems, fmt.Sprintf("%s runs kubelet %s, the spec says %s", h.Name, kv, c.Spec.KubernetesVersion))
			}
		}
	}
	var extra []string
	for _, n := range nodes {
		if !inSpec[n.Name] {
			extra = append(extra, n.Name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		v.problems = append(v.problems, fmt.Sprintf("nodes not in the spec: %s", strings.Join(extra, ", ")))
	}
}

func roleNoun(role string) string {
	if role == cluster.RoleControlPlane {
		return "control plane"
	}
	return "worker node"
}

// ready is the node's Ready condition, and why not when it is not.
func ready(n *corev1.Node) (bool, string) {
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return true, ""
		}
		why := c.Reason
		if c.Message != "" {
			why += " (" + c.Message + ")"
		}
		return false, why
	}
	return false, "no Ready condition yet"
}

// judgeCNI finds the pod network the cluster runs and how many of its
// node agents are ready, against the spec's plugin.
func (v *apiView) judgeCNI(ctx context.Context, cs kubernetes.Interface, c *cluster.Cluster) {
	var running []string
	found := false
	for _, d := range cniDaemonSets {
		ds, err := cs.AppsV1().DaemonSets(d.namespace).Get(ctx, d.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			v.problems = append(v.problems, fmt.Sprintf("reading %s's DaemonSet: %v", d.plugin, err))
			continue
		}
		want, ok := ds.Status.DesiredNumberScheduled, ds.Status.NumberReady
		running = append(running, fmt.Sprintf("%s %d/%d", d.plugin, ok, want))
		if d.plugin == c.Spec.CNI.Plugin {
			found = true
			if ok < want || want == 0 {
				v.problems = append(v.problems, fmt.Sprintf("%s: %d of %d node agents ready", d.plugin, ok, want))
			}
		}
	}
	v.cni = strings.Join(running, ", ")
	if !found && c.Spec.CNI.Plugin != "" {
		others := "no pod network"
		if len(running) > 0 {
			others = "it runs " + v.cni
		}
		v.problems = append(v.problems, fmt.Sprintf("the spec's %s is not running (%s)", c.Spec.CNI.Plugin, others))
	}
}
