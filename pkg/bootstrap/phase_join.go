package bootstrap

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

func joinPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "join",
		Short: "join the workers that are not nodes yet with kubeadm join: one token per run (1 h, deleted afterwards), the cluster CA hash pinned, in parallel",
		Run: func(ctx context.Context, d InitData) error {
			return JoinWorkers(ctx, d, d.Cluster().HostsWithRole(cluster.RoleWorker))
		},
		Verify: func(ctx context.Context, d InitData) error {
			return nodesExist(ctx, d, d.Cluster().HostsWithRole(cluster.RoleWorker))
		},
	}
}

// nodesExist checks that each host is a node of the cluster.
func nodesExist(ctx context.Context, d InitData, hosts []cluster.Host) error {
	cs, _, err := adminClient(d)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if _, err := cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("%s is not a node: %w", h.Name, err)
		}
	}
	return nil
}

// Join adds hosts of the spec to the running cluster as an operation of
// the workflow engine ("join HOST,…" in the journal): their runtime; for
// control planes the load balancer (re-rendered with them as servers) and
// kubeadm join --control-plane one at a time; for workers kubeadm join; and
// a wait until they are Ready (the table of nodes goes to out).
func Join(ctx context.Context, d *Init, hosts []cluster.Host, out io.Writer) error {
	var cps, workers []cluster.Host
	for _, h := range hosts {
		if h.Role == cluster.RoleControlPlane {
			cps = append(cps, h)
		} else {
			workers = append(workers, h)
		}
	}
	return host.RunOperation(ctx, d.Session, InitData(d), "join "+scopeNames(hosts),
		workflow.Phase[InitData]{Name: "runtime", Short: "containerd, runc, CNI plugins, kubelet, kubeadm on the new hosts",
			Run: func(ctx context.Context, d InitData) error {
				return d.OnHosts(ctx, hosts, func(ctx context.Context, h *host.Host) error { return InstallRuntime(ctx, d, h) })
			},
			Verify: func(ctx context.Context, d InitData) error {
				return d.OnHosts(ctx, hosts, func(ctx context.Context, h *host.Host) error { return runtimeReady(ctx, d.Cluster(), h) })
			}},
		workflow.Phase[InitData]{Name: "load-balancer", Short: "haproxy and keepalived on the new control planes, and every control plane's haproxy forwarding to them too",
			Run: func(ctx context.Context, d InitData) error {
				if len(cps) == 0 || !d.Cluster().ManagedLoadBalancer() {
					return nil
				}
				all := d.Cluster().HostsWithRole(cluster.RoleControlPlane)
				return SetUpLoadBalancer(ctx, d, all, all)
			},
			Verify: func(ctx context.Context, d InitData) error {
				if len(cps) == 0 || !d.Cluster().ManagedLoadBalancer() {
					return nil
				}
				return loadBalancerServes(ctx, d, d.Cluster().HostsWithRole(cluster.RoleControlPlane))
			}},
		workflow.Phase[InitData]{Name: "control-plane-join", Short: "kubeadm join --control-plane, one at a time, each API server ready before the next",
			Run: func(ctx context.Context, d InitData) error { return JoinControlPlanes(ctx, d, cps) }},
		workflow.Phase[InitData]{Name: "join", Short: "kubeadm join with a one-hour token and the cluster CA hash pinned",
			Run: func(ctx context.Context, d InitData) error {
				if len(workers) == 0 {
					return nil
				}
				return JoinWorkers(ctx, d, workers)
			}},
		workflow.Phase[InitData]{Name: "wait-ready", Short: "wait until the new nodes are Ready",
			Run: func(ctx context.Context, d InitData) error {
				if d.DryRun() {
					return nil
				}
				return WaitWorkersReady(ctx, d, hosts, out)
			}},
	)
}

