package upgrade

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/drain"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// binDir is where a bundle installs kubeadm, kubelet and kubectl (the
// kubelet unit kbs writes runs it from there).
const binDir = "/usr/local/bin"

// images puts the target's image archives on every node and imports them
// (bundle clusters; with packages kubeadm and the kubelet pull them): the
// first control plane's `kubeadm upgrade apply` rolls kube-proxy and
// CoreDNS to every node at once, so every node needs them before it runs.
func (r *applyRun) images(ctx context.Context, nodes []cluster.Host) error {
	if r.bundle == nil {
		r.Log("images", "", "packages: kubeadm and the kubelets pull the target's images from %s", r.registry())
		return nil
	}
	return r.OnHosts(ctx, nodes, func(ctx context.Context, h *host.Host) error {
		archives := []string{bundle.Images}
		if h.Spec.Role == cluster.RoleControlPlane && r.bundle.Sums[bundle.ControlPlaneImages] != "" {
			archives = append(archives, bundle.ControlPlaneImages)
		}
		for _, rel := range archives {
			dest := bundle.NodeImages
			if rel == bundle.ControlPlaneImages {
				dest = bundle.NodeControlPlaneImages
			}
			if h.HasSum(ctx, dest, r.bundle.Sums[rel], 0o600) {
				continue // this archive was imported by init or an earlier run
			}
			start := time.Now()
			if err := r.upload(ctx, h, rel, dest, 0o600, remote.Tee("ctr -n k8s.io images import - >/dev/null")); err != nil {
				return err
			}
			h.Trace("import images", start)
		}
		return nil
	})
}

func (r *applyRun) registry() string {
	if repo := r.Cluster().Spec.ImageRepository; repo != "" {
		return repo
	}
	return "registry.k8s.io"
}

// upload streams one bundle file to dest, checked against the bundle's
// checksum before it replaces dest.
func (r *applyRun) upload(ctx context.Context, h *host.Host, rel, dest string, mode os.FileMode, extra ...remote.WriteOption) error {
	if h.DryRun() {
		h.Plan("would upload %s from the bundle to %s (sha256 %.12s)", rel, dest, r.bundle.Sums[rel])
		return nil
	}
	return r.bundle.Upload(ctx, h, rel, dest, mode, extra...)
}

// installTools puts the target's tools on h: from the bundle, or from the
// target minor's pkgs.k8s.io channel (the apt source is switched to it and
// the packages held again).
func (r *applyRun) installTools(ctx context.Context, h *host.Host, tools ...string) error {
	if r.bundle != nil {
		for _, t := range tools {
			rel := "bin/" + t
			if r.bundle.Sums[rel] == "" {
				continue // a bundle without kubectl for workers
			}
			if h.HasSum(ctx, path.Join(binDir, t), r.bundle.Sums[rel], 0o755) {
				continue
			}
			if err := r.upload(ctx, h, rel, path.Join(binDir, t), 0o755); err != nil {
				return err
			}
		}
		return nil
	}
	steps := append([]string{"export DEBIAN_FRONTEND=noninteractive"}, host.KubernetesPackages(r.target, tools...)...)
	return h.Exec(ctx, "install "+strings.Join(tools, ", ")+" "+r.target, host.AptLocked(strings.Join(steps, " && ")))
}

