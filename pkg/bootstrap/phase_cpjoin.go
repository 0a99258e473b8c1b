package bootstrap

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// cpJoinTimeout bounds how long a joined control plane's API server may
// take to answer, directly and through the endpoint.
const cpJoinTimeout = 3 * time.Minute

func controlPlaneJoinPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "control-plane-join",
		Until: "wait-ready",
		Short: "the other control planes: kbs's CAs, service account key and etcd client certificate copied over SSH, then kubeadm join --control-plane through the endpoint, one at a time, each API server ready directly and through the endpoint before the next",
		Run: func(ctx context.Context, d InitData) error {
			return JoinControlPlanes(ctx, d, d.Cluster().HostsWithRole(cluster.RoleControlPlane)[1:])
		},
		Verify: func(ctx context.Context, d InitData) error {
			cps := d.Cluster().HostsWithRole(cluster.RoleControlPlane)[1:]
			if len(cps) == 0 {
				return nil
			}
			cs, cfg, err := adminClient(d)
			if err != nil {
				return err
			}
			for _, h := range cps {
				if err := isControlPlane(ctx, cs, cfg, d.Cluster(), h); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// JoinControlPlanes joins the given control planes that are not yet serving,
// one after another: a second API server is added only once the first
// answers, so a broken join never takes two down.
func JoinControlPlanes(ctx context.Context, d InitData, hosts []cluster.Host) error {
	if len(hosts) == 0 {
		return nil
	}
	ca, _, err := d.State().KubernetesCA()
	if err != nil {
		return err
	}
	// The shared files, read once. The first control plane is contacted
	// only to adopt a service account key the state directory lacks: a
	// control plane can be joined while the first one is down.
	var files []host.File
	if _, err := d.State().ServiceAccountKey(); err == nil {
		files, err = controlPlaneFiles(ctx, d, nil)
	} else {
		err = d.OnHosts(ctx, d.Cluster().HostsWithRole(cluster.RoleControlPlane)[:1], func(ctx context.Context, first *host.Host) (err error) {
			files, err = controlPlaneFiles(ctx, d, first)
			return err
		})
	}
	if err != nil {
		return err
	}
	if d.DryRun() {
		for _, h := range hosts {
			if err := d.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
				return joinControlPlaneOne(ctx, d, hh, files, "<token created at join time>", ca.Cert)
			}); err != nil {
				return err
			}
		}
		return nil
	}
	cs, cfg, err := adminClient(d)
	if err != nil {
		return err
	}
	var token string
	for _, h := range hosts {
		if _, err := cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{}); err == nil {
			// Registered: never reset a control plane for a slow answer.
			// Wait for its API server; if it does not come, the operator
			// decides (a reset would take a serving member down).
			if err := waitControlPlane(ctx, d, cs, cfg, h); err != nil {
				return fmt.Errorf("%s is a node but %w; check it there, or take it out with `kubectl kbs reset -f SPEC %s` and join it again", h.Name, err, h.Name)
			}
			d.Log("control-plane-join", h.Name, "already a control plane (node registered, API server ready)")
			continue
		}
		if token == "" {
			if token, err = createJoinToken(ctx, cs, d.Cluster().Metadata.Name); err != nil {
				return err
			}
			defer deleteJoinToken(context.WithoutCancel(ctx), cs, token)
		}
		err := d.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
			if err := joinControlPlaneOne(ctx, d, hh, files, token, ca.Cert); err != nil {
				return err
			}
			return waitControlPlane(ctx, d, cs, cfg, h)
		})
		if err != nil {
			return fmt.Errorf("%w; after fixing the cause run the same command again: it resumes with %s", err, h.Name)
		}
	}
	return nil
}

// isControlPlane says whether h is a node and its API server answers.
func isControlPlane(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, c *cluster.Cluster, h cluster.Host) error {
	if _, err := cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("%s is not a node: %w", h.Name, err)
	}
	return readyzAt(ctx, cfg, net.JoinHostPort(h.Address, strconv.Itoa(apiPort(c))))
}

