package bootstrap

import (
	"context"
	"fmt"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// etcdClientFiles are the etcd CA and the API server's client pair as the
// control planes hold them.
func etcdClientFiles(p *etcdhost.PKI) []host.File {
	return []host.File{
		{Path: host.KubeEtcdCA, Data: p.CA.CertPEM, Mode: 0o644, Summary: etcdhost.CertSummary(p.CA.CertPEM, false)},
		{Path: host.KubeEtcdClientCert, Data: p.Client.CertPEM, Mode: 0o644, Summary: etcdhost.CertSummary(p.Client.CertPEM, false)},
		{Path: host.KubeEtcdClientKey, Data: p.Client.KeyPEM, Mode: 0o600, Secret: true},
	}
}

// hostsHold checks that every host holds exactly these files.
func hostsHold(ctx context.Context, d InitData, hosts []cluster.Host, files []host.File) error {
	return d.OnHosts(ctx, hosts, func(ctx context.Context, h *host.Host) error {
		for _, f := range files {
			if !h.HasFile(ctx, f) {
				return fmt.Errorf("%s is not as kbs wrote it", f.Path)
			}
		}
		return nil
	})
}

func etcdClientCertsPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "etcd-client-certs",
		Short: "copy the etcd CA and the API server's etcd client certificate to the control-plane hosts",
		Verify: func(ctx context.Context, d InitData) error {
			p, err := etcdhost.ReadPKI(d.Cluster(), d.State())
			if err != nil {
				return err
			}
			return hostsHold(ctx, d, d.Cluster().HostsWithRole(cluster.RoleControlPlane), etcdClientFiles(p))
		},
		Run: func(ctx context.Context, d InitData) error {
			p, _, err := loadEtcdPKI(d)
			if err != nil {
				return err
			}
			files := etcdClientFiles(p)
			return d.OnHosts(ctx, d.Cluster().HostsWithRole(cluster.RoleControlPlane), func(ctx context.Context, h *host.Host) error {
				for _, f := range files {
					changed, err := h.EnsureFile(ctx, f)
					if err != nil {
						return err
					}
					if changed && !h.DryRun() {
						d.Log("etcd-client-certs", h.Spec.Name, "wrote %s", f.Path)
					}
				}
				return nil
			})
		},
	}
}

func kubeadmConfigPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "kubeadm-config",
		Short: "write the kubeadm v1beta4 configuration (external etcd) to the first control-plane host and validate it there with kubeadm",
		Verify: func(ctx context.Context, d InitData) error {
			cfg, err := RenderKubeadmConfig(d.Cluster())
			if err != nil {
				return err
			}
			return hostsHold(ctx, d, d.Cluster().HostsWithRole(cluster.RoleControlPlane)[:1], []host.File{{Path: KubeadmConfigPath, Data: cfg, Mode: 0o600}})
		},
		Run: func(ctx context.Context, d InitData) error {
			cfg, err := RenderKubeadmConfig(d.Cluster())
			if err != nil {
				return err
			}
			first := d.Cluster().HostsWithRole(cluster.RoleControlPlane)[:1]
			return d.OnHosts(ctx, first, func(ctx context.Context, h *host.Host) error {
				if _, err := h.EnsureFile(ctx, host.File{Path: KubeadmConfigPath, Data: cfg, Mode: 0o600}); err != nil {
					return err
				}
				if _, ok, _ := h.Query(ctx, "command -v kubeadm"); !ok && !h.DryRun() {
					return fmt.Errorf("kubeadm is not installed on %s: install kubeadm %s there first", h.Spec.Name, d.Cluster().Spec.KubernetesVersion)
				}
				if err := h.Exec(ctx, "validate the kubeadm configuration", "kubeadm config validate --config "+KubeadmConfigPath); err != nil {
					return err
				}
				if !h.DryRun() {
					d.Log("kubeadm-config", h.Spec.Name, "%s accepted by kubeadm config validate", KubeadmConfigPath)
				}
				return nil
			})
		},
	}
}

// InitWorkflow is `kubectl kbs init`: its phases, checked as they are built.
func InitWorkflow() *workflow.Runner[InitData] { return workflow.Must(InitPhases()...) }

// InitPhases are the phases of `kubectl kbs init`, in order.
func InitPhases() []workflow.Phase[InitData] {
	return []workflow.Phase[InitData]{
		preflightPhase(),
		etcdPKIPhase(),
		runtimePhase(),
		runtimeWorkersPhase(),
		// In the background from here: it needs neither the runtime nor etcd.
		loadBalancerPhase(),
		etcdPhase(),
		etcdClientCertsPhase(),
		kubeadmConfigPhase(),
		controlPlanePhase(),
		// The other control planes join in the background, one after the
		// other, while the pod network rolls out and the workers join
		// through the endpoint the first control plane serves already.
		controlPlaneJoinPhase(),
		cniPhase(),
		joinPhase(),
		waitReadyPhase(),
	}
}