// scopeNames names an operation's journal scope after the hosts it works
// on, sorted, so the same operation resumes whatever order they were given in.
func scopeNames(hs []cluster.Host) string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// JoinWorkers joins the given workers that are not yet nodes of the cluster.
func JoinWorkers(ctx context.Context, d InitData, workers []cluster.Host) error {
	c := d.Cluster()
	ca, _, err := d.State().KubernetesCA()
	if err != nil {
		return err
	}
	caHash := pki.SPKIHash(ca.Cert)
	if d.DryRun() {
		return d.OnHosts(ctx, workers, func(ctx context.Context, h *host.Host) error {
			return joinOne(ctx, d, h, "<token created at join time>", ca.Cert)
		})
	}
	cs, _, err := adminClient(d)
	if err != nil {
		return err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	isNode := map[string]bool{}
	for _, n := range nodes.Items {
		isNode[n.Name] = true
	}
	var todo []cluster.Host
	for _, w := range workers {
		if !isNode[w.Name] {
			todo = append(todo, w)
		}
	}
	if len(todo) == 0 {
		d.Log("join", "", "every worker is already a node of %s", c.Metadata.Name)
		return nil
	}
	token, err := createJoinToken(ctx, cs, c.Metadata.Name)
	if err != nil {
		return err
	}
	defer deleteJoinToken(context.WithoutCancel(ctx), cs, token)
	d.Log("join", "", "joining %s (token valid 1h, CA %s)", hostNames(todo), caHash)
	return d.OnHosts(ctx, todo, func(ctx context.Context, h *host.Host) error {
		return joinOne(ctx, d, h, token, ca.Cert)
	})
}

func hostNames(hs []cluster.Host) string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	return strings.Join(names, ", ")
}

// joinOne joins one worker that is not a node. What a join that stopped
// half-way left there is undone first when it trusts this cluster's CA
// (kubeadm join cannot resume); a host of another cluster is refused.
func joinOne(ctx context.Context, d InitData, h *host.Host, token string, ca *x509.Certificate) error {
	left, err := halfJoined(ctx, h, ca, workerJoinFiles)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		if err := undoHalfJoin(ctx, d, h, "join", left); err != nil {
			return err
		}
	}
	cfg, err := RenderJoinConfig(d.Cluster(), h.Spec, token, pki.SPKIHash(ca))
	if err != nil {
		return err
	}
	took, err := runKubeadmJoin(ctx, h, cfg, "kubeadm join")
	if err == nil && !h.DryRun() {
		d.Log("join", h.Spec.Name, "joined in %s", took)
	}
	return err
}

// runKubeadmJoin runs kubeadm join with cfg (it holds the run's token: the
// file is removed afterwards) and says how long it took.
func runKubeadmJoin(ctx context.Context, h *host.Host, cfg []byte, what string) (time.Duration, error) {
	cleanup, err := writeTokenConfig(ctx, h, KubeadmJoinPath, cfg)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	start := time.Now()
	if err := runKubeadm(ctx, h, what, "join --config "+KubeadmJoinPath, "/var/log/kbs-kubeadm-join.log"); err != nil {
		return 0, err
	}
	return time.Since(start).Round(100 * time.Millisecond), nil
}

// createJoinToken creates a bootstrap token Secret through the API, valid for
// an hour, in the group kubeadm's join RBAC expects. kbs makes the token
// itself rather than parsing one out of kubeadm's output.
func createJoinToken(ctx context.Context, cs kubernetes.Interface, clusterName string) (string, error) {
	token, err := NewBootstrapToken()
	if err != nil {
		return "", err
	}
	id, secret, _ := strings.Cut(token, ".")
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: "kube-system",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kbs"}},
		Type: corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"description":                    "kbs join for cluster " + clusterName,
			"token-id":                       id,
			"token-secret":                   secret,
			"expiration":                     time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"usage-bootstrap-authentication": "true",
			"usage-bootstrap-signing":        "true",
			"auth-extra-groups":              "system:bootstrappers:kubeadm:default-node-token",
		},
	}
	if _, err := cs.CoreV1().Secrets("kube-system").Create(ctx, s, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return "", fmt.Errorf("creating a join token: %w", err)
	}
	return token, nil
}

// deleteJoinToken removes the run's token once the joins are over: it would
// expire within the hour anyway, but nothing should outlive its use.
func deleteJoinToken(ctx context.Context, cs kubernetes.Interface, token string) {
	id, _, _ := strings.Cut(token, ".")
	_ = cs.CoreV1().Secrets("kube-system").Delete(ctx, "bootstrap-token-"+id, metav1.DeleteOptions{})
}