// readyzAt asks the API server at hostport for /readyz with the admin's
// credentials; its certificate must name hostport's host.
func readyzAt(ctx context.Context, cfg *rest.Config, hostport string) error {
	c := rest.CopyConfig(cfg)
	c.Host = "https://" + hostport
	c.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return fmt.Errorf("the API server at %s is not ready: %w", hostport, err)
	}
	return nil
}

// waitControlPlane waits until the new control plane's API server answers
// directly and the endpoint still does.
func waitControlPlane(ctx context.Context, d InitData, cs kubernetes.Interface, cfg *rest.Config, h cluster.Host) error {
	err := workflow.Retry(ctx, time.Second, cpJoinTimeout, func(ctx context.Context) error {
		if err := isControlPlane(ctx, cs, cfg, d.Cluster(), h); err != nil {
			return err
		}
		return readyzAt(ctx, cfg, d.Cluster().Spec.ControlPlaneEndpoint)
	})
	if err != nil {
		return fmt.Errorf("%w (on %s: crictl ps -a; journalctl -u kubelet)", err, h.Name)
	}
	d.Log("control-plane-join", h.Name, "API server ready at %s and through %s", net.JoinHostPort(h.Address, "6443"), d.Cluster().Spec.ControlPlaneEndpoint)
	return nil
}

// controlPlaneFiles are what every control plane shares, from the state
// directory: the cluster and front-proxy CAs, the service account key and
// the etcd client certificate.
func controlPlaneFiles(ctx context.Context, d InitData, first *host.Host) ([]host.File, error) {
	files, err := kubePKIFiles(d)
	if err != nil {
		return nil, err
	}
	sa, err := serviceAccountFiles(ctx, d, first)
	if err != nil {
		return nil, err
	}
	p, _, err := loadEtcdPKI(d)
	if err != nil {
		return nil, err
	}
	return append(append(files, sa...), etcdClientFiles(p)...), nil
}

// joinControlPlaneOne places the shared files and runs kubeadm join
// --control-plane. A join that stopped half-way (its kubeconfigs or the API
// server's manifest left, the node never registered) is undone with kubeadm
// reset first: kubeadm cannot resume a control-plane join. Kubeconfigs that
// trust another CA are refused untouched.
func joinControlPlaneOne(ctx context.Context, d InitData, h *host.Host, files []host.File, token string, ca *x509.Certificate) error {
	left, err := halfJoined(ctx, h, ca, controlPlaneJoinFiles)
	if err != nil {
		return err
	}
	if _, ok, _ := h.Query(ctx, "test -e "+APIServerManifest); ok {
		left = append(left, APIServerManifest)
	}
	if len(left) > 0 {
		if err := undoHalfJoin(ctx, d, h, "control-plane-join", left); err != nil {
			return err
		}
	}
	if err := h.Exec(ctx, "create directories", "install -d -m 0755 "+host.KubePKIDir+" "+host.KubePKIDir+"/etcd /etc/kbs"); err != nil {
		return err
	}
	for _, f := range files {
		if _, err := h.EnsureFile(ctx, f); err != nil {
			return err
		}
	}
	cfg, err := RenderControlPlaneJoinConfig(d.Cluster(), h.Spec, token, pki.SPKIHash(ca))
	if err != nil {
		return err
	}
	took, err := runKubeadmJoin(ctx, h, cfg, "kubeadm join --control-plane")
	if err == nil && !h.DryRun() {
		d.Log("control-plane-join", h.Spec.Name, "kubeadm join --control-plane done in %s", took)
	}
	return err
}

// deleteNode removes a Node object if it exists.
func deleteNode(ctx context.Context, d InitData, name string) error {
	if d.DryRun() {
		return nil
	}
	cs, _, err := adminClient(d)
	if err != nil {
		return err
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", name, err)
	}
	return nil
}