// upgradeNodes upgrades a control plane (first: kubeadm upgrade apply;
// else kubeadm upgrade node) or a batch of workers: kubeadm first, the
// kubeadm step, then drained, the kubelet and kubectl, a restart, Ready at
// the target, uncordoned. A node that stops half-way stays cordoned and
// the error says so.
func (r *applyRun) upgradeNodes(ctx context.Context, nodes []cluster.Host, first bool) error {
	phase := r.phaseName(nodes)
	return r.OnHosts(ctx, nodes, func(ctx context.Context, h *host.Host) error {
		if !r.DryRun() {
			if err := r.nodeAtTarget(ctx, h.Spec); err == nil {
				r.Log(phase, h.Spec.Name, "already at %s and schedulable", r.target)
				return nil
			}
			// Upgraded but left cordoned (interrupted after the restart):
			// only the uncordon is missing.
			if err := r.readyAtTarget(ctx, h.Spec); err == nil {
				if err := r.cordon(ctx, h.Spec.Name, false); err != nil {
					return err
				}
				r.Log(phase, h.Spec.Name, "already at %s; uncordoned", r.target)
				return nil
			}
		}
		if err := r.installTools(ctx, h, "kubeadm"); err != nil {
			return err
		}
		what, args := "kubeadm upgrade node", "upgrade node"+ignoredChecks(r.Cluster())
		if first {
			what, args = "kubeadm upgrade apply", "upgrade apply "+shell.Quote(r.target)+" --yes"+ignoredChecks(r.Cluster())
		}
		start := time.Now()
		if err := host.Kubeadm(ctx, h, what, args, "/var/log/kbs-kubeadm-upgrade.log"); err != nil {
			return err
		}
		h.Trace(what, start)
		if err := r.drain(ctx, h.Spec.Name); err != nil {
			return err
		}
		// As init installs them: a bundle gives workers no kubectl
		// (kubeadm join needs none); packages give every node all three.
		tools := []string{"kubelet"}
		if h.Spec.Role == cluster.RoleControlPlane || r.bundle == nil {
			tools = append(tools, "kubectl")
		}
		if err := r.installTools(ctx, h, tools...); err != nil {
			return r.leftCordoned(h.Spec.Name, err)
		}
		start = time.Now()
		if err := h.Exec(ctx, "restart the kubelet", "systemctl daemon-reload && systemctl restart kubelet"); err != nil {
			return r.leftCordoned(h.Spec.Name, err)
		}
		if r.DryRun() {
			h.Plan("would wait until %s is Ready at %s, then uncordon it", h.Spec.Name, r.target)
			return nil
		}
		if err := r.settled(ctx, h.Spec); err != nil {
			return r.leftCordoned(h.Spec.Name, err)
		}
		h.Trace("kubelet restart until Ready", start)
		if err := r.cordon(ctx, h.Spec.Name, false); err != nil {
			return err
		}
		r.Log(phase, h.Spec.Name, "at %s and uncordoned", r.target)
		return nil
	})
}

func (r *applyRun) phaseName(nodes []cluster.Host) string {
	if nodes[0].Role == cluster.RoleControlPlane {
		return "control-plane-" + nodes[0].Name
	}
	return "workers-" + names(nodes)
}

// ignoredChecks passes the spec's kubeadm preflight exceptions on to
// kubeadm upgrade plan, apply and node, as init and join do.
func ignoredChecks(c *cluster.Cluster) string {
	ignore := c.Spec.Kubeadm.IgnorePreflightErrors
	if len(ignore) == 0 {
		return ""
	}
	return " --ignore-preflight-errors=" + shell.Quote(strings.Join(ignore, ","))
}

func (r *applyRun) leftCordoned(node string, err error) error {
	return fmt.Errorf("%w; %s is left cordoned: once the cause is fixed run the same command again (it resumes there), or `kubectl uncordon %s`", err, node, node)
}

// drain cordons the node and evicts its pods through the eviction API, so
// PodDisruptionBudgets hold (kubectl's own drain, DaemonSets and mirror
// pods left, emptyDir data deleted), within DrainTimeout.
func (r *applyRun) drain(ctx context.Context, node string) error {
	if r.DryRun() {
		r.Log("drain", node, "would drain %s (PodDisruptionBudgets honoured, at most %s)", node, r.opts.DrainTimeout)
		return nil
	}
	start := time.Now()
	hlp := r.drainHelper(ctx)
	n, err := r.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("draining %s: %w", node, err)
	}
	if err := drain.RunCordonOrUncordon(hlp, n, true); err != nil {
		return fmt.Errorf("cordoning %s: %w", node, err)
	}
	if err := drain.RunNodeDrain(hlp, node); err != nil {
		return fmt.Errorf("draining %s did not finish (%w): %s; %s is left cordoned — fix that and run the same command again, or `kubectl uncordon %s`", node, err, r.blockers(ctx, node), node, node)
	}
	r.Log("drain", node, "drained in %s", time.Since(start).Round(100*time.Millisecond))
	r.Trace("drain", start)
	return nil
}

func (r *applyRun) drainHelper(ctx context.Context) *drain.Helper {
	return &drain.Helper{
		Ctx: ctx, Client: r.cs, GracePeriodSeconds: -1, IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		Timeout: r.opts.DrainTimeout, Out: io.Discard, ErrOut: io.Discard,
	}
}

