package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// controlPlaneComponents restart after a renewal, in this order: the API
// server first, since the others' kubeconfigs point at it.
var controlPlaneComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// RenewCerts renews the kubeadm PKI on every control-plane host, one host
// at a time: `kubeadm certs renew all` (with an external etcd kubeadm
// leaves the etcd certificates alone: kbs etcd certs rotate owns them),
// then the static pods restarted one component at a time, each waited for,
// and finally admin.conf fetched again and merged into the operator's
// kubeconfig. The CAs are kbs's own and do not change. Each control plane
// is a phase of the "certs-renew" operation: an interrupted renewal
// resumes at the host where it stopped.
func RenewCerts(ctx context.Context, d *Init) error {
	var phases []workflow.Phase[InitData]
	for i, cp := range d.Cluster().HostsWithRole(cluster.RoleControlPlane) {
		phases = append(phases, workflow.Phase[InitData]{
			Name:  cp.Name,
			Short: "kubeadm certs renew all, then the control-plane static pods restarted one by one",
			Run: func(ctx context.Context, d InitData) error {
				return d.OnHosts(ctx, []cluster.Host{cp}, func(ctx context.Context, h *host.Host) error {
					if err := renewOn(ctx, d, h); err != nil {
						return err
					}
					if i == 0 {
						return fetchAdmin(ctx, d, h)
					}
					return nil
				})
			},
		})
	}
	if err := host.RunOperation(ctx, d.Session, InitData(d), "certs-renew", phases...); err != nil {
		return fmt.Errorf("renewing certificates: %w (run renew again to continue from that host)", err)
	}
	return nil
}

func renewOn(ctx context.Context, d InitData, h *host.Host) error {
	start := time.Now()
	if err := runKubeadm(ctx, h, "renew the kubeadm certificates", "certs renew all", "/var/log/kbs-certs-renew.log"); err != nil {
		return err
	}
	d.Log("certs", h.Spec.Name, "kubeadm certs renew all done in %s", time.Since(start).Round(100*time.Millisecond))
	for _, c := range controlPlaneComponents {
		if err := host.RestartStaticPod(ctx, d.State().AdminKubeconfig(), h, c); err != nil {
			return err
		}
		d.Log("certs", h.Spec.Name, "%s restarted with its renewed certificates", c)
	}
	return nil
}
