package bootstrap

import (
	"context"
	"fmt"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

func loadEtcdPKI(d InitData) (*etcdhost.PKI, []string, error) {
	return etcdhost.LoadPKI(d.Cluster(), d.State(), nil)
}

func etcdPKIPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "etcd-pki",
		Short: "etcd CA, server and peer certificates per etcd host, API server client certificate (local)",
		Verify: func(_ context.Context, d InitData) error {
			p, err := etcdhost.ReadPKI(d.Cluster(), d.State())
			if err != nil {
				return err
			}
			for _, h := range d.Cluster().HostsWithRole(cluster.RoleEtcd) {
				if p.Server[h.Name] == nil || p.Peer[h.Name] == nil {
					return fmt.Errorf("no certificates for %s in the state directory", h.Name)
				}
			}
			return nil
		},
		Run: func(ctx context.Context, d InitData) error {
			p, issued, err := loadEtcdPKI(d)
			if err != nil {
				return err
			}
			if len(issued) == 0 {
				d.Log("etcd-pki", "", "all certificates present and valid (CA %s)", pki.SPKIHash(p.CA.Cert))
				return nil
			}
			verb := "issued"
			if d.DryRun() {
				verb = "would issue"
			}
			d.Log("etcd-pki", "", "%s %v (CA %s) in %s", verb, issued, pki.SPKIHash(p.CA.Cert), d.State().Dir)
			return nil
		},
	}
}