// blockers names what still runs on node and the PodDisruptionBudgets
// that allow no disruption now: what kept the drain from finishing.
func (r *applyRun) blockers(ctx context.Context, node string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	pods, err := r.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return "its pods could not be listed: " + err.Error()
	}
	var left []string
	for _, p := range pods.Items {
		if isDaemonOrMirror(p) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		left = append(left, p.Namespace+"/"+p.Name)
	}
	pdbs, err := r.cs.PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{})
	var held []string
	if err == nil {
		for _, b := range pdbs.Items {
			if b.Status.DisruptionsAllowed == 0 {
				held = append(held, fmt.Sprintf("%s/%s (%d of %d healthy, %d needed)", b.Namespace, b.Name, b.Status.CurrentHealthy, b.Status.ExpectedPods, b.Status.DesiredHealthy))
			}
		}
	}
	msg := "pods still there: " + orNone(left)
	if len(held) > 0 {
		msg += "; PodDisruptionBudgets allowing no disruption: " + strings.Join(held, ", ")
	}
	return msg
}

func isDaemonOrMirror(p corev1.Pod) bool {
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return true
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (r *applyRun) cordon(ctx context.Context, node string, on bool) error {
	n, err := r.cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := drain.RunCordonOrUncordon(r.drainHelper(ctx), n, on); err != nil {
		return fmt.Errorf("uncordoning %s: %w", node, err)
	}
	return nil
}

// readyAtTarget: the node is Ready with its kubelet at the target, and a
// control plane's static pods run the target, ready.
func (r *applyRun) readyAtTarget(ctx context.Context, h cluster.Host) error {
	n, err := r.cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !nodeReady(*n) {
		return fmt.Errorf("%s is not Ready", h.Name)
	}
	if v := n.Status.NodeInfo.KubeletVersion; v != r.target {
		return fmt.Errorf("%s's kubelet is %s, not %s", h.Name, v, r.target)
	}
	if h.Role != cluster.RoleControlPlane {
		return nil
	}
	pods, err := r.cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane", FieldSelector: "spec.nodeName=" + h.Name})
	if err != nil {
		return err
	}
	at := map[string]bool{}
	for _, p := range pods.Items {
		if len(p.Spec.Containers) > 0 && imageTag(p.Spec.Containers[0].Image) == r.target && podReady(p) {
			at[p.Labels["component"]] = true
		}
	}
	for _, c := range controlPlaneComponents {
		if !at[c] {
			return fmt.Errorf("%s's %s is not ready at %s", h.Name, c, r.target)
		}
	}
	return nil
}

// settleTime is how long a control plane must stay ready at the target
// after its kubelet restarted: the new kubelet restarts static pods whose
// spec it defaults differently, and until it has, their mirror pods still
// show the old kubelet's "Ready" (make test once took a control plane as
// done that the next minute showed its scheduler not ready).
const settleTime = 20 * time.Second

// settled waits until h is ready at the target and, for a control plane,
// has stayed so for settleTime.
func (r *applyRun) settled(ctx context.Context, h cluster.Host) error {
	var since time.Time
	return workflow.Retry(ctx, time.Second, r.opts.NodeTimeout, func(ctx context.Context) error {
		if err := r.readyAtTarget(ctx, h); err != nil {
			since = time.Time{}
			return err
		}
		if since.IsZero() {
			since = time.Now()
		}
		if h.Role == cluster.RoleControlPlane && time.Since(since) < settleTime {
			return fmt.Errorf("%s ready at %s for %s of the %s it must hold", h.Name, r.target, time.Since(since).Round(time.Second), settleTime)
		}
		return nil
	})
}

// nodeAtTarget is readyAtTarget and schedulable: the node needs nothing.
func (r *applyRun) nodeAtTarget(ctx context.Context, h cluster.Host) error {
	if err := r.readyAtTarget(ctx, h); err != nil {
		return err
	}
	n, err := r.cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if n.Spec.Unschedulable {
		return fmt.Errorf("%s is cordoned", h.Name)
	}
	return nil
}

// nodesAtTarget is the node phases' check on a re-run.
func (r *applyRun) nodesAtTarget(ctx context.Context, hs []cluster.Host) error {
	for _, h := range hs {
		if err := r.nodeAtTarget(ctx, h); err != nil {
			return err
		}
	}
	return nil
}
