package etcdhost

import (
	"testing"

	"github.com/kubectl-kbs/kbs/internal/goldenfile"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// golden and loadExample are the shared test helpers, by their old names.
func golden(t *testing.T, name string, got []byte) { t.Helper(); goldenfile.Check(t, name, got) }

func loadExample(t *testing.T, name string) *cluster.Cluster {
	t.Helper()
	return goldenfile.Example(t, name)
}

func TestRenderEtcdUnit(t *testing.T) {
	c := loadExample(t, "k8s")
	unit, err := RenderUnit(c, c.HostsWithRole(cluster.RoleEtcd)[0])
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s-etcd.service", unit)
}

func TestRenderEtcdUnitThreeMembers(t *testing.T) {
	c := loadExample(t, "k8s")
	c.Spec.Hosts = append(c.Spec.Hosts,
		cluster.Host{Name: "etcd-1", Role: cluster.RoleEtcd, Address: "10.10.0.11"},
		cluster.Host{Name: "etcd-2", Role: cluster.RoleEtcd, Address: "etcd-2.example.com"})
	unit, err := RenderUnit(c, c.Spec.Hosts[len(c.Spec.Hosts)-1])
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s-3-etcd-2.service", unit)
}

func TestRenderEtcdInitialEnv(t *testing.T) {
	c := loadExample(t, "k8s")
	c.Spec.Hosts = append(c.Spec.Hosts, cluster.Host{Name: "etcd-1", Role: cluster.RoleEtcd, Address: "10.10.0.11"})
	golden(t, "k8s-etcd-initial-new.env", RenderInitialEnv(SpecInitialMembers(c), "new", ClusterToken(c)))
	joining := []InitialMember{{Name: "etcd-0", PeerURL: "https://10.10.0.10:2380"}, {Name: "etcd-1", PeerURL: "https://10.10.0.11:2380"}}
	golden(t, "k8s-etcd-initial-existing.env", RenderInitialEnv(joining, "existing", "kbs-k8s"))
}
