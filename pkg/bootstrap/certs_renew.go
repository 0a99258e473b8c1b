package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

// controlPlaneComponents restart after a renewal, in this order: the API
// server first, since the others' kubeconfigs point at it.
var controlPlaneComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// RenewCerts renews the kubeadm PKI on every control-plane host, one host
// at a time: `kubeadm certs renew all` (with an external etcd kubeadm
// leaves the etcd certificates alone: kbs etcd certs rotate owns them),
// then the static pods restarted one component at a time, each waited for,
// and finally admin.conf fetched again and merged into the operator's
// kubeconfig. The CAs are kbs's own and do not change.
func RenewCerts(ctx context.Context, d InitData) error {
	cps := d.Cluster().HostsWithRole(cluster.RoleControlPlane)
	for i, cp := range cps {
		err := d.OnHosts(ctx, []cluster.Host{cp}, func(ctx context.Context, h *host.Host) error {
			if err := renewOn(ctx, d, h); err != nil {
				return err
			}
			if i == 0 {
				return fetchAdmin(ctx, d, h)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("renewing certificates: %w (hosts before it are done; run renew again to continue)", err)
		}
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
